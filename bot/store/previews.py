"""Encoded preview pictures (collages and placeholders), cached in SQLite (table ``previews``,
migration 0003), least recently used first out."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class StoredPicture:
    data: bytes
    content_type: str
    width: int
    height: int
    tiles: int
    placeholder: bool


class PreviewStore:
    """``get`` refreshes the row's ``used_at``; ``put`` replaces the row, then deletes the least
    recently used rows until the pictures total at most ``max_bytes`` (the row just written is kept)."""

    def __init__(self, db: Database, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._db = db
        self._max_bytes = max_bytes

    async def get(self, key: str) -> StoredPicture | None:
        row = await self._db.fetchone(
            "SELECT data, content_type, width, height, tiles, placeholder FROM previews WHERE key = ?", (key,)
        )
        if row is None:
            return None
        await self._db.execute("UPDATE previews SET used_at = ? WHERE key = ?", (time.time(), key))
        return StoredPicture(data=bytes(row["data"]), content_type=str(row["content_type"]), width=int(row["width"]),
                             height=int(row["height"]), tiles=int(row["tiles"]), placeholder=bool(row["placeholder"]))

    async def put(self, key: str, picture: StoredPicture) -> None:
        now = time.time()
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO previews (key, data, content_type, width, height, tiles, placeholder, "
                "created_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, picture.data, picture.content_type, picture.width, picture.height, int(picture.tiles),
                 int(picture.placeholder), now, now),
            )
            await conn.execute(
                "DELETE FROM previews WHERE key IN ("
                " SELECT key FROM ("
                "  SELECT key, SUM(length(data)) OVER (ORDER BY used_at DESC, rowid DESC) AS running"
                "  FROM previews WHERE key != ?"
                " ) WHERE running + ? > ?)",
                (key, len(picture.data), self._max_bytes),
            )
