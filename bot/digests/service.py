"""Article digests: subscriptions, their schedules, and exactly-once delivery of each period.

Scheduling: every digest has an APScheduler cron job in its own time zone (``bot.digests.schedule``),
rebuilt from SQLite at start. A job, a retry and the start-up catch-up all do the same thing: ask
``run_due``, which works out from the clock which period is due now and sends it unless it is on
record. So a digest whose time passed while the bot was down goes out once the bot is back, if its
period has not ended yet (the next scheduled time), and a restart never sends one twice.

Delivery follows the feeds' outbox discipline: a period is recorded as *planned* with a fixed nonce,
marked as attempted (committed) before it is sent, and *sent* with its message id after. After a crash
between the two, the digest is looked for in the channel before anything is sent again (within
Discord's nonce window a resend returns the original message anyway). A period with no articles is
recorded as *empty* and sends nothing.

Politeness and failures: article requests go through the hub client's articles rate gate; a 429 or an
outage defers the digest (retried when the hub said, or with a backoff) until its period ends; then the
period is recorded as *missed* and the server's log channel is told. A channel that refuses the bot
makes the digest *failing* (retried with a backoff) and, after ``max_failures`` refusals in a row,
*disabled*, and the log channel (or the member who added it) is told, as for feeds.

No discord.py here: the Discord side is a ``DigestPoster`` (``bot.ui.digest_poster``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger

from bot.core.delivery import DeliveryBroken, DeliveryDeferred, DeliveryRefused, backoff
from bot.core.errors import UserError
from bot.core.rating import ChannelPolicy, Rating
from bot.digests.articles import ArticleEntry, ArticleService, allowed_here, engagement_order, has_tag
from bot.digests.schedule import (
    PERIOD,
    SCHEDULES,
    Window,
    describe,
    next_fire,
    timezone_name,
    trigger_for,
    window_at,
)
from bot.hub.errors import HubError, HubRateLimited
from bot.media.previews import Preview
from bot.policy.settings import GuildSettingsService
from bot.store.articles import iso_utc
from bot.store.digests import DigestRow, DigestRun, DigestStore

log = logging.getLogger(__name__)

MAX_DIGESTS_PER_GUILD = 10
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 3, 10, 5
MAX_TAGS = 5
DEFAULT_HOUR = 9
REFUSAL_BACKOFF = 300.0  # a refusing channel is tried again after 5 min, 10, 20 ... (as feeds, doubling)
REFUSAL_BACKOFF_CAP = 6 * 3600.0
HUB_BACKOFF = 60.0  # an outage that said nothing about how long: 1 min, 2, 4 ... at most 30 min
HUB_BACKOFF_CAP = 1800.0
RETRY_MARGIN = 1.0  # seconds after the hub's window before trying again
RECOVERY_SLACK = 120.0  # look for a crashed send from this long before its attempt
JOB_PREFIX = "digest-"


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What the Discord side knows about a digest's channel when it is about to post."""

    age_restricted: bool
    can_attach: bool


@dataclass(frozen=True, slots=True)
class DigestContent:
    """One digest, ready to render: its period and its articles, best first, with one cover collage."""

    digest: DigestRow
    window: Window
    entries: tuple[ArticleEntry, ...]
    preview: Preview | None
    period_label: str


class DigestPoster(Protocol):
    """The Discord side of digest delivery (``bot.ui.digest_poster.DigestPoster``)."""

    async def facts(self, digest: DigestRow) -> ChannelFacts: ...

    async def post(self, digest: DigestRow, content: DigestContent, nonce: str) -> int: ...

    async def find_existing(self, digest: DigestRow, run: DigestRun, since: float) -> int | None: ...

    async def notify(self, digest: DigestRow, text: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What ``run_due`` did: ``sent``, ``recovered`` (it was in the channel already), ``empty``,
    ``deferred``, ``failing``, ``disabled``, ``dropped``, or nothing to do (``idle``, ``done``, ``gone``,
    ``stopping``). ``retry_in``: seconds until the period is worth another try (None: not in this period)."""

    state: str
    retry_in: float | None = None


def stricter(a: ChannelPolicy, b: ChannelPolicy) -> ChannelPolicy:
    """What may be shown where both policies apply (a preview of one channel's digest in another)."""
    if a.age_restricted and b.age_restricted:
        return a
    if a.age_restricted or b.age_restricted:
        return b if a.age_restricted else a
    return a if int(a.max_rating) <= int(b.max_rating) else b


def parse_tags(text: str | None) -> tuple[str, ...]:
    """``"guide, LoRA,guide"`` -> ``("guide", "lora")``: lower case, no repeats, at most ``MAX_TAGS``."""
    tags = tuple(dict.fromkeys(t.strip().lower() for t in (text or "").split(",") if t.strip()))
    if len(tags) > MAX_TAGS:
        raise UserError(f"At most {MAX_TAGS} tags per digest.")
    if any(len(t) > 60 for t in tags):
        raise UserError("That is not a tag name (too long).")
    return tags


class DigestService:
    def __init__(self, store: DigestStore, articles: ArticleService, guild_settings: GuildSettingsService,
                 scheduler: BaseScheduler, *, default_timezone: str, max_failures: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.articles = articles
        self.guild_settings = guild_settings
        self.scheduler = scheduler
        self.default_timezone = default_timezone
        self.max_failures = max_failures
        self.clock = clock
        #: set when the bot shuts down: runs finish the step they are in and start nothing new
        self.stopping = asyncio.Event()
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._job: Callable[[int], Awaitable[None]] | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # ------------------------------------------------------------------ digests

    async def add(self, *, guild_id: int, channel_id: int, created_by: int, schedule: str = "daily",
                  day: int | None = None, hour: int = DEFAULT_HOUR, timezone: str | None = None,
                  tags: Sequence[str] = (), size: int = DEFAULT_SIZE) -> DigestRow:
        """A new digest; its first period ends at its first scheduled time from now."""
        if schedule not in SCHEDULES:
            raise UserError("The schedule is daily or weekly.")
        if schedule == "daily" and day is not None:
            raise UserError("A daily digest has no day: leave day out, or choose the weekly schedule.")
        if day is not None and not 0 <= day <= 6:
            raise UserError("The day is one of Monday to Sunday.")
        if not 0 <= hour <= 23:
            raise UserError("The hour is 0 to 23 (the digest goes out at the full hour).")
        if not MIN_SIZE <= size <= MAX_SIZE:
            raise UserError(f"A digest lists {MIN_SIZE} to {MAX_SIZE} articles.")
        zone = timezone_name(timezone or self.default_timezone)
        if await self.store.count_for_guild(guild_id) >= MAX_DIGESTS_PER_GUILD:
            raise UserError(f"This server has {MAX_DIGESTS_PER_GUILD} digests already; remove one first.")
        digest_id = await self.store.add(
            guild_id=guild_id, channel_id=channel_id, created_by=created_by, schedule=schedule,
            day=(day or 0) if schedule == "weekly" else None, hour=hour, timezone=zone, tags=list(tags), size=size,
            started_at=iso_utc(self.now()))
        digest = await self.store.get(digest_id)
        assert digest is not None
        self.schedule(digest)
        return digest

    async def get(self, guild_id: int, digest_id: int) -> DigestRow:
        digest = await self.store.get(digest_id, guild_id=guild_id)
        if digest is None:
            raise UserError(f"This server has no digest #{digest_id}. See /digest list.")
        return digest

    async def for_guild(self, guild_id: int) -> list[DigestRow]:
        return await self.store.for_guild(guild_id)

    async def listing(self, guild_id: int) -> list[tuple[DigestRow, DigestRun | None, DigestRun | None, datetime]]:
        """This server's digests, each with its latest period on record, its latest sent one, and its
        next scheduled time."""
        digests = await self.store.for_guild(guild_id)
        ids = [d.id for d in digests]
        last, sent = await self.store.latest_runs(ids), await self.store.latest_runs(ids, sent=True)
        return [(d, last.get(d.id), sent.get(d.id), self.next_time(d)) for d in digests]

    async def remove(self, digest: DigestRow) -> None:
        async with self._lock(digest.id):
            await self.store.remove(digest.id)
            self.unschedule(digest.id)

    def describe(self, digest: DigestRow) -> str:
        text = describe(digest.schedule, digest.day, digest.hour, digest.timezone)
        text += f", top {digest.size}"
        if digest.tags:
            text += " tagged " + ", ".join(digest.tags)
        return text

    async def channel_policy(self, digest: DigestRow, *, age_restricted: bool) -> ChannelPolicy:
        """A digest shows what its channel may: up to XXX where age-restricted, else up to the server's
        ``max_rating`` (read at send time: a lowered rating applies at once)."""
        if age_restricted:
            return ChannelPolicy(digest.guild_id, age_restricted=True, max_rating=Rating.XXX)
        policy = await self.guild_settings.get(digest.guild_id)
        return ChannelPolicy(digest.guild_id, age_restricted=False, max_rating=policy.max_rating)

    # ------------------------------------------------------------------ schedules

    async def start(self, job: Callable[[int], Awaitable[None]]) -> int:
        """(Re)build every digest's cron job from SQLite; ``job(digest_id)`` is what a job runs (the bot
        wraps ``run_due`` in its bookkeeping of running jobs). Returns how many were scheduled."""
        self._job = job
        digests = await self.store.all()
        for digest in digests:
            self.schedule(digest)
        return len(digests)

    def stop(self) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                job.remove()
        self._job = None

    def job_id(self, digest_id: int) -> str:
        return f"{JOB_PREFIX}{digest_id}"

    def schedule(self, digest: DigestRow) -> None:
        if self._job is None:
            return
        self.scheduler.add_job(
            self._job, trigger_for(digest.schedule, digest.day, digest.hour, digest.timezone), args=[digest.id],
            id=self.job_id(digest.id), name=f"digest #{digest.id}", replace_existing=True,
            misfire_grace_time=3600, coalesce=True)

    def unschedule(self, digest_id: int) -> None:
        for job_id in (self.job_id(digest_id), self.job_id(digest_id) + "-retry"):
            if self.scheduler.get_job(job_id):
                self.scheduler.remove_job(job_id)

    def retry_later(self, digest_id: int, delay: float) -> None:
        """One more try of this digest's period in ``delay`` seconds (real time: the hub's and
        Discord's windows run on it)."""
        if self._job is None or self.stopping.is_set():
            return
        when = datetime.now(UTC) + timedelta(seconds=max(0.0, delay))
        self.scheduler.add_job(self._job, DateTrigger(when), args=[digest_id], id=self.job_id(digest_id) + "-retry",
                               name=f"digest #{digest_id} retry", replace_existing=True, misfire_grace_time=3600)

    def next_time(self, digest: DigestRow) -> datetime:
        trigger = trigger_for(digest.schedule, digest.day, digest.hour, digest.timezone)
        fire = next_fire(trigger, self.now())
        assert fire is not None
        return fire

    # ------------------------------------------------------------------ running

    def _lock(self, digest_id: int) -> asyncio.Lock:
        lock = self._locks.get(digest_id)
        if lock is None:
            lock = self._locks[digest_id] = asyncio.Lock()
        return lock

    async def run_all_due(self, poster: DigestPoster) -> list[RunOutcome]:
        """Every digest's due period (at start: what came due while the bot was down)."""
        outcomes = []
        for digest in await self.store.all():
            if self.stopping.is_set():
                break
            outcomes.append(await self.run_due(digest.id, poster))
        return outcomes

    async def run_due(self, digest_id: int, poster: DigestPoster) -> RunOutcome:
        """Send this digest's due period unless it is on record; settle earlier periods whose time ran
        out. One run per digest at a time. Never raises for the hub's or Discord's failures."""
        async with self._lock(digest_id):
            try:
                outcome = await self._run_due(digest_id, poster)
            except Exception:
                log.exception("digests: digest #%d crashed; it is tried again at its next time", digest_id)
                return RunOutcome("crashed")
        if outcome.retry_in is not None:
            self.retry_later(digest_id, outcome.retry_in)
        return outcome

    async def _run_due(self, digest_id: int, poster: DigestPoster) -> RunOutcome:
        digest = await self.store.get(digest_id)
        if digest is None:
            return RunOutcome("gone")
        window = window_at(trigger_for(digest.schedule, digest.day, digest.hour, digest.timezone), digest.schedule,
                           self.now())
        for run in await self.store.open_runs(digest.id):
            if run.period_end < window.end:
                await self._expire(poster, digest, run)
        if digest.state == "disabled":
            return RunOutcome("disabled")
        if window.end <= digest.started_at:
            return RunOutcome("idle")  # added after this period's time: its first period is still running
        if self.stopping.is_set():
            return RunOutcome("stopping")
        run = await self.store.plan_run(digest, iso_utc(window.start), iso_utc(window.end))
        if run.state != "planned":
            return RunOutcome("done")
        if digest.state == "failing" and digest.retry_at is not None and digest.retry_at > self.clock():
            return RunOutcome("failing", self._within(window, digest.retry_at - self.clock()))
        return await self._deliver(poster, digest, run, window)

    def _within(self, window: Window, delay: float) -> float | None:
        """``delay``, if another try then still falls within the period (else the next scheduled time
        settles it)."""
        return delay if self.clock() + delay < window.next.timestamp() else None

    async def _deliver(self, poster: DigestPoster, digest: DigestRow, run: DigestRun, window: Window) -> RunOutcome:
        entries: tuple[ArticleEntry, ...] = ()
        try:
            if run.attempts:
                existing = await poster.find_existing(digest, run, (run.attempted_at or 0.0) - RECOVERY_SLACK)
                if existing is not None:
                    await self.store.mark_sent(run.id, existing, None)
                    await self.store.record_success(digest.id)
                    log.info("digests: digest #%d for %s was already in the channel; not sent again", digest.id,
                             iso_utc(window.end))
                    return RunOutcome("recovered")
            facts = await poster.facts(digest)
            policy = await self.channel_policy(digest, age_restricted=facts.age_restricted)
            content = await self.content(digest, window, policy, with_preview=facts.can_attach)
            entries = content.entries
            if not entries:
                await self.store.settle(run.id, "empty")
                await self.store.record_success(digest.id)
                log.info("digests: digest #%d has no articles for %s; nothing sent", digest.id, iso_utc(window.end))
                return RunOutcome("empty")
            if self.stopping.is_set() or not await self.store.mark_attempt(run.id):
                return RunOutcome("stopping")
            message_id = await poster.post(digest, content, run.nonce)
        except HubRateLimited as exc:
            return await self._deferred(digest, run, window, str(exc), exc.retry_after)
        except HubError as exc:
            return await self._deferred(digest, run, window, str(exc), None)
        except DeliveryRefused as exc:
            return await self._refused(poster, digest, window, exc.reason)
        except DeliveryBroken as exc:
            log.error("digests: Discord rejected digest #%d for %s: %s", digest.id, iso_utc(window.end), exc)
            await self.store.settle(run.id, "dropped", error=f"Discord rejected the message: {exc}")
            return RunOutcome("dropped")
        except DeliveryDeferred as exc:
            return await self._deferred(digest, run, window, f"Discord: {exc}", exc.retry_after)
        await self.store.mark_sent(run.id, message_id, [e.article.id for e in entries])
        await self.store.record_success(digest.id)
        log.info("digests: sent digest #%d for %s (%d articles)", digest.id, iso_utc(window.end), len(entries))
        return RunOutcome("sent")

    async def _deferred(self, digest: DigestRow, run: DigestRun, window: Window, error: str,
                        retry_after: float | None) -> RunOutcome:
        """Not now (the hub or Discord asked to wait, or failed): again when they said, else after a
        growing backoff, as long as the period lasts."""
        count = await self.store.defer(run.id, error)
        gate = self.articles.paused_for()
        told = max(retry_after or 0.0, gate)
        delay = told + RETRY_MARGIN if told > 0 else backoff(count, base=HUB_BACKOFF, cap=HUB_BACKOFF_CAP)
        retry_in = self._within(window, delay)
        log.warning("digests: digest #%d for %s deferred (%d): %s; %s", digest.id, iso_utc(window.end), count, error,
                    f"next try in {delay:.0f} s" if retry_in is not None else "no time left in its period")
        return RunOutcome("deferred", retry_in)

    async def _refused(self, poster: DigestPoster, digest: DigestRow, window: Window, reason: str) -> RunOutcome:
        """The channel refused the bot (gone, permissions): failing with a backoff, disabled after
        ``max_failures`` in a row, and people told, as for feeds."""
        failures = digest.failures + 1
        if failures >= self.max_failures:
            await self.store.record_failure(digest.id, error=reason, state="disabled", retry_at=None)
            log.warning("digests: digest #%d disabled after %d failures: %s", digest.id, failures, reason)
            await self._tell(poster, digest, (
                f"Digest #{digest.id} (posting to <#{digest.channel_id}>) was **disabled** after {failures} failed "
                f"attempts: {reason} Fix that, then remove it with `/digest remove {digest.id}` and add it again."))
            return RunOutcome("disabled")
        delay = backoff(failures, base=REFUSAL_BACKOFF, cap=REFUSAL_BACKOFF_CAP)
        await self.store.record_failure(digest.id, error=reason, state="failing", retry_at=self.clock() + delay)
        log.info("digests: digest #%d failing (%d/%d), next try in %.0f s: %s", digest.id, failures,
                 self.max_failures, delay, reason)
        return RunOutcome("failing", self._within(window, delay))

    async def _expire(self, poster: DigestPoster, digest: DigestRow, run: DigestRun) -> None:
        """A period still owed whose time is up (the next one is due): it is not sent any more. One
        whose send was attempted is looked for in the channel first (it may have arrived)."""
        if run.attempts:
            try:
                existing = await poster.find_existing(digest, run, (run.attempted_at or 0.0) - RECOVERY_SLACK)
            except DeliveryDeferred:
                return  # could not look now: at the next run
            except DeliveryRefused:
                existing = None
            if existing is not None:
                await self.store.mark_sent(run.id, existing, None)
                return
        await self.store.settle(run.id, "missed")
        window = Window(run.period_start, run.period_end, run.period_end)
        reason = run.last_error or "the bot was not running or could not send it"
        log.warning("digests: digest #%d for %s missed: %s", digest.id, iso_utc(run.period_end), reason)
        if digest.state != "disabled":
            await self._tell(poster, digest, (
                f"Digest #{digest.id} (posting to <#{digest.channel_id}>) for {window.label(digest.timezone)} was "
                f"not sent before its period ended: {reason.rstrip('.')}. The next one covers the next period."))

    async def _tell(self, poster: DigestPoster, digest: DigestRow, text: str) -> None:
        try:
            await poster.notify(digest, text)
        except Exception:  # telling people must not break delivery
            log.exception("digests: could not report on digest #%d", digest.id)

    # ------------------------------------------------------------------ content

    async def content(self, digest: DigestRow, window: Window, policy: ChannelPolicy, *,
                      with_preview: bool = True) -> DigestContent:
        """The period's top articles by engagement that this channel may show (and that carry one of
        the digest's tags), with their excerpts' HTML and one cover collage. Raises the hub's errors."""
        articles = await self.articles.period(window.start, window.end, nsfw=self.articles.wants_nsfw(policy))
        ranked = engagement_order(a for a in articles if allowed_here(a, policy) and has_tag(a, digest.tags))
        entries = tuple(await self.articles.entries(ranked, policy, digest.size))
        preview = await self.articles.collage(entries) if entries and with_preview else None
        return DigestContent(digest, window, entries, preview, window.label(digest.timezone))

    async def preview(self, digest: DigestRow, policy: ChannelPolicy, *, with_preview: bool = True) -> DigestContent:
        """The digest as it would look for the period ending now (nothing recorded)."""
        now = self.now()
        window = Window(now - PERIOD[digest.schedule], now, now)
        return await self.content(digest, window, policy, with_preview=with_preview)
