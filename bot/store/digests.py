"""Article digests and the record of their periods (an outbox: planned -> sent, each period once)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.hub.models import as_datetime
from bot.store.db import Database
from bot.store.meta import nonce_salt

STATES = ("active", "failing", "disabled")
RUN_STATES = ("planned", "sent", "empty", "missed", "dropped")
_EPOCH = datetime.fromtimestamp(0).astimezone()


class _Stale(Exception):
    """The run was settled, or its digest removed or disabled, while it was being sent."""


@dataclass(frozen=True, slots=True)
class DigestRow:
    id: int
    guild_id: int
    channel_id: int
    created_by: int
    schedule: str
    day: int | None
    hour: int
    timezone: str
    tags: tuple[str, ...]
    size: int
    state: str
    state_changed_at: float
    started_at: datetime
    created_at: float
    failures: int
    retry_at: float | None
    last_error: str | None
    last_error_at: float | None


@dataclass(frozen=True, slots=True)
class DigestRun:
    id: int
    digest_id: int | None
    guild_id: int
    channel_id: int
    period_start: datetime
    period_end: datetime
    state: str
    nonce: str
    attempts: int
    attempted_at: float | None
    deferrals: int
    last_error: str | None
    message_id: int | None
    articles: tuple[int, ...]
    planned_at: float
    settled_at: float | None


def _digest(row: Any) -> DigestRow:
    return DigestRow(
        id=row["id"], guild_id=row["guild_id"], channel_id=row["channel_id"], created_by=row["created_by"],
        schedule=row["schedule"], day=row["day"], hour=row["hour"], timezone=row["timezone"],
        tags=tuple(json.loads(row["tags"])), size=row["size"], state=row["state"],
        state_changed_at=row["state_changed_at"], started_at=as_datetime(row["started_at"]) or _EPOCH,
        created_at=row["created_at"], failures=row["failures"], retry_at=row["retry_at"],
        last_error=row["last_error"], last_error_at=row["last_error_at"],
    )


def _run(row: Any) -> DigestRun:
    return DigestRun(
        id=row["id"], digest_id=row["digest_id"], guild_id=row["guild_id"], channel_id=row["channel_id"],
        period_start=as_datetime(row["period_start"]) or _EPOCH, period_end=as_datetime(row["period_end"]) or _EPOCH,
        state=row["state"], nonce=row["nonce"], attempts=row["attempts"], attempted_at=row["attempted_at"],
        deferrals=row["deferrals"], last_error=row["last_error"], message_id=row["message_id"],
        articles=tuple(json.loads(row["articles"] or "[]")), planned_at=row["planned_at"],
        settled_at=row["settled_at"],
    )


class DigestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ digests

    async def add(self, *, guild_id: int, channel_id: int, created_by: int, schedule: str, day: int | None,
                  hour: int, timezone: str, tags: Sequence[str], size: int, started_at: str) -> int:
        now = time.time()
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO digests (guild_id, channel_id, created_by, schedule, day, hour, timezone, tags, size, "
                "started_at, created_at, state_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, created_by, schedule, day, hour, timezone, json.dumps(list(tags)), size,
                 started_at, now, now))
            return int(cursor.lastrowid or 0)

    async def get(self, digest_id: int, *, guild_id: int | None = None) -> DigestRow | None:
        """A digest (of ``guild_id`` only, when given)."""
        row = await self.db.fetchone("SELECT * FROM digests WHERE id = ? AND (? IS NULL OR guild_id = ?)",
                                     (digest_id, guild_id, guild_id))
        return _digest(row) if row else None

    async def all(self) -> list[DigestRow]:
        return [_digest(r) for r in await self.db.fetchall("SELECT * FROM digests ORDER BY id")]

    async def for_guild(self, guild_id: int) -> list[DigestRow]:
        rows = await self.db.fetchall("SELECT * FROM digests WHERE guild_id = ? ORDER BY id", (guild_id,))
        return [_digest(r) for r in rows]

    async def count_for_guild(self, guild_id: int) -> int:
        return int(await self.db.fetchval("SELECT count(*) FROM digests WHERE guild_id = ?", (guild_id,)) or 0)

    async def remove(self, digest_id: int) -> None:
        """Delete a digest. Its sent periods stay recorded; a period still owed is dropped."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE digest_runs SET state = 'dropped', settled_at = ? "
                               "WHERE digest_id = ? AND state = 'planned'", (time.time(), digest_id))
            await conn.execute("DELETE FROM digests WHERE id = ?", (digest_id,))

    async def record_failure(self, digest_id: int, *, error: str, state: str, retry_at: float | None) -> None:
        """One refusal by the channel: ``state`` failing (until ``retry_at``) or disabled."""
        now = time.time()
        await self.db.execute(
            "UPDATE digests SET failures = failures + 1, retry_at = ?, last_error = ?, last_error_at = ?, "
            "state_changed_at = CASE WHEN state = ? THEN state_changed_at ELSE ? END, state = ? WHERE id = ?",
            (retry_at, error, now, state, now, state, digest_id))

    async def record_success(self, digest_id: int) -> None:
        now = time.time()
        await self.db.execute(
            "UPDATE digests SET failures = 0, retry_at = NULL, "
            "state_changed_at = CASE WHEN state = 'failing' THEN ? ELSE state_changed_at END, "
            "state = CASE WHEN state = 'failing' THEN 'active' ELSE state END WHERE id = ?", (now, digest_id))

    # ------------------------------------------------------------------ the record of periods (outbox)

    async def plan_run(self, digest: DigestRow, period_start: str, period_end: str) -> DigestRun:
        """The run of this digest's period, created as planned if there is none yet (a nonce fixed
        once: a resend after a crash carries the same one)."""
        salt = await nonce_salt(self.db)
        nonce = f"d{salt}{digest.id:x}.{secrets.token_hex(4)}"
        await self.db.execute(
            "INSERT OR IGNORE INTO digest_runs (digest_id, guild_id, channel_id, period_start, period_end, nonce, "
            "planned_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest.id, digest.guild_id, digest.channel_id, period_start, period_end, nonce, time.time()))
        run = await self.run_for(digest.id, period_end)
        assert run is not None
        return run

    async def run_for(self, digest_id: int, period_end: str) -> DigestRun | None:
        row = await self.db.fetchone("SELECT * FROM digest_runs WHERE digest_id = ? AND period_end = ?",
                                     (digest_id, period_end))
        return _run(row) if row else None

    async def get_run(self, run_id: int) -> DigestRun | None:
        row = await self.db.fetchone("SELECT * FROM digest_runs WHERE id = ?", (run_id,))
        return _run(row) if row else None

    async def open_runs(self, digest_id: int) -> list[DigestRun]:
        """This digest's periods still owed (planned), oldest first."""
        rows = await self.db.fetchall("SELECT * FROM digest_runs WHERE digest_id = ? AND state = 'planned' "
                                      "ORDER BY period_end", (digest_id,))
        return [_run(r) for r in rows]

    async def latest_runs(self, digest_ids: Sequence[int], *, sent: bool = False) -> dict[int, DigestRun]:
        """Each digest's latest period on record (``sent``: its latest period that was sent)."""
        if not digest_ids:
            return {}
        marks = ",".join("?" * len(digest_ids))
        only = "AND {}.state = 'sent'" if sent else ""
        rows = await self.db.fetchall(
            f"SELECT r.* FROM digest_runs r WHERE r.digest_id IN ({marks}) {only.format('r')} AND r.period_end = "
            f"(SELECT max(x.period_end) FROM digest_runs x WHERE x.digest_id = r.digest_id {only.format('x')})",
            list(digest_ids))
        return {r["digest_id"]: _run(r) for r in rows}

    async def mark_attempt(self, run_id: int) -> bool:
        """Committed BEFORE the send: after a crash, an attempted period is looked for in the channel
        before it is sent again. False (nothing marked) when the run was settled or its digest removed
        or disabled meanwhile."""
        try:
            async with self.db.transaction() as conn:
                before = conn.total_changes
                await conn.execute(
                    "UPDATE digest_runs SET attempts = attempts + 1, attempted_at = ? WHERE id = ? "
                    "AND state = 'planned' AND EXISTS (SELECT 1 FROM digests d WHERE d.id = digest_runs.digest_id "
                    "AND d.state IN ('active', 'failing'))", (time.time(), run_id))
                if conn.total_changes == before:
                    raise _Stale()
        except _Stale:
            return False
        return True

    async def mark_sent(self, run_id: int, message_id: int, articles: Sequence[int] | None) -> None:
        await self.db.execute(
            "UPDATE digest_runs SET state = 'sent', message_id = ?, settled_at = ?, "
            "articles = coalesce(?, articles) WHERE id = ?",
            (message_id, time.time(), json.dumps(list(articles)) if articles is not None else None, run_id))

    async def settle(self, run_id: int, state: str, *, error: str | None = None) -> None:
        """A period that sends nothing: ``empty`` (no articles), ``missed`` (its time ran out) or
        ``dropped`` (Discord rejected the message)."""
        assert state in RUN_STATES and state not in ("planned", "sent")
        await self.db.execute(
            "UPDATE digest_runs SET state = ?, settled_at = ?, last_error = coalesce(?, last_error) "
            "WHERE id = ? AND state = 'planned'", (state, time.time(), error, run_id))

    async def defer(self, run_id: int, error: str) -> int:
        """The hub or Discord said "not now": counted; returns how many times in all."""
        async with self.db.transaction() as conn:
            await conn.execute("UPDATE digest_runs SET deferrals = deferrals + 1, last_error = ? WHERE id = ?",
                               (error, run_id))
            row = await (await conn.execute("SELECT deferrals FROM digest_runs WHERE id = ?", (run_id,))).fetchone()
        return int(row[0]) if row else 0
