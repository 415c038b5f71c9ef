"""This server's reviews of model versions (table ``reviews``, migration 0007)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class ReviewRow:
    id: int
    guild_id: int
    model_id: int
    model_version_id: int
    user_id: int
    recommended: bool
    text: str | None
    created_at: float
    updated_at: float
    hub_review_id: int | None = None  # posted on the hub too (migration 0008) ...
    hub_posted_at: float | None = None  # ... as it reads now (an edit here clears this)


def _row(r: sqlite3.Row) -> ReviewRow:
    return ReviewRow(r["id"], r["guild_id"], r["model_id"], r["model_version_id"], r["user_id"],
                     bool(r["recommended"]), r["text"], r["created_at"], r["updated_at"], r["hub_review_id"],
                     r["hub_posted_at"])


@dataclass(frozen=True, slots=True)
class ModelTally:
    model_id: int
    up: int
    down: int


class ReviewStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(self, *, guild_id: int, model_id: int, model_version_id: int, user_id: int, recommended: bool,
                     text: str | None) -> ReviewRow:
        """The member's review (edited if there is one) and the vote it stands for, in one transaction."""
        now = time.time()
        value = 1 if recommended else -1
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO reviews (guild_id, model_id, model_version_id, user_id, recommended, text, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, model_version_id, user_id) "
                "DO UPDATE SET recommended = excluded.recommended, text = excluded.text, "
                "updated_at = excluded.updated_at, hub_posted_at = NULL",
                (guild_id, model_id, model_version_id, user_id, int(recommended), text, now, now))
            await conn.execute(
                "INSERT INTO votes (guild_id, model_version_id, user_id, model_id, value, source, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'review', ?, ?) ON CONFLICT (guild_id, model_version_id, user_id) "
                "DO UPDATE SET value = excluded.value, source = 'review', updated_at = excluded.updated_at",
                (guild_id, model_version_id, user_id, model_id, value, now, now))
            async with conn.execute("SELECT * FROM reviews WHERE guild_id = ? AND model_version_id = ? AND user_id = ?",
                                    (guild_id, model_version_id, user_id)) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return _row(row)

    async def of_member(self, guild_id: int, model_version_id: int, user_id: int) -> ReviewRow | None:
        row = await self.db.fetchone(
            "SELECT * FROM reviews WHERE guild_id = ? AND model_version_id = ? AND user_id = ?",
            (guild_id, model_version_id, user_id))
        return _row(row) if row else None

    async def get(self, guild_id: int, review_id: int) -> ReviewRow | None:
        row = await self.db.fetchone("SELECT * FROM reviews WHERE guild_id = ? AND id = ?", (guild_id, review_id))
        return _row(row) if row else None

    async def for_model(self, guild_id: int, model_id: int, *, limit: int, offset: int = 0) -> list[ReviewRow]:
        """Newest first."""
        rows = await self.db.fetchall(
            "SELECT * FROM reviews WHERE guild_id = ? AND model_id = ? ORDER BY updated_at DESC, id DESC "
            "LIMIT ? OFFSET ?", (guild_id, model_id, limit, offset))
        return [_row(r) for r in rows]

    async def count_for_model(self, guild_id: int, model_id: int) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM reviews WHERE guild_id = ? AND model_id = ?",
                                          (guild_id, model_id)) or 0)

    async def mark_posted(self, review_id: int, hub_review_id: int | None, *, updated_at: float) -> bool:
        """The hub now holds this review as it read at ``updated_at``; False when it was edited (or
        removed) meanwhile, so the mark would claim a text the hub does not have."""
        return await self.db.execute(
            "UPDATE reviews SET hub_review_id = coalesce(?, hub_review_id), hub_posted_at = ? "
            "WHERE id = ? AND updated_at = ?", (hub_review_id, time.time(), review_id, updated_at)) > 0

    async def remove(self, guild_id: int, review_id: int) -> ReviewRow | None:
        """Delete a review and the vote it stood for (a vote the member made by reacting stays)."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT * FROM reviews WHERE guild_id = ? AND id = ?",
                                    (guild_id, review_id)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await conn.execute("DELETE FROM reviews WHERE id = ?", (review_id,))
            await conn.execute("DELETE FROM votes WHERE guild_id = ? AND model_version_id = ? AND user_id = ? "
                               "AND source = 'review'", (guild_id, row["model_version_id"], row["user_id"]))
        return _row(row)

    async def tallies(self, guild_id: int, *, since: float | None, limit: int = 500) -> list[ModelTally]:
        """Votes per model in this server (updated since ``since``; None: all time)."""
        rows = await self.db.fetchall(
            "SELECT model_id, sum(value = 1), sum(value = -1) FROM votes WHERE guild_id = ? AND model_id IS NOT NULL "
            "AND updated_at >= ? GROUP BY model_id ORDER BY count(*) DESC LIMIT ?",
            (guild_id, since or 0.0, limit))
        return [ModelTally(r[0], int(r[1] or 0), int(r[2] or 0)) for r in rows]
