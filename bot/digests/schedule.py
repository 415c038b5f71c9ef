"""When digests go out: APScheduler cron triggers in each digest's own time zone, and the period each
scheduled time closes.

A digest scheduled daily at 09:00 Europe/Berlin fires at 09:00 local time whatever the season (08:00 UTC
in winter, 07:00 UTC in summer). Its *period* is the time between two scheduled times: the digest sent
at a scheduled time lists the articles published since the one before. A period's digest may still go
out late (after a restart, a hub outage) until the next scheduled time; after that it is missed, and
the next digest covers the newer period.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from apscheduler.triggers.cron import CronTrigger

from bot.core.errors import UserError

SCHEDULES = ("daily", "weekly")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PERIOD = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
#: time zones offered first when nothing is typed yet
COMMON_TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Moscow", "America/New_York",
                    "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo",
                    "Asia/Shanghai", "Asia/Seoul", "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney")


@functools.cache
def _zone_names() -> dict[str, str]:
    """Every IANA time zone this system knows, by lower-case name."""
    names = set(available_timezones()) | {"UTC"}
    return {n.lower(): n for n in sorted(names)}


def timezone_name(text: str) -> str:
    """What a member typed -> the IANA name (case-insensitive). ``UserError`` if it is not one."""
    wanted = (text or "").strip()
    name = _zone_names().get(wanted.lower())
    if name is None:
        raise UserError(f"“{wanted[:60]}” is not a time zone. Use an IANA name such as Europe/Berlin, "
                        "America/New_York or UTC (the list suggests them as you type).")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"The time zone {name} is not available on this system.") from None
    return name


def timezone_choices(text: str, default: str, limit: int = 25) -> list[str]:
    """Time zones for autocomplete: containing what was typed (those starting with it, or with it after
    the region, first); the default and common ones when nothing is typed."""
    needle = (text or "").strip().lower().replace(" ", "_")
    if not needle:
        return list(dict.fromkeys([default, *COMMON_TIMEZONES]))[:limit]
    first, second, rest = [], [], []
    for low, name in _zone_names().items():
        if needle not in low:
            continue
        if low.startswith(needle):
            first.append(name)
        elif low.rpartition("/")[2].startswith(needle):
            second.append(name)
        else:
            rest.append(name)
    return (first + second + rest)[:limit]


def trigger_for(schedule: str, day: int | None, hour: int, timezone: str) -> CronTrigger:
    """The cron trigger of a digest: at ``hour``:00 in ``timezone``, every day or on ``day`` (0 =
    Monday) every week."""
    zone = ZoneInfo(timezone)
    if schedule == "weekly":
        return CronTrigger(day_of_week=_CRON_DAYS[day or 0], hour=hour, minute=0, second=0, timezone=zone)
    return CronTrigger(hour=hour, minute=0, second=0, timezone=zone)


@dataclass(frozen=True, slots=True)
class Window:
    """One period of a digest, in UTC: articles published in [start, end) are its content; it is due at
    ``end`` (a scheduled time) and may go out until ``next`` (the next one)."""

    start: datetime
    end: datetime
    next: datetime

    def label(self, timezone: str) -> str:
        """The period in the digest's time zone, e.g. ``14 Jan 09:00 – 15 Jan 09:00 (Europe/Berlin)``."""
        zone = ZoneInfo(timezone)
        start, end = self.start.astimezone(zone), self.end.astimezone(zone)
        first = f"{start.day} {start:%b %H:%M}" if start.year == end.year else f"{start.day} {start:%b %Y %H:%M}"
        return f"{first} – {end.day} {end:%b %Y %H:%M} ({timezone})"


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first scheduled time strictly after ``after`` (UTC)."""
    fire = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
    return fire.astimezone(UTC) if fire is not None else None


def window_at(trigger: CronTrigger, schedule: str, now: datetime) -> Window:
    """The period whose scheduled time is the latest at or before ``now``."""
    lookback = 2 * PERIOD[schedule] + timedelta(days=1)  # two scheduled times, whatever DST did
    fire = trigger.get_next_fire_time(None, now - lookback)
    previous: datetime | None = None
    last: datetime | None = None
    while fire is not None and fire <= now:
        previous, last = last, fire.astimezone(UTC)
        fire = next_fire(trigger, fire)
    if last is None or previous is None or fire is None:  # pragma: no cover - cron fires every day or week
        raise ValueError("the trigger does not fire within its period")
    return Window(previous, last, fire.astimezone(UTC))


def describe(schedule: str, day: int | None, hour: int, timezone: str) -> str:
    """``daily at 09:00 Europe/Berlin`` / ``weekly on Monday at 18:00 UTC``."""
    when = "daily" if schedule == "daily" else f"weekly on {DAYS[day or 0]}"
    return f"{when} at {hour:02d}:00 {timezone}"
