"""When digests go out: cron triggers in each digest's own time zone, and the period each scheduled
time closes (issue 11). Driven with a controllable clock: the ``now`` APScheduler asks the trigger with.

Expected times come from the zones' rules, not from the code: Europe/Berlin is UTC+1 (CET) in winter
and UTC+2 (CEST) in summer, switching on the last Sundays of March and October at 01:00 UTC (in 2025:
30 March and 26 October); America/New_York is UTC-5 (EST) and UTC-4 (EDT), switching on the second
Sunday of March and the first of November (9 March and 2 November 2025).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.errors import UserError
from bot.digests import timezone_choices, trigger_for, window_at
from bot.digests.schedule import timezone_name


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fire_times(trigger: object, now: datetime, count: int) -> list[datetime]:
    """The next ``count`` fire times as APScheduler's scheduler walks them: each asked with the
    previous fire time and the clock at that time."""
    out: list[datetime] = []
    previous = None
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)  # type: ignore[attr-defined]
        out.append(fire.astimezone(UTC))
        previous = now = fire
    return out


def test_daily_at_nine_in_berlin_fires_at_eight_utc_in_winter_and_seven_in_summer() -> None:
    trigger = trigger_for("daily", None, 9, "Europe/Berlin")
    assert fire_times(trigger, utc(2025, 1, 15, 0, 0), 1) == [utc(2025, 1, 15, 8, 0)]
    assert fire_times(trigger, utc(2025, 7, 15, 0, 0), 1) == [utc(2025, 7, 15, 7, 0)]
    # across the change to summer time (Sunday 30 March 2025) and back (Sunday 26 October 2025)
    assert fire_times(trigger, utc(2025, 3, 28, 0, 0), 4) == [
        utc(2025, 3, 28, 8, 0), utc(2025, 3, 29, 8, 0), utc(2025, 3, 30, 7, 0), utc(2025, 3, 31, 7, 0)]
    assert fire_times(trigger, utc(2025, 10, 24, 0, 0), 4) == [
        utc(2025, 10, 24, 7, 0), utc(2025, 10, 25, 7, 0), utc(2025, 10, 26, 8, 0), utc(2025, 10, 27, 8, 0)]
    # a clock already past today's time gives tomorrow's
    assert fire_times(trigger, utc(2025, 3, 29, 8, 0, 1), 1) == [utc(2025, 3, 30, 7, 0)]


def test_weekly_fires_on_its_day_at_its_local_hour() -> None:
    trigger = trigger_for("weekly", 0, 18, "America/New_York")  # Mondays, 18:00 in New York
    assert fire_times(trigger, utc(2025, 3, 1, 0, 0), 3) == [
        utc(2025, 3, 3, 23, 0), utc(2025, 3, 10, 22, 0), utc(2025, 3, 17, 22, 0)]  # EDT from 9 March


def test_the_period_a_scheduled_time_closes_spans_the_dst_change() -> None:
    trigger = trigger_for("daily", None, 9, "Europe/Berlin")
    window = window_at(trigger, "daily", utc(2025, 3, 30, 12, 0))
    # the digest of Sunday 30 March lists what was published since Saturday's: 23 hours
    assert (window.start, window.end, window.next) == (utc(2025, 3, 29, 8, 0), utc(2025, 3, 30, 7, 0),
                                                       utc(2025, 3, 31, 7, 0))
    assert window.label("Europe/Berlin") == "29 Mar 09:00 – 30 Mar 2025 09:00 (Europe/Berlin)"
    # just before Sunday's time, Saturday's period is still the latest
    assert window_at(trigger, "daily", utc(2025, 3, 30, 6, 59)).end == utc(2025, 3, 29, 8, 0)
    weekly = window_at(trigger_for("weekly", 6, 9, "Europe/Berlin"), "weekly", utc(2025, 3, 30, 7, 0))
    assert (weekly.start, weekly.end) == (utc(2025, 3, 23, 8, 0), utc(2025, 3, 30, 7, 0))


def test_time_zones_are_iana_names_suggested_as_you_type() -> None:
    assert timezone_name("europe/berlin") == "Europe/Berlin" and timezone_name(" UTC ") == "UTC"
    for bad in ("Mars/Olympus", "CEST+2", "", "../etc/passwd"):
        with pytest.raises(UserError, match="not a time zone"):
            timezone_name(bad)
    assert timezone_choices("berl", "UTC")[0] == "Europe/Berlin"
    assert "America/New_York" in timezone_choices("new_y", "UTC")
    assert "America/New_York" in timezone_choices("New Y", "UTC")  # as people type it
    assert timezone_choices("", "Asia/Tokyo")[0] == "Asia/Tokyo"  # the default first
    assert all(len(timezone_choices(c, "UTC")) <= 25 for c in ("", "a", "America"))  # Discord's limit
