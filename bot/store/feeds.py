"""Feed subscriptions, the position of each distinct hub query, and the delivery outbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from bot.hub.models import as_datetime
from bot.store.db import Database
from bot.store.meta import nonce_salt

STATES = ("active", "paused", "failing", "disabled")


class _Stale(Exception):
    """The feed stopped (paused, disabled, removed) while its posts were being delivered."""


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    guild_id: int
    channel_id: int
    created_by: int
    types: tuple[str, ...]
    base_models: tuple[str, ...]
    tags: tuple[str, ...]
    creators: tuple[str, ...]
    query: str | None
    max_rating: str | None
    age_restricted: bool
    hub_query: str
    state: str
    state_changed_at: float
    started_at: datetime
    created_at: float
    failures: int
    retry_at: float | None
    last_error: str | None
    last_error_at: float | None
    last_post_at: float | None


@dataclass(frozen=True, slots=True)
class QueryState:
    key: str
    high_water: datetime | None
    resume_cursor: str | None
    resume_floor: datetime | None
    failures: int
    retry_at: float | None
    last_success_at: float | None
    last_error: str | None
    last_polled_at: float | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int | None
    guild_id: int
    channel_id: int
    model_id: int
    model_version_id: int
    published_at: datetime | None
    kind: str
    batch: int | None
    state: str
    nonce: str
    attempts: int
    attempted_at: float | None
    message_id: int | None
    reacted: bool


class PlannedRow(NamedTuple):
    """One planned delivery, in the column order of ``deliveries`` (a tuple: planning makes many)."""

    subscription_id: int
    guild_id: int
    channel_id: int
    model_id: int
    model_version_id: int
    published_at: str | None
    kind: str
    batch: int | None
    nonce: str


def _sub(row: Any) -> SubscriptionRow:
    return SubscriptionRow(
        id=row["id"], guild_id=row["guild_id"], channel_id=row["channel_id"], created_by=row["created_by"],
        types=tuple(json.loads(row["types"])), base_models=tuple(json.loads(row["base_models"])),
        tags=tuple(json.loads(row["tags"])), creators=tuple(json.loads(row["creators"])), query=row["query"],
        max_rating=row["max_rating"], age_restricted=bool(row["age_restricted"]), hub_query=row["hub_query"],
        state=row["state"], state_changed_at=row["state_changed_at"],
        started_at=as_datetime(row["started_at"]) or datetime.fromtimestamp(0).astimezone(),
        created_at=row["created_at"], failures=row["failures"], retry_at=row["retry_at"],
        last_error=row["last_error"], last_error_at=row["last_error_at"], last_post_at=row["last_post_at"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row["id"], subscription_id=row["subscription_id"], guild_id=row["guild_id"], channel_id=row["channel_id"],
        model_id=row["model_id"], model_version_id=row["model_version_id"],
        published_at=as_datetime(row["published_at"]), kind=row["kind"], batch=row["batch"], state=row["state"],
        nonce=row["nonce"], attempts=row["attempts"], attempted_at=row["attempted_at"],
        message_id=row["message_id"], reacted=bool(row["reacted"]),
    )


class FeedStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._salt: str | None = None

    async def salt(self) -> str:
        """The database's nonce salt (``bot.store.meta.nonce_salt``), read once."""
        if self._salt is None:
            self._salt = await nonce_salt(self.db)
        return self._salt

    # ------------------------------------------------------------------ subscriptions

    async def add(self, *, guild_id: int, channel_id: int, created_by: int, types: Sequence[str],
                  base_models: Sequence[str], tags: Sequence[str], creators: Sequence[str], query: str | None,
                  max_rating: str | None, age_restricted: bool, hub_query: str, started_at: str) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO subscriptions (guild_id, channel_id, created_by, types, base_models, tags, creators, "
                "query, max_rating, age_restricted, hub_query, started_at, created_at, state_changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, created_by, json.dumps(list(types)), json.dumps(list(base_models)),
                 json.dumps(list(tags)), json.dumps(list(creators)), query, max_rating, int(age_restricted),
                 hub_query, started_at, time.time(), time.time()),
            )
            return int(cursor.lastrowid or 0)

    async def get(self, subscription_id: int, *, guild_id: int | None = None) -> SubscriptionRow | None:
        sql = "SELECT * FROM subscriptions WHERE id = ?"
        params: list[Any] = [subscription_id]
        if guild_id is not None:
            sql += " AND guild_id = ?"
            params.append(guild_id)
        row = await self.db.fetchone(sql, params)
        return _sub(row) if row else None

    async def for_guild(self, guild_id: int) -> list[SubscriptionRow]:
        rows = await self.db.fetchall("SELECT * FROM subscriptions WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_sub(r) for r in rows]

    async def count_for_guild(self, guild_id: int) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM subscriptions WHERE guild_id = ?", (guild_id,)) or 0)

    async def pollable(self, *, keep_planning_for: float) -> list[SubscriptionRow]:
        """Subscriptions whose hub query is polled and whose matches are planned: active and failing
        ones, and paused or disabled ones for ``keep_planning_for`` seconds after they stopped, so that
        resuming them loses nothing from that time."""
        rows = await self.db.fetchall(
            "SELECT * FROM subscriptions WHERE state IN ('active', 'failing') "
            "OR (state IN ('paused', 'disabled') AND state_changed_at > ?) ORDER BY id",
            (time.time() - keep_planning_for,))
        return [_sub(r) for r in rows]

    async def remove(self, subscription_id: int) -> None:
        """Delete a feed. Its posts stay recorded (a channel never gets a version twice, and votes on
        old posts still count); what it had planned but not posted is dropped."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE deliveries SET state = 'dropped' WHERE subscription_id = ? AND state = 'planned'",
                (subscription_id,))
            await conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    async def set_state(self, subscription_id: int, state: str, *, reset_failures: bool = False) -> None:
        assert state in STATES
        extra = ", failures = 0, retry_at = NULL" if reset_failures else ""
        await self.db.execute(
            f"UPDATE subscriptions SET state = ?, state_changed_at = ?{extra} WHERE id = ?",
            (state, time.time(), subscription_id))

    async def record_failure(self, subscription_id: int, *, error: str, state: str, retry_at: float | None) -> int:
        """Count one delivery failure and move the feed to ``state`` (failing or disabled) unless a
        manager paused or disabled it meanwhile; returns the new failure count."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE subscriptions SET failures = failures + 1, retry_at = ?, last_error = ?, last_error_at = ?, "
                "state_changed_at = CASE WHEN state IN ('paused', 'disabled') OR state = ? THEN state_changed_at "
                "ELSE ? END, "
                "state = CASE WHEN state IN ('paused', 'disabled') THEN state ELSE ? END WHERE id = ?",
                (retry_at, error, time.time(), state, time.time(), state, subscription_id))
            row = await (await conn.execute("SELECT failures FROM subscriptions WHERE id = ?",
                                            (subscription_id,))).fetchone()
        return int(row[0]) if row else 0

    async def record_success(self, subscription_id: int) -> None:
        await self.db.execute(
            "UPDATE subscriptions SET failures = 0, retry_at = NULL, last_post_at = ?, "
            "state_changed_at = CASE WHEN state = 'failing' THEN ? ELSE state_changed_at END, "
            "state = CASE WHEN state = 'failing' THEN 'active' ELSE state END WHERE id = ?",
            (time.time(), time.time(), subscription_id))

    # ------------------------------------------------------------------ hub queries

    async def query_state(self, key: str) -> QueryState:
        row = await self.db.fetchone("SELECT * FROM feed_queries WHERE key = ?", (key,))
        if row is None:
            return QueryState(key, None, None, None, 0, None, None, None)
        return QueryState(key, as_datetime(row["high_water"]), row["resume_cursor"], as_datetime(row["resume_floor"]),
                          row["failures"], row["retry_at"], row["last_success_at"], row["last_error"],
                          row["last_polled_at"])

    async def query_succeeded(self, key: str, high_water: str | None, *, resume_cursor: str | None,
                              resume_floor: str | None) -> None:
        """Record a complete poll of this query: the newest date seen, and where an unfinished read
        continues (``resume_cursor`` None: nothing left)."""
        now = time.time()
        await self.db.execute(
            "INSERT INTO feed_queries (key, high_water, resume_cursor, resume_floor, last_polled_at, last_success_at, "
            "failures) VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (key) DO UPDATE SET "
            "high_water = CASE WHEN excluded.high_water IS NULL THEN feed_queries.high_water "
            "WHEN feed_queries.high_water IS NULL OR excluded.high_water > feed_queries.high_water "
            "THEN excluded.high_water ELSE feed_queries.high_water END, "
            "resume_cursor = excluded.resume_cursor, resume_floor = excluded.resume_floor, "
            "last_polled_at = excluded.last_polled_at, last_success_at = excluded.last_success_at, "
            "failures = 0, retry_at = NULL, last_error = NULL",
            (key, high_water, resume_cursor, resume_floor, now, now))

    async def query_failed(self, key: str, error: str, retry_at: float) -> None:
        await self.db.execute(
            "INSERT INTO feed_queries (key, last_polled_at, failures, retry_at, last_error) VALUES (?, ?, 1, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET last_polled_at = excluded.last_polled_at, "
            "failures = feed_queries.failures + 1, retry_at = excluded.retry_at, last_error = excluded.last_error",
            (key, time.time(), retry_at, error))

    # ------------------------------------------------------------------ the outbox

    async def deliveries_of(self, version_ids: Sequence[int], *, subscription_ids: Sequence[int],
                            channel_ids: Sequence[int]) -> list[tuple[int | None, int, int, str]]:
        """(subscription, channel, version, state) of the deliveries of these versions that concern
        these subscriptions or channels."""
        out: list[tuple[int | None, int, int, str]] = []
        subs, channels = json.dumps(sorted(set(subscription_ids))), json.dumps(sorted(set(channel_ids)))
        for start in range(0, len(version_ids), 500):
            chunk = list(version_ids[start:start + 500])
            rows = await self.db.fetchall(
                f"SELECT subscription_id, channel_id, model_version_id, state FROM deliveries "
                f"WHERE model_version_id IN ({','.join('?' * len(chunk))}) "
                "AND (subscription_id IN (SELECT value FROM json_each(?)) "
                "OR channel_id IN (SELECT value FROM json_each(?)))", [*chunk, subs, channels])
            out += [(r[0], r[1], r[2], r[3]) for r in rows]
        return out

    async def plan(self, rows: Iterable[PlannedRow]) -> int:
        """Add planned deliveries (one transaction). Rows already present, or of a feed removed
        meanwhile, are skipped. Returns how many were added."""
        rows = list(rows)
        if not rows:
            return 0
        now = time.time()
        async with self.db.transaction() as conn:
            wanted = sorted({r[0] for r in rows})
            cursor = await conn.execute("SELECT id FROM subscriptions WHERE id IN (SELECT value FROM json_each(?))",
                                        (json.dumps(wanted),))
            alive = {r[0] for r in await cursor.fetchall()}  # (the write lock is held: none can go now)
            before = conn.total_changes
            await conn.executemany(
                "INSERT OR IGNORE INTO deliveries (subscription_id, guild_id, channel_id, model_id, model_version_id, "
                f"published_at, kind, batch, nonce, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now!r})",
                rows if len(alive) == len(wanted) else [r for r in rows if r[0] in alive])
            return conn.total_changes - before

    async def pending(self, subscription_id: int) -> list[Delivery]:
        """A feed's planned deliveries, oldest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM deliveries WHERE subscription_id = ? AND state = 'planned' "
            "ORDER BY published_at, model_version_id", (subscription_id,))
        return [_delivery(r) for r in rows]

    async def deliverable(self) -> list[SubscriptionRow]:
        """Feeds that may post now and have something planned: active ones, and failing ones whose
        back-off has passed."""
        rows = await self.db.fetchall(
            "SELECT s.* FROM subscriptions s WHERE (s.state = 'active' OR (s.state = 'failing' AND "
            "(s.retry_at IS NULL OR s.retry_at <= ?))) "
            "AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND d.state = 'planned') "
            "ORDER BY s.id", (time.time(),))
        return [_sub(r) for r in rows]

    async def unreacted(self) -> list[Delivery]:
        """Posts of feeds that may post now whose vote reactions are still to add."""
        rows = await self.db.fetchall(
            "SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
            "WHERE d.state = 'sent' AND d.reacted = 0 AND d.batch IS NULL AND d.message_id IS NOT NULL "
            "AND s.state IN ('active', 'failing') ORDER BY d.id LIMIT 200")
        return [_delivery(r) for r in rows]

    async def mark_attempt(self, delivery_ids: Sequence[int], *, batch: int | None = None) -> bool:
        """Committed BEFORE a send: after a crash, an attempted delivery is looked for in the channel
        before it is sent again. ``batch`` groups summary rows for good. Returns False (and marks
        nothing) when the feed was paused, disabled or removed meanwhile."""
        now = time.time()
        try:
            async with self.db.transaction() as conn:
                before = conn.total_changes
                await conn.executemany(
                    "UPDATE deliveries SET attempts = attempts + 1, attempted_at = ?, batch = ? WHERE id = ? "
                    "AND state = 'planned' AND EXISTS (SELECT 1 FROM subscriptions s "
                    "WHERE s.id = deliveries.subscription_id AND s.state IN ('active', 'failing'))",
                    [(now, batch, i) for i in delivery_ids])
                if conn.total_changes - before != len(delivery_ids):
                    raise _Stale()  # rolls the whole attempt back
        except _Stale:
            return False
        return True

    async def mark_sent(self, delivery_ids: Sequence[int], message_id: int) -> None:
        now = time.time()
        await self.db.executemany(
            "UPDATE deliveries SET state = 'sent', message_id = ?, sent_at = ? WHERE id = ?",
            [(message_id, now, i) for i in delivery_ids])

    async def mark_dropped(self, delivery_ids: Sequence[int]) -> None:
        await self.db.executemany("UPDATE deliveries SET state = 'dropped' WHERE id = ?", [(i,) for i in delivery_ids])

    async def mark_reacted(self, delivery_id: int, *, gave_up: bool = False) -> None:
        await self.db.execute("UPDATE deliveries SET reacted = ? WHERE id = ?", (2 if gave_up else 1, delivery_id))

    async def stats(self) -> dict[str, Any]:
        """For /status: subscription counts by state, pending deliveries and the oldest one's age."""
        by_state = {r[0]: r[1] for r in await self.db.fetchall(
            "SELECT state, count(*) FROM subscriptions GROUP BY state")}
        pending = await self.db.fetchone(
            "SELECT count(*), min(planned_at) FROM deliveries WHERE state = 'planned'")
        last_poll = await self.db.fetchval("SELECT max(last_success_at) FROM feed_queries")
        return {"states": by_state, "pending": pending[0] if pending else 0,
                "oldest_pending": pending[1] if pending else None, "last_poll": last_poll}

    async def last_posts(self, subscription_ids: Sequence[int]) -> dict[int, int]:
        """Message id of each subscription's newest post."""
        if not subscription_ids:
            return {}
        marks = ",".join("?" * len(subscription_ids))
        rows = await self.db.fetchall(
            f"SELECT subscription_id, message_id FROM deliveries WHERE state = 'sent' AND subscription_id IN ({marks}) "
            "AND id IN (SELECT max(id) FROM deliveries WHERE state = 'sent' GROUP BY subscription_id)",
            list(subscription_ids))
        return {r[0]: r[1] for r in rows}
