"""A write cancelled at any moment leaves the database writable (issue 8, defect 1).

aiosqlite runs each statement on its own thread whether or not the awaiting task is still there. A
task cancelled while its ``BEGIN IMMEDIATE`` was in flight used to release the write lock with the
connection inside a transaction, and every later write then failed with "cannot start a transaction
within a transaction" until restart (feeds stopped posting, settings stopped saving).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from bot.store import Store


async def _write(store: Store, value: int) -> None:
    async with store.db.transaction() as conn:
        await conn.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) VALUES (?, 'PG', 0)",
                           (value,))
        await conn.execute("UPDATE guild_settings SET updated_at = 1 WHERE guild_id = ?", (value,))


async def test_cancelling_a_write_at_every_await_point_never_blocks_later_writes(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        cancelled_at: set[int] = set()
        for steps in range(0, 60):
            guild_id = 1000 + steps
            task = asyncio.create_task(_write(store, guild_id))
            for _ in range(steps):  # let the write run for `steps` turns of the event loop, then cancel it
                await asyncio.sleep(0)
            if not task.done():
                cancelled_at.add(steps)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            # whatever the moment of the cancellation, the next write works ...
            await store.db.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) "
                                   "VALUES (?, 'R', 0)", (-guild_id,))
            assert await store.db.fetchval("SELECT max_rating FROM guild_settings WHERE guild_id = ?",
                                           (-guild_id,)) == "R"
            # ... and the cancelled one is all or nothing: never the INSERT without its UPDATE
            row = await store.db.fetchone("SELECT updated_at FROM guild_settings WHERE guild_id = ?", (guild_id,))
            assert row is None or row["updated_at"] == 1
        assert not store.db.writer.in_transaction
        assert len(cancelled_at) >= 5, "the loop must really cancel writes in flight"
    finally:
        await store.close()


async def test_a_connection_left_in_a_transaction_is_rolled_back_before_the_next_write(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await store.db.writer.execute("BEGIN IMMEDIATE")  # what an interrupted write leaves behind
        await store.db.writer.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) "
                                      "VALUES (7, 'X', 0)")
        await store.db.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) VALUES (8, 'PG', 0)")
        rows = await store.db.fetchall("SELECT guild_id FROM guild_settings ORDER BY guild_id")
        assert [r["guild_id"] for r in rows] == [8]  # the half-done write is gone, the new one is there
    finally:
        await store.close()


async def test_a_failing_statement_rolls_back_and_frees_the_writer(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        try:
            async with store.db.transaction() as conn:
                await conn.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) "
                                   "VALUES (9, 'PG', 0)")
                await conn.execute("INSERT INTO no_such_table VALUES (1)")
        except sqlite3.OperationalError:
            pass
        else:  # pragma: no cover - the statement above must fail
            raise AssertionError("expected the bad statement to fail")
        assert await store.db.fetchval("SELECT COUNT(*) FROM guild_settings") == 0
        await store.db.execute("INSERT INTO guild_settings (guild_id, max_rating, updated_at) VALUES (10, 'PG', 0)")
        assert await store.db.fetchval("SELECT COUNT(*) FROM guild_settings") == 1
    finally:
        await store.close()
