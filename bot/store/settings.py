"""Per-server policies (``/settings``), one row per guild (table ``guild_settings``, migration 0002)."""

from __future__ import annotations

import sqlite3
import time

from bot.store.db import Database

#: the columns a setting may write (the only names ever put into the SQL text below)
COLUMNS = frozenset({"max_rating", "manager_role_id", "moderator_role_id", "intake_channel_id", "intake_role_id",
                     "log_channel_id", "reaction_votes", "hub_reviews"})


class GuildSettingsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int) -> sqlite3.Row | None:
        return await self.db.fetchone("SELECT * FROM guild_settings WHERE guild_id = ?", (guild_id,))

    async def put(self, guild_id: int, column: str, value: object, *, updated_by: int | None) -> None:
        """One setting of one guild, in one statement (the row is created on first use)."""
        if column not in COLUMNS:
            raise ValueError(f"not a settings column: {column!r}")
        await self.db.execute(
            f"INSERT INTO guild_settings (guild_id, {column}, updated_at, updated_by) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            (guild_id, value, time.time(), updated_by),
        )
