"""SQLite via aiosqlite: WAL, foreign keys, numbered migrations, one writer.

Three connections to one file:

* the **writer** runs every write inside ``transaction()``, serialised by an asyncio lock so that
  statements of concurrent coroutines never interleave inside one transaction;
* the **reader** answers ``fetchall``/``fetchone``; in WAL mode it reads the last committed state
  without waiting for the writer (autocomplete stays fast while a feed poll writes);
* the **scanner** answers ``scan_fetchall``/``scan_fetchval``: background scans that may take long
  (the vocabulary refresh, /status counts, pruning reads). aiosqlite runs a connection's statements one
  after another on that connection's thread, so a long scan on the reader would hold up every
  autocomplete read queued behind it; on its own connection it never does.

Migrations are the files ``migrations/NNNN_name.sql``, applied in order at open, each in its own
transaction, tracked with ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

T = TypeVar("T")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped with the package, in order."""
    found = []
    for entry in resources.files("bot.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


class Database:
    """The bot's SQLite database. Open with ``await Database.open(path)``; close with ``close()``."""

    def __init__(self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection,
                 scanner: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._scanner = scanner
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None)
        try:
            writer.row_factory = sqlite3.Row
            for pragma in ("journal_mode = WAL", "foreign_keys = ON", "synchronous = NORMAL",
                           "busy_timeout = 5000", "temp_store = MEMORY"):
                await writer.execute(f"PRAGMA {pragma}")
            await _migrate(writer)
        except BaseException:
            await writer.close()
            raise
        read_only_uri = path.resolve().as_uri() + "?mode=ro"
        opened: list[aiosqlite.Connection] = []
        try:
            for _ in range(2):  # the reader, then the scanner
                opened.append(await _open_read_only(read_only_uri))
        except BaseException:
            for conn in opened:
                await conn.close()
            await writer.close()
            raise
        reader, scanner = opened
        return cls(path, writer, reader, scanner)

    async def close(self) -> None:
        await self._scanner.close()
        await self._reader.close()
        async with self._write_lock:
            try:
                await self._writer.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            await self._writer.close()

    # ------------------------------------------------------------------ writes

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """``async with db.transaction() as conn:`` — one ``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled
        back if the block raises (or is cancelled inside the block; a cancellation that arrives
        while ``COMMIT`` runs lets it finish: the write is then committed and the task still sees
        ``CancelledError``).

        Cancellation-safe: aiosqlite runs a statement on its own thread whether or not the awaiting
        task is still there, so ``BEGIN``/``COMMIT``/``ROLLBACK`` are awaited to the end (and the write
        lock held) even when the task is cancelled meanwhile; the cancellation is raised after. A
        connection somehow left inside a transaction is rolled back before the next one begins, so one
        interrupted write can never block every later one."""
        async with self._write_lock:
            if self._writer.in_transaction:
                log.warning("database: a write was left open (interrupted); rolling it back")
                await _settle(self._writer.execute("ROLLBACK"))
            try:
                await _settle(self._writer.execute("BEGIN IMMEDIATE"))
                yield self._writer
            except BaseException:
                if self._writer.in_transaction:
                    await _settle(self._writer.execute("ROLLBACK"))
                raise
            try:
                await _settle(self._writer.execute("COMMIT"))
            except BaseException:
                if self._writer.in_transaction:
                    await _settle(self._writer.execute("ROLLBACK"))
                raise

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """One write statement in its own transaction; returns the number of changed rows."""
        async with self.transaction() as conn:
            cursor = await conn.execute(sql, params)
            return cursor.rowcount

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as conn:
            await conn.executemany(sql, rows)

    # ------------------------------------------------------------------ reads

    async def fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        async with self._reader.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        async with self._reader.execute(sql, params) as cursor:
            return await cursor.fetchone()

    async def fetchval(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        row = await self.fetchone(sql, params)
        return row[0] if row is not None else None

    async def scan_fetchall(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Like ``fetchall``, for background scans that may take long: never delays interactive reads.

        Runs on its own read-only connection (own thread), so autocomplete and the other ``fetchall``/
        ``fetchone`` reads never queue behind it. Scans do queue behind one another here."""
        async with self._scanner.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def scan_fetchval(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        """The first column of the first row of a scan (``scan_fetchall``'s connection); None if none."""
        async with self._scanner.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return row[0] if row is not None else None

    @property
    def writer(self) -> aiosqlite.Connection:
        """The write connection, for tests and tools (e.g. tracing statements). Use ``transaction``."""
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        """The interactive read connection, for tests and tools. Use ``fetchall``/``fetchone``."""
        return self._reader

    @property
    def scanner(self) -> aiosqlite.Connection:
        """The background-scan read connection, for tests and tools. Use ``scan_fetchall``."""
        return self._scanner

    async def schema_version(self) -> int:
        return int(await self.fetchval("PRAGMA user_version") or 0)

    async def size_bytes(self) -> int:
        """Database plus WAL file size on disk."""
        total = 0
        for suffix in ("", "-wal"):
            candidate = self.path.with_name(self.path.name + suffix)
            if candidate.exists():
                total += candidate.stat().st_size
        return total


async def _settle(operation: Awaitable[T]) -> T:
    """Await ``operation`` to its end even if the calling task is cancelled meanwhile, then re-raise
    the cancellation. For transaction boundaries: the statement runs anyway on aiosqlite's thread,
    and the caller must not go on (release the write lock) before it has."""
    task = asyncio.ensure_future(operation)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                # the operation ended (or was itself cancelled) and we were cancelled too: cancellation wins
                if not task.cancelled():
                    task.exception()  # retrieved, so asyncio does not warn about it
                raise
            cancelled = True
            continue
        except BaseException:
            if cancelled:
                raise asyncio.CancelledError() from None
            raise
        if cancelled:
            raise asyncio.CancelledError()
        return result


async def _open_read_only(uri: str) -> aiosqlite.Connection:
    """A read-only connection (``uri`` ends in ``mode=ro``; ``query_only``) that waits up to 5 s on a lock."""
    conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA busy_timeout = 5000")
        await conn.execute("PRAGMA query_only = ON")
    except BaseException:
        await conn.close()
        raise
    return conn


async def _migrate(conn: aiosqlite.Connection) -> None:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    current = int(row[0]) if row else 0
    available = migrations()
    if current > len(available):
        raise MigrationError(
            f"the database is at schema version {current}, newer than this bot knows ({len(available)}); "
            "upgrade the bot or use another database file"
        )
    for version, name, sql in available[current:]:
        log.info("database: applying migration %s", name)
        try:
            await conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                await conn.execute("ROLLBACK")
            raise MigrationError(f"migration {name} failed: {exc}") from exc
