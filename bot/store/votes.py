"""Per-server votes on model versions (the community score on model cards), and which of the bot's
messages are model posts that members vote on by reacting."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class Score:
    up: int
    down: int

    @property
    def total(self) -> int:
        return self.up + self.down


class VoteStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def score(self, guild_id: int, *, model_id: int | None = None,
                    version_ids: Sequence[int] = ()) -> Score:
        """Votes in this server for a model (all its versions) or for the given versions."""
        if model_id is not None:
            rows = await self.db.fetchall(
                "SELECT value, count(*) FROM votes WHERE guild_id = ? AND model_id = ? GROUP BY value",
                (guild_id, model_id))
        elif version_ids:
            marks = ",".join("?" * len(version_ids))
            rows = await self.db.fetchall(
                f"SELECT value, count(*) FROM votes WHERE guild_id = ? AND model_version_id IN ({marks}) "
                "GROUP BY value", (guild_id, *version_ids))
        else:
            return Score(0, 0)
        counts = {row[0]: row[1] for row in rows}
        return Score(up=counts.get(1, 0), down=counts.get(-1, 0))

    # ------------------------------------------------------------------ model posts

    async def record_post(self, message_id: int, *, guild_id: int, channel_id: int, model_id: int,
                          model_version_id: int) -> None:
        await self.db.execute(
            "INSERT OR REPLACE INTO model_posts (message_id, guild_id, channel_id, model_id, model_version_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (message_id, guild_id, channel_id, model_id, model_version_id, time.time()))

    async def post_target(self, message_id: int) -> PostTarget | None:
        """The model version a message of the bot's shows: a card posted by a command, or a feed post
        (not a summary of several). None: not a model post."""
        row = await self.db.fetchone(
            "SELECT guild_id, model_id, model_version_id FROM model_posts WHERE message_id = ? "
            "UNION ALL SELECT guild_id, model_id, model_version_id FROM deliveries "
            "WHERE message_id = ? AND batch IS NULL AND state = 'sent' LIMIT 1", (message_id, message_id))
        if row is None:
            return None
        return PostTarget(guild_id=row[0], model_id=row[1], model_version_id=row[2])

    # ------------------------------------------------------------------ votes

    async def vote(self, guild_id: int, model_version_id: int, user_id: int, value: int, *, model_id: int,
                   source: str = "reaction") -> None:
        """This member's vote on this version in this server (replaces an earlier one): one statement."""
        now = time.time()
        await self.db.execute(
            "INSERT INTO votes (guild_id, model_version_id, user_id, model_id, value, source, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, model_version_id, user_id) DO UPDATE SET "
            "value = excluded.value, source = excluded.source, model_id = excluded.model_id, "
            "updated_at = excluded.updated_at",
            (guild_id, model_version_id, user_id, model_id, value, source, now, now))

    async def withdraw(self, guild_id: int, model_version_id: int, user_id: int, value: int) -> bool:
        """Remove this member's vote if it is still ``value`` (a removed 👍 does not undo a later 👎)."""
        return await self.db.execute(
            "DELETE FROM votes WHERE guild_id = ? AND model_version_id = ? AND user_id = ? AND value = ?",
            (guild_id, model_version_id, user_id, value)) > 0

    async def vote_of(self, guild_id: int, model_version_id: int, user_id: int) -> int | None:
        return await self.db.fetchval(
            "SELECT value FROM votes WHERE guild_id = ? AND model_version_id = ? AND user_id = ?",
            (guild_id, model_version_id, user_id))


@dataclass(frozen=True, slots=True)
class PostTarget:
    guild_id: int
    model_id: int
    model_version_id: int

