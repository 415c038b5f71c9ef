"""Feed subscriptions, the position of each distinct hub query, and the delivery outbox."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from bot.hub.models import as_datetime
from bot.store.db import Database

STATES = ("active", "paused", "failing", "disabled")


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
    failures: int
    retry_at: float | None
    last_success_at: float | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    subscription_id: int
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
        state=row["state"], started_at=as_datetime(row["started_at"]) or datetime.fromtimestamp(0).astimezone(),
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
        """A few random characters fixed per database, so message nonces never collide across
        installations sharing a bot account."""
        if self._salt is None:
            value = await self.db.fetchval("SELECT value FROM meta WHERE key = 'nonce_salt'")
            if value is None:
                value = secrets.token_hex(2)
                await self.db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('nonce_salt', ?)", (value,))
                value = await self.db.fetchval("SELECT value FROM meta WHERE key = 'nonce_salt'")
            self._salt = str(value)
        return self._salt

    # ------------------------------------------------------------------ subscriptions

    async def add(self, *, guild_id: int, channel_id: int, created_by: int, types: Sequence[str],
                  base_models: Sequence[str], tags: Sequence[str], creators: Sequence[str], query: str | None,
                  max_rating: str | None, age_restricted: bool, hub_query: str, started_at: str) -> int:
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO subscriptions (guild_id, channel_id, created_by, types, base_models, tags, creators, "
                "query, max_rating, age_restricted, hub_query, started_at, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, created_by, json.dumps(list(types)), json.dumps(list(base_models)),
                 json.dumps(list(tags)), json.dumps(list(creators)), query, max_rating, int(age_restricted),
                 hub_query, started_at, time.time()),
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

    async def pollable(self) -> list[SubscriptionRow]:
        """Subscriptions whose hub query should be polled: active and failing ones (a failing one keeps
        planning so nothing is lost while its channel is broken)."""
        rows = await self.db.fetchall("SELECT * FROM subscriptions WHERE state IN ('active', 'failing') ORDER BY id")
        return [_sub(r) for r in rows]

    async def remove(self, subscription_id: int) -> None:
        await self.db.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    async def set_state(self, subscription_id: int, state: str, *, reset_failures: bool = False) -> None:
        assert state in STATES
        if reset_failures:
            await self.db.execute(
                "UPDATE subscriptions SET state = ?, failures = 0, retry_at = NULL WHERE id = ?",
                (state, subscription_id))
        else:
            await self.db.execute("UPDATE subscriptions SET state = ? WHERE id = ?", (state, subscription_id))

    async def record_failure(self, subscription_id: int, *, error: str, state: str, retry_at: float | None) -> int:
        """Count one delivery failure; returns the new failure count."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE subscriptions SET failures = failures + 1, state = ?, retry_at = ?, last_error = ?, "
                "last_error_at = ? WHERE id = ?", (state, retry_at, error, time.time(), subscription_id))
            row = await (await conn.execute("SELECT failures FROM subscriptions WHERE id = ?",
                                            (subscription_id,))).fetchone()
        return int(row[0]) if row else 0

    async def record_success(self, subscription_id: int) -> None:
        await self.db.execute(
            "UPDATE subscriptions SET failures = 0, retry_at = NULL, last_post_at = ?, "
            "state = CASE WHEN state = 'failing' THEN 'active' ELSE state END WHERE id = ?",
            (time.time(), subscription_id))

    # ------------------------------------------------------------------ hub queries

    async def query_state(self, key: str) -> QueryState:
        row = await self.db.fetchone("SELECT * FROM feed_queries WHERE key = ?", (key,))
        if row is None:
            return QueryState(key, None, 0, None, None, None)
        return QueryState(key, as_datetime(row["high_water"]), row["failures"], row["retry_at"],
                          row["last_success_at"], row["last_error"])

    async def query_succeeded(self, key: str, high_water: str | None) -> None:
        now = time.time()
        await self.db.execute(
            "INSERT INTO feed_queries (key, high_water, last_polled_at, last_success_at, failures) "
            "VALUES (?, ?, ?, ?, 0) ON CONFLICT (key) DO UPDATE SET "
            "high_water = CASE WHEN excluded.high_water IS NULL THEN feed_queries.high_water "
            "WHEN feed_queries.high_water IS NULL OR excluded.high_water > feed_queries.high_water "
            "THEN excluded.high_water ELSE feed_queries.high_water END, "
            "last_polled_at = excluded.last_polled_at, last_success_at = excluded.last_success_at, "
            "failures = 0, retry_at = NULL, last_error = NULL", (key, high_water, now, now))

    async def query_failed(self, key: str, error: str, retry_at: float) -> None:
        await self.db.execute(
            "INSERT INTO feed_queries (key, last_polled_at, failures, retry_at, last_error) VALUES (?, ?, 1, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET last_polled_at = excluded.last_polled_at, "
            "failures = feed_queries.failures + 1, retry_at = excluded.retry_at, last_error = excluded.last_error",
            (key, time.time(), retry_at, error))

    # ------------------------------------------------------------------ the outbox

    async def deliveries_of(self, version_ids: Sequence[int], *, subscription_ids: Sequence[int],
                            channel_ids: Sequence[int]) -> list[tuple[int, int, int]]:
        """(subscription, channel, version) of the planned or sent deliveries of these versions that
        concern these subscriptions or channels."""
        out: list[tuple[int, int, int]] = []
        subs, channels = json.dumps(sorted(set(subscription_ids))), json.dumps(sorted(set(channel_ids)))
        for start in range(0, len(version_ids), 500):
            chunk = list(version_ids[start:start + 500])
            rows = await self.db.fetchall(
                f"SELECT subscription_id, channel_id, model_version_id FROM deliveries "
                f"WHERE model_version_id IN ({','.join('?' * len(chunk))}) "
                "AND (subscription_id IN (SELECT value FROM json_each(?)) "
                "OR channel_id IN (SELECT value FROM json_each(?)))", [*chunk, subs, channels])
            out += [(r[0], r[1], r[2]) for r in rows]
        return out

    async def plan(self, rows: Iterable[PlannedRow]) -> int:
        """Add planned deliveries (one transaction); rows already present are ignored. Returns how many
        were added."""
        rows = list(rows)
        if not rows:
            return 0
        now = time.time()
        async with self.db.transaction() as conn:
            before = conn.total_changes
            await conn.executemany(
                "INSERT OR IGNORE INTO deliveries (subscription_id, guild_id, channel_id, model_id, model_version_id, "
                f"published_at, kind, batch, nonce, planned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, {now!r})",
                rows)
            return conn.total_changes - before

    async def pending(self) -> list[Delivery]:
        """Planned deliveries of subscriptions that may post now, oldest first per subscription."""
        rows = await self.db.fetchall(
            "SELECT d.* FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id "
            "WHERE d.state = 'planned' AND (s.state = 'active' OR (s.state = 'failing' AND "
            "(s.retry_at IS NULL OR s.retry_at <= ?))) "
            "ORDER BY d.subscription_id, d.kind = 'summary', d.published_at, d.model_version_id", (time.time(),))
        return [_delivery(r) for r in rows]

    async def unreacted(self) -> list[Delivery]:
        rows = await self.db.fetchall(
            "SELECT * FROM deliveries WHERE state = 'sent' AND reacted = 0 AND kind != 'summary' "
            "AND message_id IS NOT NULL ORDER BY id")
        return [_delivery(r) for r in rows]

    async def mark_attempt(self, delivery_ids: Sequence[int]) -> None:
        """Committed BEFORE a send: after a crash, an attempted delivery is checked against the channel
        before it is sent again."""
        now = time.time()
        await self.db.executemany("UPDATE deliveries SET attempts = attempts + 1, attempted_at = ? WHERE id = ?",
                                  [(now, i) for i in delivery_ids])

    async def mark_sent(self, delivery_ids: Sequence[int], message_id: int) -> None:
        now = time.time()
        await self.db.executemany(
            "UPDATE deliveries SET state = 'sent', message_id = ?, sent_at = ? WHERE id = ?",
            [(message_id, now, i) for i in delivery_ids])

    async def mark_dropped(self, delivery_ids: Sequence[int]) -> None:
        await self.db.executemany("UPDATE deliveries SET state = 'dropped' WHERE id = ?", [(i,) for i in delivery_ids])

    async def mark_reacted(self, delivery_id: int) -> None:
        await self.db.execute("UPDATE deliveries SET reacted = 1 WHERE id = ?", (delivery_id,))

    async def post_for_message(self, message_id: int) -> Delivery | None:
        """The feed post behind a Discord message (for votes by reaction)."""
        row = await self.db.fetchone("SELECT * FROM deliveries WHERE message_id = ? AND kind != 'summary'",
                                     (message_id,))
        return _delivery(row) if row else None

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
