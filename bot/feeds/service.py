"""New-release feeds: coalesced polling, local matching, and exactly-once delivery through an outbox.

Polling: every subscription's filter is split into the part the hub can apply (Newest, types, base
models, one tag, one creator, the search text) and the rest, applied here. Subscriptions whose hub
part is equal share one hub query, asked once per poll. Each query is paged (newest first) until it
reaches dates already seen minus an overlap margin, because the hub orders by a model's *latest*
version and its cursors can skip items; what was seen is never trusted to be complete, but what was
delivered is recorded, so overlap costs nothing but a request.

Delivery: matches are written to the ``deliveries`` outbox as *planned* in one transaction (a unique
key per subscription and version; a channel never gets one version twice). A post is then marked as
attempted (committed) before it is sent with a nonce, and marked *sent* with its message id after.
After a crash between the two, the attempted post is looked for in the channel before anything is
sent again; within Discord's nonce window a resend returns the original message anyway. So a kill -9
at any moment neither loses nor duplicates a post.

No discord.py here: the Discord side is a ``Poster`` (``bot.ui.feed_poster``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.core.delivery import backoff
from bot.core.errors import UserError
from bot.core.rating import ChannelPolicy, Rating, allowed_mask, has_content_within
from bot.feeds.delivery import (
    DeliveryBroken,
    DeliveryDeferred,
    DeliveryRefused,
    DeliveryReport,
    PollReport,
    Poster,
)
from bot.feeds.filters import FeedFilter, filter_of, iso, version_kind
from bot.hub.client import HubClient, ModelQuery
from bot.hub.errors import HubError, HubRateLimited, HubUnavailable
from bot.hub.models import Model, ModelVersion
from bot.policy.settings import GuildSettingsService
from bot.store import Store
from bot.store.feeds import Delivery, FeedStore, PlannedRow, QueryState, SubscriptionRow

log = logging.getLogger(__name__)
T = TypeVar("T")

OVERLAP = timedelta(hours=1)
MAX_PAGES = 10  # per query per poll; a longer read continues at the next poll
KEEP_PLANNING = 30 * 86400.0  # a paused or disabled feed keeps collecting what it would post, for 30 days
PAGE_SIZE = 100
MAX_FEEDS_PER_GUILD = 25
BACKOFF_CAP = 6 * 3600.0
RATE_LIMIT_RETRIES = 3  # Discord 429s in a row (across feeds) that end a delivery round
MAX_INLINE_WAIT = 10.0  # a pause Discord asked for is waited out within the round when at most this long ...
ROUND_WAIT_BUDGET = 20.0  # ... and while the round has waited less than this in all (the feed lock is held)


class FeedService:
    def __init__(self, hub: HubClient, store: Store, feeds: FeedStore, guild_settings: GuildSettingsService, *,
                 poll_interval: float, max_posts_per_poll: int, max_failures: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.store = store
        self.feeds = feeds
        self.guild_settings = guild_settings
        self.poll_interval = poll_interval
        self.max_posts_per_poll = max_posts_per_poll
        self.max_failures = max_failures
        self.clock = clock
        self.page_size = PAGE_SIZE
        self.max_pages = MAX_PAGES
        self.overlap = OVERLAP
        self._lock = asyncio.Lock()
        #: set when the bot shuts down: polls and deliveries finish the step they are in, then stop
        self.stopping = asyncio.Event()
        # Discord's 429s that reach us pause all delivery (one pause for every feed, not one per feed)
        self._discord_paused_until = 0.0  # monotonic
        self._round_paused = False
        self._round_waited = 0.0
        self._limited_in_a_row = 0

    def _backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failures in a row: one poll interval, doubling, capped."""
        return backoff(failures, base=self.poll_interval, cap=BACKOFF_CAP)

    # ------------------------------------------------------------------ subscriptions

    async def add(self, *, guild_id: int, channel_id: int, created_by: int, feed_filter: FeedFilter,
                  age_restricted: bool) -> SubscriptionRow:
        if await self.feeds.count_for_guild(guild_id) >= MAX_FEEDS_PER_GUILD:
            raise UserError(f"This server has {MAX_FEEDS_PER_GUILD} feeds already; remove one first.")
        policy = await self.guild_settings.get(guild_id)
        if feed_filter.max_rating is not None and not age_restricted and feed_filter.max_rating > policy.max_rating:
            raise UserError(f"That channel is not age-restricted: this server shows at most {policy.max_rating.name} "
                            "there (change it with /settings set max_rating).")
        now = datetime.fromtimestamp(self.clock(), UTC)
        sub_id = await self.feeds.add(
            guild_id=guild_id, channel_id=channel_id, created_by=created_by, types=feed_filter.types,
            base_models=feed_filter.base_models, tags=feed_filter.tags, creators=feed_filter.creators,
            query=feed_filter.query, max_rating=feed_filter.max_rating.name if feed_filter.max_rating else None,
            age_restricted=age_restricted, hub_query=feed_filter.hub_query().key(), started_at=iso(now))
        sub = await self.feeds.get(sub_id)
        assert sub is not None
        return sub

    async def get(self, guild_id: int, subscription_id: int) -> SubscriptionRow:
        sub = await self.feeds.get(subscription_id, guild_id=guild_id)
        if sub is None:
            raise UserError(f"This server has no feed #{subscription_id}. See /feed list.")
        return sub

    async def for_guild(self, guild_id: int) -> list[SubscriptionRow]:
        return await self.feeds.for_guild(guild_id)

    async def listing(self, guild_id: int) -> list[tuple[SubscriptionRow, int | None]]:
        """This server's feeds with the message id of each one's last post (None: nothing yet)."""
        subs = await self.feeds.for_guild(guild_id)
        last = await self.feeds.last_posts([s.id for s in subs])
        return [(s, last.get(s.id)) for s in subs]

    async def remove(self, sub: SubscriptionRow) -> None:
        await self.feeds.remove(sub.id)

    async def pause(self, sub: SubscriptionRow) -> None:
        await self.feeds.set_state(sub.id, "paused")

    async def resume(self, sub: SubscriptionRow) -> None:
        """Active again, failures forgotten: what it missed meanwhile (up to 30 days) comes next."""
        await self.feeds.set_state(sub.id, "active", reset_failures=True)

    async def names_of(self, deliveries: Sequence[Delivery]) -> list[tuple[Delivery, str, str | None]]:
        """(delivery, model name, version name) from the cache, for the summary of overflow posts."""
        out = []
        for d in deliveries:
            cached = await self.store.catalog.get_model(d.model_id)
            model = cached.model if cached else None
            version = model.version(d.model_version_id) if model else None
            out.append((d, model.name if model and model.name else f"Model {d.model_id}",
                        version.name if version else None))
        return out

    async def channel_policy(self, sub: SubscriptionRow, *, age_restricted: bool | None = None) -> ChannelPolicy:
        """What a feed's posts may show. The feed's own max rating caps everything; without one, an
        age-restricted channel takes up to XXX and any other channel the server's policy. In an
        ordinary channel the server's policy caps the feed's rating too (it may have been lowered)."""
        restricted = sub.age_restricted if age_restricted is None else age_restricted
        own = filter_of(sub).max_rating
        policy = await self.guild_settings.get(sub.guild_id)
        if restricted:
            if own is None:
                return ChannelPolicy(sub.guild_id, age_restricted=True, max_rating=Rating.XXX)
            return ChannelPolicy(sub.guild_id, age_restricted=False, max_rating=own)
        rating = policy.max_rating if own is None else Rating(min(int(own), int(policy.max_rating)))
        return ChannelPolicy(sub.guild_id, age_restricted=False, max_rating=rating)

    async def allowed_for(self, sub: SubscriptionRow) -> int:
        policy = await self.channel_policy(sub)
        return allowed_mask(age_restricted=policy.age_restricted, max_rating=policy.max_rating)

    # ------------------------------------------------------------------ the scheduled job

    async def tick(self, poster: Poster, *, stagger: float = 0.0) -> None:
        """One poll of every distinct hub query, then delivery of everything planned. A crash in
        either half is logged; the other half still runs."""
        try:
            report = await self.poll(stagger=stagger)
            if report.planned or report.failed_queries:
                log.info("feeds: polled %d queries (%d requests), planned %d, %d failed", report.queries,
                         report.hub_requests, report.planned, report.failed_queries)
        except Exception:
            log.exception("feeds: polling crashed; delivering what is planned anyway")
        try:
            delivered = await self.deliver(poster)
            if delivered.sent or delivered.summaries or delivered.recovered:
                log.info("feeds: sent %d posts, %d summaries, recovered %d", delivered.sent, delivered.summaries,
                         delivered.recovered)
        except Exception:
            log.exception("feeds: delivery crashed; it resumes at the next poll")

    # ------------------------------------------------------------------ polling

    async def poll(self, *, stagger: float = 0.0) -> PollReport:
        """Ask the hub once per distinct query of the subscriptions and plan what is new.
        ``stagger``: seconds to spread the queries over (0 = back to back).

        Queries go least recently polled first. The poll ends early, leaving every query where it
        was, when the hub rate-limits or fails (the client's gate is then closed for everyone) or
        when the bot is stopping: the rest are asked at the next poll, first."""
        async with self._lock:
            report = PollReport()
            subs = await self.feeds.pollable(keep_planning_for=KEEP_PLANNING)
            groups: dict[str, list[SubscriptionRow]] = defaultdict(list)
            for sub in subs:
                groups[sub.hub_query].append(sub)
            report.queries = len(groups)
            states = {key: await self.feeds.query_state(key) for key in groups}
            order = sorted(groups, key=lambda k: (states[k].last_polled_at or 0.0, k))
            gap = min(5.0, stagger / len(groups)) if groups and stagger > 0 else 0.0
            written: set[int] = set()  # models cached during this poll (queries overlap)
            allowed: dict[tuple[int, bool, str | None], int] = {}
            for index, key in enumerate(order):
                if index and gap and await self._stopping_within(gap):
                    report.skipped_queries = len(order) - index
                    break
                # a gate that opens within a few seconds is waited for (by the client); a longer one ends the poll
                if self.stopping.is_set() or self.hub.paused_for("/models")[0] > self.hub.max_gate_wait:
                    report.skipped_queries = len(order) - index
                    break
                try:
                    await self._poll_query(key, groups[key], states[key], report, written, allowed)
                except (HubRateLimited, HubUnavailable) as exc:
                    # the hub is rate-limiting or failing: do not keep asking it, query after query. When
                    # the hub said how long to wait (its gate is closed), that is nobody's fault: the
                    # query keeps its place and its record; otherwise (timeouts, refused connections)
                    # it counts as this query's failure and moves back, so it cannot block the others.
                    told_to_wait = self.hub.paused_for("/models")[0] > 0
                    if not told_to_wait:
                        await self._query_failed(key, str(exc), report)
                    report.skipped_queries = len(order) - index - (0 if told_to_wait else 1)
                    log.warning("feeds: the hub is not answering (%s); the poll stops, %d queries wait for the next",
                                exc, report.skipped_queries)
                    break
                except HubError as exc:
                    await self._query_failed(key, str(exc), report)
                except Exception as exc:  # one broken query must not starve the others
                    log.exception("feeds: polling query %s crashed", key[:80])
                    await self._query_failed(key, f"{type(exc).__name__}: {exc}", report)
            return report

    async def _stopping_within(self, seconds: float) -> bool:
        """Sleep ``seconds``, or less if the bot starts stopping meanwhile (then True)."""
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _query_failed(self, key: str, error: str, report: PollReport) -> None:
        state = await self.feeds.query_state(key)
        failures = state.failures + 1
        # one failed poll: just try at the next one; then back off
        retry_at = self.clock() + (self._backoff(failures) if failures > 1 else 0.0)
        await self.feeds.query_failed(key, error, retry_at)
        report.failed_queries += 1
        log.warning("feeds: hub query failed (%d in a row): %s", failures, error)

    async def _read(self, query: ModelQuery, cursor: str | None, floor: datetime | None, budget: int,
                    oldest_start: datetime, candidates: dict[int, tuple[Model, ModelVersion]],
                    report: PollReport) -> tuple[bool, str | None, datetime | None, int]:
        """Page newest-first from ``cursor`` until a page reaches below ``floor`` (or the list ends),
        collecting versions published after ``oldest_start``. Returns (done, where to continue,
        newest date seen, pages left)."""
        newest: datetime | None = None
        while budget > 0:
            page = await self.hub.list_models(query, cursor=cursor, limit=self.page_size)
            report.hub_requests += 1
            budget -= 1
            oldest: datetime | None = None
            for model in page.items:
                last = model.last_version_at
                if last is not None:
                    newest = last if newest is None or last > newest else newest
                    oldest = last if oldest is None or last < oldest else oldest
                for version in model.versions:
                    if version.published_at is not None and version.published_at > oldest_start:
                        candidates[version.id] = (model, version)
            if not page.next_cursor or page.next_cursor == cursor:
                return True, None, newest, budget
            if floor is None or (oldest is not None and oldest < floor):
                return True, None, newest, budget
            cursor = page.next_cursor
        return False, cursor, newest, budget

    async def _poll_query(self, key: str, subs: list[SubscriptionRow], state: QueryState, report: PollReport,
                          written: set[int],
                          allowed: dict[tuple[int, bool, str | None], int]) -> None:
        """One hub query: read what is new since the last poll (newest first, down to the last newest
        date minus an overlap), then, with what is left of the page budget, continue an earlier read
        that ran out of budget. Nothing is marked as read until it was."""
        if state.retry_at is not None and state.retry_at > self.clock():
            return
        query = filter_of(subs[0]).hub_query()
        oldest_start = min(s.started_at for s in subs)
        candidates: dict[int, tuple[Model, ModelVersion]] = {}
        try:
            # the first read of a query needs one page: its subscriptions start now
            floor = state.high_water - self.overlap if state.high_water else None
            resume_cursor, resume_floor = state.resume_cursor, state.resume_floor
            # while catching up, the top read gets half the budget, so the catch-up always progresses
            top_budget = max(1, self.max_pages // 2) if resume_cursor else self.max_pages
            done, cursor, newest, left = await self._read(query, None, floor, top_budget, oldest_start,
                                                          candidates, report)
            budget = left + (self.max_pages - top_budget)
            if not done:
                # more news than one poll may read: continue from here next time, down to the oldest
                # date still owed (an older unfinished read is covered by this one)
                log.warning("feeds: query %s has more than %d pages of news; catching up over several polls",
                            key[:80], top_budget)
                resume_cursor, resume_floor = cursor, resume_floor or floor
            elif resume_cursor is not None:
                finished, cursor, _, budget = await self._read(query, resume_cursor, resume_floor, budget,
                                                               oldest_start, candidates, report)
                resume_cursor = None if finished else cursor
                resume_floor = None if finished else resume_floor
        except (HubRateLimited, HubUnavailable):
            raise  # the poll stops here (nothing of this query was marked as read)
        except HubError as exc:
            await self._query_failed(key, str(exc), report)
            return
        report.candidates += len(candidates)
        # the cards of the posts are built from the cache: keep the models that have new versions
        fresh_models = {m.id: m for m, _ in candidates.values() if m.id not in written}
        if fresh_models:
            await self.store.catalog.put_models(fresh_models.values())
            written.update(fresh_models)
        started = time.process_time()
        rows = await self._plan(subs, list(candidates.values()), allowed)
        report.planned += await self.feeds.plan(rows)
        report.planning_cpu_s += time.process_time() - started
        await self.feeds.query_succeeded(key, iso(newest) if newest else None, resume_cursor=resume_cursor,
                                         resume_floor=iso(resume_floor) if resume_floor else None)

    async def _plan(self, subs: list[SubscriptionRow], candidates: list[tuple[Model, ModelVersion]],
                    allowed_cache: dict[tuple[int, bool, str | None], int] | None = None) -> list[PlannedRow]:
        """Match the candidates against each subscription; what is new for it becomes a planned
        delivery (how many are posted one by one is decided at delivery)."""
        salt = await self.feeds.salt()
        allowed_cache = {} if allowed_cache is None else allowed_cache
        ordered = sorted(candidates, key=lambda mv: (mv[1].published_at, mv[1].id))
        # per candidate, once: rating level, kind of post, publish date text, id in hex (for nonces)
        facts = {v.id: (v.image_level_mask() or m.effective_level(), version_kind(m, v),
                        iso(v.published_at) if v.published_at else None, f"{v.id:x}") for m, v in ordered}
        # what is already planned or posted, per subscription and per channel (one query for all);
        # dropped posts (of a removed feed, or rejected by Discord) do not block another feed
        by_sub: dict[int | None, set[int]] = defaultdict(set)
        by_channel: dict[int, set[int]] = defaultdict(set)
        known = await self.feeds.deliveries_of([v.id for _, v in ordered], subscription_ids=[s.id for s in subs],
                                               channel_ids=[s.channel_id for s in subs])
        for sub_id, channel_id, version_id, row_state in known:
            by_sub[sub_id].add(version_id)
            if row_state != "dropped":
                by_channel[channel_id].add(version_id)
        rows: list[PlannedRow] = []
        matched_by_filter: dict[tuple[FeedFilter, int], list[tuple[Model, ModelVersion]]] = {}
        for sub in subs:
            feed_filter = filter_of(sub)
            key = (sub.guild_id, sub.age_restricted, sub.max_rating)
            if key not in allowed_cache:
                allowed_cache[key] = await self.allowed_for(sub)
            allowed = allowed_cache[key]
            matched = matched_by_filter.get((feed_filter, allowed))
            if matched is None:  # many subscriptions share a filter: match it once
                matched = [(m, v) for m, v in ordered
                           if v.published_at is not None and feed_filter.matches(m, v)
                           and has_content_within(facts[v.id][0], allowed)]
                matched_by_filter[(feed_filter, allowed)] = matched
            if not matched:
                continue
            done_sub, done_channel, started = by_sub[sub.id], by_channel[sub.channel_id], sub.started_at
            fresh = [(m, v) for m, v in matched  # (matched versions all have a publish date)
                     if v.published_at > started and v.id not in done_sub and v.id not in done_channel]
            if not fresh:
                continue
            done_channel.update(v.id for _, v in fresh)  # one channel never gets a version twice
            prefix = f"f{salt}{sub.id:x}."
            sid, gid, cid = sub.id, sub.guild_id, sub.channel_id
            for m, v in fresh:
                _, kind, published, vhex = facts[v.id]
                rows.append(PlannedRow(sid, gid, cid, m.id, v.id, published, kind, None, prefix + vhex))
        return rows

    # ------------------------------------------------------------------ delivery

    async def deliver(self, poster: Poster) -> DeliveryReport:
        """Deliver what is planned for every feed that may post now: posts interrupted by a crash are
        settled first; then the oldest ``max_posts_per_poll`` go out one by one and the rest in one
        summary. Vote reactions still owed come last."""
        async with self._lock:
            report = DeliveryReport()
            self._round_paused, self._round_waited, self._limited_in_a_row = False, 0.0, 0
            for sub in await self.feeds.deliverable():
                if self.stopping.is_set() or self._round_paused:
                    return report  # what is left is planned: it goes out at the next poll (or restart)
                try:
                    await self._deliver_subscription(poster, sub, await self.feeds.pending(sub.id), report)
                except Exception:  # one feed's bug must not stop the others
                    log.exception("feeds: delivering feed #%d crashed", sub.id)
            for delivery in await self.feeds.unreacted():
                if self.stopping.is_set() or self._round_paused:
                    break
                await self._react(poster, delivery)
            return report

    async def _deliver_subscription(self, poster: Poster, sub: SubscriptionRow, rows: list[Delivery],
                                    report: DeliveryReport) -> None:
        # 1. settle what a crash interrupted, exactly as it was attempted
        interrupted_posts = [r for r in rows if r.attempts and r.batch is None]
        interrupted_batches: dict[int, list[Delivery]] = defaultdict(list)
        for r in rows:
            if r.attempts and r.batch is not None:
                interrupted_batches[r.batch].append(r)
        for r in interrupted_posts:
            if not await self._send(poster, sub, [r], None, report):
                return
        for batch, group in interrupted_batches.items():
            if not await self._send(poster, sub, group, batch, report):
                return
        # 2. the rest: the oldest one by one, up to the per-poll cap, the others in one summary
        fresh = [r for r in rows if not r.attempts]
        budget = max(0, self.max_posts_per_poll - len(interrupted_posts))
        for r in fresh[:budget]:
            if not await self._send(poster, sub, [r], None, report):
                return  # the channel refused or Discord failed: stop this feed; nothing is lost
        rest = fresh[budget:]
        if rest:
            await self._send(poster, sub, rest, rest[0].model_version_id, report)

    async def _send(self, poster: Poster, sub: SubscriptionRow, rows: list[Delivery], batch: int | None,
                    report: DeliveryReport) -> bool:
        """One message (a post, or the summary ``batch``) exactly once. False: stop this feed's queue."""
        if self.stopping.is_set():
            return False  # shutting down: the post in flight was the last one
        marker = batch if batch is not None else rows[0].model_version_id
        ids = [r.id for r in rows]
        try:
            if any(r.attempts for r in rows):
                since = min(r.attempted_at or 0 for r in rows) - 120
                existing = await poster.find_existing(sub, marker, since)
                if existing is not None:
                    await self.feeds.mark_sent(ids, existing)
                    report.recovered += 1
                    log.info("feeds: the post of deliveries %s was already in the channel; not sent again", ids)
                    await self._sent(poster, sub, rows, batch, existing)
                    return True
            if not await self.feeds.mark_attempt(ids, batch=batch):
                return False  # paused, disabled or removed meanwhile
            message_id = await self._post(poster, sub, rows, batch)
        except DeliveryRefused as exc:
            report.refused += 1
            await self._subscription_failed(poster, sub, exc.reason, report)
            return False
        except DeliveryBroken as exc:
            report.dropped += len(rows)
            log.error("feeds: Discord rejected the post of deliveries %s for feed #%d: %s", ids, sub.id, exc)
            await self.feeds.mark_dropped(ids)
            return True
        except DeliveryDeferred as exc:
            report.deferred += 1
            log.warning("feeds: delivery for feed #%d deferred: %s", sub.id, exc)
            return False
        await self.feeds.mark_sent(ids, message_id)
        if batch is not None:
            report.summaries += 1
        else:
            report.sent += 1
        await self._sent(poster, sub, rows, batch, message_id)
        return True

    async def _post(self, poster: Poster, sub: SubscriptionRow, rows: list[Delivery], batch: int | None) -> int:
        if batch is not None:
            salt = await self.feeds.salt()
            nonce = f"s{salt}{sub.id:x}.{batch:x}"
            return await self._again_if_rate_limited(sub, lambda: poster.post_summary(sub, rows, nonce, batch))
        return await self._again_if_rate_limited(sub, lambda: poster.post(sub, rows[0]))

    async def _again_if_rate_limited(self, sub: SubscriptionRow, operation: Callable[[], Awaitable[T]]) -> T:
        """Run one Discord operation under the round's pause. A 429 that reaches us (an edge 429,
        or one discord.py would not wait for) pauses every feed's delivery until its Retry-After:
        a short pause is waited out (within the round's budget), a long one, or
        ``RATE_LIMIT_RETRIES`` 429s in a row, end the round, and what is left goes at the next poll.
        A 429'd operation did nothing at Discord, so it is simply run again."""
        while True:
            await self._wait_for_discord(sub)
            try:
                result = await operation()
            except DeliveryDeferred as exc:
                if not exc.not_sent or exc.retry_after is None:
                    raise
                self._discord_paused_until = max(self._discord_paused_until,
                                                 time.monotonic() + max(0.0, exc.retry_after))
                self._limited_in_a_row += 1
                log.info("feeds: %s (%d in a row); every feed waits %.2f s", exc, self._limited_in_a_row,
                         exc.retry_after)
                if self._limited_in_a_row >= RATE_LIMIT_RETRIES:
                    self._round_paused = True
                    raise DeliveryDeferred(f"{exc}; delivery resumes at the next poll") from None
                continue
            self._limited_in_a_row = 0
            return result

    async def _wait_for_discord(self, sub: SubscriptionRow) -> None:
        remaining = self._discord_paused_until - time.monotonic()
        if remaining <= 0:
            return
        if remaining > MAX_INLINE_WAIT or self._round_waited + remaining > ROUND_WAIT_BUDGET:
            self._round_paused = True
            raise DeliveryDeferred(f"Discord asked to wait {remaining:.1f} s more; delivery resumes at the next poll")
        self._round_waited += remaining
        if await self._stopping_within(remaining):
            raise DeliveryDeferred("the bot is stopping")

    async def _sent(self, poster: Poster, sub: SubscriptionRow, rows: list[Delivery], batch: int | None,
                    message_id: int) -> None:
        await self.feeds.record_success(sub.id)
        if batch is None:
            await self._react(poster, replace(rows[0], message_id=message_id))

    async def _react(self, poster: Poster, delivery: Delivery) -> None:
        """👍/👎 under a post where the server counts votes. A post that is gone, or a channel that
        forbids reactions, is given up on (no endless retries); a Discord hiccup is retried later."""
        sub = await self.feeds.get(delivery.subscription_id) if delivery.subscription_id else None
        if sub is None:
            return
        policy = await self.guild_settings.get(sub.guild_id)
        if policy.reaction_votes:
            try:
                for emoji in poster.vote_emoji:
                    await self._again_if_rate_limited(sub, lambda e=emoji: poster.add_vote(sub, delivery, e))
            except (DeliveryRefused, DeliveryBroken) as exc:
                log.info("feeds: no vote reactions on %s: %s", delivery.message_id, exc)
                await self.feeds.mark_reacted(delivery.id, gave_up=True)
                return
            except DeliveryDeferred as exc:
                log.info("feeds: vote reactions on %s postponed: %s", delivery.message_id, exc)
                return
        await self.feeds.mark_reacted(delivery.id)

    async def _subscription_failed(self, poster: Poster, sub: SubscriptionRow, reason: str,
                                   report: DeliveryReport) -> None:
        failures = sub.failures + 1
        if failures >= self.max_failures:
            await self.feeds.record_failure(sub.id, error=reason, state="disabled", retry_at=None)
            report.disabled.append(sub.id)
            log.warning("feeds: feed #%d disabled after %d failures: %s", sub.id, failures, reason)
            days = int(KEEP_PLANNING // 86400)
            text = (f"Feed #{sub.id} (posting to <#{sub.channel_id}>) was **disabled** after {failures} failed "
                    f"attempts: {reason} Fix that, then turn it back on with `/feed resume {sub.id}`: what it "
                    f"should have posted in the meantime (up to {days} days) follows then.")
            try:
                await poster.notify(sub, text)
            except Exception:  # telling people must not break delivery of other feeds
                log.exception("feeds: could not report the disabled feed #%d", sub.id)
            return
        delay = self._backoff(failures)
        await self.feeds.record_failure(sub.id, error=reason, state="failing", retry_at=self.clock() + delay)
        log.info("feeds: feed #%d failing (%d/%d), next try in %.0f s: %s", sub.id, failures, self.max_failures,
                 delay, reason)

    # ------------------------------------------------------------------ preview

    async def preview(self, sub: SubscriptionRow, *, limit: int = 5) -> list[tuple[Model, ModelVersion]]:
        """The newest versions this feed's filter matches right now (regardless of what was posted)."""
        feed_filter = filter_of(sub)
        page = await self.hub.list_models(feed_filter.hub_query(), limit=PAGE_SIZE)
        if page.items:
            await self.store.catalog.put_models(page.items)
        allowed = await self.allowed_for(sub)
        found = [
            (m, v) for m in page.items for v in m.versions
            if v.published_at is not None and feed_filter.matches(m, v)
            and has_content_within(v.image_level_mask() or m.effective_level(), allowed)
        ]
        found.sort(key=lambda mv: (mv[1].published_at, mv[1].id), reverse=True)
        return found[:limit]

