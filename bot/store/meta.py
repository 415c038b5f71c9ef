"""Small facts about the database itself (table ``meta``)."""

from __future__ import annotations

import secrets

from bot.store.db import Database


async def nonce_salt(db: Database) -> str:
    """A few random characters fixed per database, so message nonces (feed posts, digests) never
    collide across installations sharing a bot account."""
    value = await db.fetchval("SELECT value FROM meta WHERE key = 'nonce_salt'")
    if value is None:
        await db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('nonce_salt', ?)", (secrets.token_hex(2),))
        value = await db.fetchval("SELECT value FROM meta WHERE key = 'nonce_salt'")
    return str(value)
