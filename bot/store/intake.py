"""Link-intake jobs (table ``intake_jobs``, migration 0010): their states and what each step found.

State changes that race (a moderator's click against another's, a cancel against the end of a run)
are single conditional UPDATEs: the caller learns whether its change won."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.store.db import Database

ACTIVE = ("queued", "running")
FINAL = ("approved", "rejected", "failed", "duplicate", "cancelled")


@dataclass(frozen=True, slots=True)
class IntakeJobRow:
    id: int
    guild_id: int
    channel_id: int | None
    user_id: int
    url: str
    notes: str | None
    state: str
    step: str | None
    attempts: int
    file_name: str | None
    size: int | None
    result: dict[str, Any]
    error: str | None
    report_channel_id: int | None
    report_message_id: int | None
    card_channel_id: int | None
    card_message_id: int | None
    decided_by: int | None
    decision_reason: str | None
    decided_at: float | None
    created_at: float
    updated_at: float


def _row(r: sqlite3.Row) -> IntakeJobRow:
    try:
        result = json.loads(r["result"]) if r["result"] else {}
    except ValueError:
        result = {}
    return IntakeJobRow(
        r["id"], r["guild_id"], r["channel_id"], r["user_id"], r["url"], r["notes"], r["state"], r["step"],
        r["attempts"], r["file_name"], r["size"], result if isinstance(result, dict) else {}, r["error"],
        r["report_channel_id"], r["report_message_id"], r["card_channel_id"], r["card_message_id"],
        r["decided_by"], r["decision_reason"], r["decided_at"], r["created_at"], r["updated_at"])


class IntakeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, guild_id: int, channel_id: int | None, user_id: int, url: str,
                     notes: str | None) -> IntakeJobRow | None:
        """A new queued job, unless the member already has one queued or running, in any server (None
        then): one download per member at a time."""
        now = time.time()
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM intake_jobs WHERE user_id = ? AND state IN ('queued', 'running')",
                                    (user_id,)) as cursor:
                if await cursor.fetchone() is not None:
                    return None
            cursor = await conn.execute(
                "INSERT INTO intake_jobs (guild_id, channel_id, user_id, url, notes, state, step, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 'waiting for its turn', ?, ?)",
                (guild_id, channel_id, user_id, url, notes, now, now))
            job_id = cursor.lastrowid
            async with conn.execute("SELECT * FROM intake_jobs WHERE id = ?", (job_id,)) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return _row(row)

    async def get(self, job_id: int) -> IntakeJobRow | None:
        row = await self.db.fetchone("SELECT * FROM intake_jobs WHERE id = ?", (job_id,))
        return _row(row) if row else None

    async def active_of(self, user_id: int) -> IntakeJobRow | None:
        row = await self.db.fetchone("SELECT * FROM intake_jobs WHERE user_id = ? AND state IN ('queued', 'running') "
                                     "ORDER BY id LIMIT 1", (user_id,))
        return _row(row) if row else None

    async def in_states(self, states: Iterable[str], *, guild_id: int | None = None, limit: int = 100
                        ) -> list[IntakeJobRow]:
        """Jobs in these states, oldest first (everywhere, or in one server)."""
        wanted = tuple(states)
        marks = ", ".join("?" for _ in wanted)
        where = f"state IN ({marks})" + (" AND guild_id = ?" if guild_id is not None else "")
        params: tuple[Any, ...] = (*wanted, guild_id) if guild_id is not None else wanted
        rows = await self.db.fetchall(f"SELECT * FROM intake_jobs WHERE {where} ORDER BY id LIMIT ?",
                                      (*params, limit))
        return [_row(r) for r in rows]

    async def queue_position(self, job_id: int) -> int:
        """1 for the next job to start; 0 when the job is not queued."""
        return int(await self.db.fetchval(
            "SELECT CASE WHEN (SELECT state FROM intake_jobs WHERE id = ?) = 'queued' THEN "
            "(SELECT count(*) FROM intake_jobs WHERE state = 'queued' AND id <= ?) ELSE 0 END",
            (job_id, job_id)) or 0)

    async def move(self, job_id: int, to: str, *, only_from: Iterable[str], **fields: Any) -> IntakeJobRow | None:
        """Change the state (and ``fields``) if the job is in one of ``only_from``; the new row, or None
        when it was not (someone else changed it first)."""
        return await self._update(job_id, {"state": to, **fields}, only_from=tuple(only_from))

    async def note(self, job_id: int, **fields: Any) -> IntakeJobRow | None:
        """Record progress (``step``, ``file_name``, ``size``, ``result``, report message ...)."""
        return await self._update(job_id, fields, only_from=None)

    async def _update(self, job_id: int, fields: Mapping[str, Any], *, only_from: tuple[str, ...] | None
                      ) -> IntakeJobRow | None:
        columns = dict(fields)
        unknown = set(columns) - _COLUMNS
        if unknown:
            raise ValueError(f"not intake_jobs columns: {sorted(unknown)}")
        if "result" in columns and not isinstance(columns["result"], str | None):
            columns["result"] = json.dumps(columns["result"], separators=(",", ":"))
        columns["updated_at"] = time.time()
        assignments = ", ".join(f"{name} = ?" for name in columns)
        where, params = "id = ?", [*columns.values(), job_id]
        if only_from is not None:
            where += f" AND state IN ({', '.join('?' for _ in only_from)})"
            params += list(only_from)
        async with self.db.transaction() as conn:
            cursor = await conn.execute(f"UPDATE intake_jobs SET {assignments} WHERE {where}", params)
            if cursor.rowcount == 0:
                return None
            async with conn.execute("SELECT * FROM intake_jobs WHERE id = ?", (job_id,)) as cursor:
                row = await cursor.fetchone()
        return _row(row) if row else None

    async def requeue_interrupted(self, *, max_attempts: int) -> tuple[list[IntakeJobRow], list[IntakeJobRow]]:
        """At start: jobs a restart cut short go back to the queue (they start again from the link),
        unless they were cut short ``max_attempts`` times (a job that takes the bot down with it must
        not do so at every start): those fail. Returns (the queue, the jobs that failed now)."""
        failed: list[IntakeJobRow] = []
        if await self.db.fetchval("SELECT count(*) FROM intake_jobs WHERE state = 'running'"):  # no write if none
            now = time.time()
            async with self.db.transaction() as conn:
                async with conn.execute("SELECT id FROM intake_jobs WHERE state = 'running' AND attempts >= ?",
                                        (max_attempts,)) as cursor:
                    dead = [r[0] for r in await cursor.fetchall()]
                await conn.execute(
                    "UPDATE intake_jobs SET state = 'failed', step = 'failed', error = ?, updated_at = ? "
                    "WHERE state = 'running' AND attempts >= ?",
                    (f"the bot restarted during it {max_attempts} times: it is not tried again", now, max_attempts))
                await conn.execute("UPDATE intake_jobs SET state = 'queued', step = 'restarted: waiting for its turn', "
                                   "updated_at = ? WHERE state = 'running'", (now,))
            failed = [job for job in [await self.get(i) for i in dead] if job is not None]
        return await self.in_states(("queued",), limit=1000), failed

    async def without_card(self) -> list[IntakeJobRow]:
        """Jobs in review whose card never reached the moderators (a failed post, a restart between the
        end of the run and the card): posted again at start."""
        rows = await self.db.fetchall("SELECT * FROM intake_jobs WHERE state = 'review' AND card_message_id IS NULL "
                                      "ORDER BY id")
        return [_row(r) for r in rows]


_COLUMNS = frozenset({"state", "step", "attempts", "file_name", "size", "result", "error", "report_channel_id",
                      "report_message_id", "card_channel_id", "card_message_id", "decided_by", "decision_reason",
                      "decided_at"})
