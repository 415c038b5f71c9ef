"""Members' links to their hub accounts (table ``hub_links``, migration 0008). The key arrives here
already sealed (``bot.core.crypto``): this module never sees it in clear."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.store.db import Database


@dataclass(frozen=True, slots=True)
class HubLinkRow:
    user_id: int
    hub_user_id: int | None
    hub_username: str
    sealed_key: bytes = field(repr=False)
    linked_at: float
    checked_at: float


class HubLinkStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(self, user_id: int, *, hub_user_id: int | None, hub_username: str, sealed_key: bytes) -> None:
        """Link (or re-link) a member."""
        now = time.time()
        await self.db.execute(
            "INSERT INTO hub_links (user_id, hub_user_id, hub_username, sealed_key, linked_at, checked_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET hub_user_id = excluded.hub_user_id, "
            "hub_username = excluded.hub_username, sealed_key = excluded.sealed_key, "
            "linked_at = excluded.linked_at, checked_at = excluded.checked_at",
            (user_id, hub_user_id, hub_username, sealed_key, now, now))

    async def get(self, user_id: int) -> HubLinkRow | None:
        row = await self.db.fetchone("SELECT * FROM hub_links WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return HubLinkRow(row["user_id"], row["hub_user_id"], row["hub_username"], bytes(row["sealed_key"]),
                          row["linked_at"], row["checked_at"])

    async def touch(self, user_id: int) -> None:
        """The hub accepted the key just now."""
        await self.db.execute("UPDATE hub_links SET checked_at = ? WHERE user_id = ?", (time.time(), user_id))

    async def delete(self, user_id: int) -> bool:
        """Forget the member's link at once; True when there was one."""
        return await self.db.execute("DELETE FROM hub_links WHERE user_id = ?", (user_id,)) > 0
