"""Tags and creators known to the bot (from the hub's /tags and /creators, and from cached models)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from bot.hub.models import Creator, Tag
from bot.store.db import Database


class DirectoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put_tags(self, tags: Iterable[Tag], *, fetched_at: float | None = None) -> None:
        now = time.time() if fetched_at is None else fetched_at
        await self.db.executemany(
            "INSERT INTO tags (name, model_count, fetched_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
            "SET model_count = coalesce(excluded.model_count, tags.model_count), fetched_at = excluded.fetched_at",
            [(t.name, t.model_count, now) for t in tags],
        )

    async def put_creators(self, creators: Iterable[Creator], *, fetched_at: float | None = None) -> None:
        now = time.time() if fetched_at is None else fetched_at
        await self.db.executemany(
            "INSERT INTO creators (username, model_count, image, fetched_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (username) DO UPDATE SET model_count = coalesce(excluded.model_count, "
            "creators.model_count), image = coalesce(excluded.image, creators.image), "
            "fetched_at = excluded.fetched_at",
            [(c.username, c.model_count, c.image, now) for c in creators if c.username],
        )

    async def tag_names(self, prefix: str, *, limit: int = 25) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT name FROM tags WHERE name LIKE ? ESCAPE '\\' ORDER BY model_count DESC, name LIMIT ?",
            (_like_prefix(prefix), limit))
        return [r[0] for r in rows]

    async def creator_names(self, prefix: str, *, limit: int = 25) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT username FROM creators WHERE username LIKE ? ESCAPE '\\' "
            "ORDER BY model_count DESC, username LIMIT ?", (_like_prefix(prefix), limit))
        return [r[0] for r in rows]


def _like_prefix(text: str) -> str:
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
