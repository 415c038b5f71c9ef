"""Link intake: a member submits a link to a model file; the bot checks the link, reads what it can
from the header (safetensors, by Range requests), downloads the file once while hashing it, asks
the hub whether it knows the file, scans pickle formats without unpickling them, and hands the
result to the server's moderators. Plain Python: Discord is reached through an ``IntakeReporter``.

Jobs live in SQLite (``bot.store.intake``). At most ``intake.max_concurrent_jobs`` run at once, the
rest queue; a member has one queued or running job at a time. The temporary file is deleted when a
job ends, whatever the end, and at start for jobs a restart cut short (they run again from the link).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from bot.config import IntakeSettings
from bot.core.errors import UserError
from bot.hub.client import HubClient
from bot.hub.errors import HubError, HubNotFound
from bot.intake.detect import Detection, detect_header
from bot.intake.fetch import FileInfo, GuardedFetcher, Progress
from bot.intake.hashes import FileHashes, StreamingHasher
from bot.intake.pickles import PickleScan, scan_file
from bot.intake.safetensors import (
    FIRST_READ_BYTES,
    SafetensorsError,
    SafetensorsHeader,
    missing_header_bytes,
    parse_header,
    read_header_file,
    summarize_metadata,
)
from bot.store.intake import IntakeJobRow, IntakeStore

log = logging.getLogger(__name__)

SAFETENSORS = (".safetensors",)
PICKLES = (".ckpt", ".pt", ".pth", ".bin")
DISK_MARGIN = 256 * 1024 * 1024  # free space kept beyond the file itself
WRITE_BATCH = 1024 * 1024  # bytes gathered before one write to disk (in a worker thread)
REPORT_EVERY = 2.0  # seconds between progress reports of one job (Discord edits)
NOTES_MAX = 500
MAX_ATTEMPTS = 3  # runs a job may start; one cut short by restarts this often fails instead
#: query parameters that carry someone's credentials (Civitai's download ?token=, ...): refused
SECRET_PARAMETERS = frozenset({"token", "api_key", "apikey", "key", "access_token", "auth", "password"})


def queue_step(place: int) -> str:
    """A queued job's step: ``place`` 1 is next."""
    return "queued: next in line" if place <= 1 else f"queued: {place - 1} ahead of it"


class IntakeReporter(Protocol):
    """How the service tells Discord (implemented in ``bot.ui.intake``)."""

    async def progress(self, job: IntakeJobRow, step: str, done: int | None = None, total: int | None = None,
                       rate: float | None = None) -> None:
        """The job's progress message changes (at most every ``REPORT_EVERY`` seconds)."""

    async def finished(self, job: IntakeJobRow) -> None:
        """The job has left ``running``: in review (the moderators' card is due), or failed / duplicate."""


def file_format(name: str | None) -> str | None:
    """``safetensors`` or ``pickle`` by the file name's extension; None for anything else."""
    lowered = (name or "").lower()
    if lowered.endswith(SAFETENSORS):
        return "safetensors"
    if lowered.endswith(PICKLES):
        return "pickle"
    return None


class IntakeService:
    def __init__(self, settings: IntakeSettings, store: IntakeStore, hub: HubClient, *, hub_base_url: str,
                 fetcher: GuardedFetcher | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.store = store
        self.hub = hub
        self.hub_base_url = hub_base_url.rstrip("/")
        self.fetcher = fetcher or GuardedFetcher(settings)
        self.work_dir = Path(settings.work_dir)
        self.reporter: IntakeReporter | None = None
        self._clock = clock
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancelled: set[int] = set()
        self._pump_lock = asyncio.Lock()
        self._closing = False
        self._last_report: dict[int, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._start_lock = asyncio.Lock()
        self._started = False
        self._reserved: dict[int, int] = {}  # disk space promised to running jobs
        self._reporting: dict[int, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Once per process, before any job runs (idempotent; ``submit`` calls it too): forget the temp
        files of the previous run, queue again what a restart cut short, and start the queue. Running
        it after a job has started would queue that job a second time."""
        async with self._start_lock:
            if self._started:
                return
            await asyncio.to_thread(self._remove_orphans)
            requeued, given_up = await self.store.requeue_interrupted(max_attempts=MAX_ATTEMPTS)
            if requeued or given_up:
                log.info("intake: %d job(s) queued again after a restart, %d given up", len(requeued), len(given_up))
            self._started = True
        # what a restart left untold: jobs given up, and cards that never reached the moderators
        for job in [*given_up, *await self.store.without_card()]:
            await self._tell_finished(job)
        await self._pump()

    def _remove_orphans(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for orphan in self.work_dir.glob("job-*.part"):
            orphan.unlink(missing_ok=True)

    async def aclose(self) -> None:
        """Stop: running jobs are cancelled and stay 'running' in SQLite, so the next start queues
        them again (their temp files are deleted now)."""
        self._closing = True
        async with self._pump_lock:  # a start in progress finishes first; none starts after this
            pass
        for pending in [*self._reporting.values(), *self._background]:
            pending.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.fetcher.aclose()

    def running(self) -> list[int]:
        return sorted(self._tasks)

    # ------------------------------------------------------------------ members' actions

    async def submit(self, *, guild_id: int, channel_id: int | None, user_id: int, url: str,
                     notes: str | None) -> tuple[IntakeJobRow, int]:
        """Queue a link (refused on its face at once: scheme, host, credentials, literal addresses,
        keys in the query). Returns the job and its place in the queue (1: next). Nothing runs until
        ``kick()``: the caller first sets up where the job reports."""
        url = url.strip()
        self.fetcher.check_url(url)  # FetchRefused is a UserError: shown as is
        secret = next((k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)
                       if k.lower() in SECRET_PARAMETERS), None)
        if secret is not None:
            raise UserError(f"The link carries a key (`{secret}=`): remove it. Links must work without anyone's "
                            "key, and the bot never stores or shows one.")
        await self.start()  # before the first job: a later start() would take it for an interrupted one
        notes = (notes or "").strip()[:NOTES_MAX] or None
        job = await self.store.create(guild_id=guild_id, channel_id=channel_id, user_id=user_id, url=url, notes=notes)
        if job is None:
            mine = await self.store.active_of(user_id)
            raise UserError(f"You have a submission in progress already (#{mine.id if mine else '?'}): "
                            "wait for it, or `/intake cancel` it.")
        return job, await self.store.queue_position(job.id)

    async def kick(self) -> None:
        """Start what the queue allows (after ``submit``, once the job's reply exists)."""
        await self._pump()

    async def get(self, job_id: int, guild_id: int) -> IntakeJobRow:
        job = await self.store.get(job_id)
        if job is None or job.guild_id != guild_id:
            raise UserError(f"This server has no submission #{job_id}.")
        return job

    async def cancel(self, job_id: int, guild_id: int, *, by: int, moderator: bool) -> IntakeJobRow:
        job = await self.get(job_id, guild_id)
        if job.user_id != by and not moderator:
            raise UserError("Only the member who submitted it, or a moderator, can cancel a submission.")
        self._cancelled.add(job_id)
        moved = await self.store.move(job_id, "cancelled", only_from=("queued", "running", "review"),
                                      step="cancelled", decided_by=by, decided_at=time.time())
        if moved is None:
            self._cancelled.discard(job_id)
            raise UserError(f"Submission #{job_id} is {job.state} already: nothing to cancel.")
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return moved

    async def decide(self, job_id: int, guild_id: int, *, by: int, approve: bool, reason: str | None = None
                     ) -> IntakeJobRow:
        """A moderator's decision on a job in review. Only the first decision counts."""
        job = await self.get(job_id, guild_id)
        moved = await self.store.move(job_id, "approved" if approve else "rejected", only_from=("review",),
                                      decided_by=by, decided_at=time.time(),
                                      decision_reason=(reason or "").strip()[:500] or None)
        if moved is None:
            raise UserError(f"Submission #{job_id} is {job.state} already.")
        return moved

    async def queue(self, guild_id: int) -> list[IntakeJobRow]:
        """This server's jobs in progress and awaiting a decision, oldest first."""
        return await self.store.in_states(("running", "queued", "review"), guild_id=guild_id)

    async def position(self, job_id: int) -> int:
        return await self.store.queue_position(job_id)

    async def set_report_message(self, job_id: int, channel_id: int, message_id: int) -> None:
        await self.store.note(job_id, report_channel_id=channel_id, report_message_id=message_id)

    async def set_card(self, job_id: int, channel_id: int, message_id: int) -> None:
        await self.store.note(job_id, card_channel_id=channel_id, card_message_id=message_id)

    def draft(self, job: IntakeJobRow) -> dict[str, Any]:
        """What the hub's create form needs, for an approved job (a JSON attachment)."""
        result = job.result
        detection = result.get("detection") or {}
        metadata = result.get("metadata") or {}
        name = (metadata.get("title") or Path(job.file_name or "model").stem).strip()
        return {
            "name": name,
            "type": detection.get("model_type"),
            "baseModel": detection.get("base_model"),
            "trainedWords": list(metadata.get("trigger_words") or []),
            "file": {"name": job.file_name, "sizeKB": round((job.size or 0) / 1024, 3),
                     "hashes": result.get("hashes") or {}, "format": (result.get("file") or {}).get("format")},
            "scan": (result.get("scan") or {}).get("verdict"),
            "source": job.url,
            "notes": job.notes,
            "createUrl": f"{self.hub_base_url}/models/create",
        }

    # ------------------------------------------------------------------ the queue

    async def _pump(self) -> None:
        """Start queued jobs while there is room; tell the others their place."""
        async with self._pump_lock:
            if self._closing or not self._started:
                return
            room = self.settings.max_concurrent_jobs - len(self._tasks)
            queued = await self.store.in_states(("queued",), limit=500)
            for job in queued[:max(0, room)]:
                if self._closing:
                    return
                started = await self.store.move(job.id, "running", only_from=("queued",), step="starting",
                                                attempts=job.attempts + 1)
                if started is not None:
                    self._tasks[job.id] = asyncio.create_task(self._run(started), name=f"intake job {job.id}")
            waiting = queued[max(0, room):]
        for place, job in enumerate(waiting, start=1):  # told outside the lock: Discord may be slow
            await self._report(job, queue_step(place), force=True)

    async def _run(self, job: IntakeJobRow) -> None:
        path = self.work_dir / f"job-{job.id}.part"
        try:
            outcome = await self._process(job, path)
        except asyncio.CancelledError:
            if job.id in self._cancelled:
                log.info("intake: job %d cancelled", job.id)
            await asyncio.to_thread(path.unlink, missing_ok=True)
            self._forget(job.id)
            self._next()
            return  # shutting down: the job stays 'running' and is queued again at the next start
        except (UserError, SafetensorsError, HubError) as exc:
            reason = exc.message if isinstance(exc, UserError) else str(exc) if isinstance(exc, SafetensorsError) \
                else exc.user_message
            outcome = await self.store.move(job.id, "failed", only_from=("running",), step="failed", error=reason)
        except Exception:
            log.exception("intake: job %d failed unexpectedly", job.id)
            outcome = await self.store.move(job.id, "failed", only_from=("running",), step="failed",
                                            error="something unexpected went wrong (the bot's log has the details)")
        await asyncio.to_thread(path.unlink, missing_ok=True)
        self._reserved.pop(job.id, None)
        try:
            if outcome is not None:  # still counted as running meanwhile: shutdown waits for the report
                await self._tell_finished(outcome)
        finally:
            self._forget(job.id)
            self._next()

    def _next(self) -> None:
        """The next queued job's turn (not while shutting down)."""
        if not self._closing:
            pump = asyncio.get_running_loop().create_task(self._pump())
            self._background.add(pump)
            pump.add_done_callback(self._background.discard)

    def _forget(self, job_id: int) -> None:
        self._tasks.pop(job_id, None)
        self._last_report.pop(job_id, None)
        self._reserved.pop(job_id, None)
        self._cancelled.discard(job_id)

    async def _tell_finished(self, job: IntakeJobRow) -> None:
        if self.reporter is None:
            return
        try:
            await self.reporter.finished(job)
        except Exception:
            log.exception("intake: could not report the end of job %d", job.id)

    # ------------------------------------------------------------------ one job

    async def _process(self, job: IntakeJobRow, path: Path) -> IntakeJobRow | None:
        url = job.url
        await self._report(job, "checking the link", force=True)
        info = await self.fetcher.probe(url)
        name = info.file_name or "file"
        fmt = file_format(name)
        if fmt is None:
            raise UserError(f"`{name[:100]}` is not a model file this bot checks: it takes .safetensors, "
                            f"and .ckpt, .pt, .pth or .bin (scanned, never loaded).")
        if info.size == 0:
            raise UserError("the file is empty")
        self._reserve_disk(job.id, info.size)
        result: dict[str, Any] = {"file": {"name": name, "format": fmt, "declared_size": info.size,
                                           "host_sha256": info.sha256, "ranges": info.ranges}}
        job = await self._note(job, file_name=name, size=info.size, result=result)
        if info.sha256 and (duplicate := await self._duplicate(info.sha256, result)):
            return await self.store.move(job.id, "duplicate", only_from=("running",), step="already on the hub",
                                         result={**result, "duplicate": duplicate})

        header: SafetensorsHeader | None = None
        if fmt == "safetensors" and info.size is not None:
            await self._report(job, "reading the header")
            header = await self._remote_header(url, info)
            self._describe(result, header, name)
            job = await self._note(job, result=result)

        hashes = await self._download(job, url, path, info)
        if info.sha256 and info.sha256.upper() != hashes.sha256:
            raise UserError("the file's SHA-256 is not the one its host announced: it changed meanwhile, or the "
                            "host is wrong. Submit it again.")
        result["file"]["size"] = hashes.size
        result["hashes"] = {**hashes.for_hub(), "CRC32 (zlib order)": hashes.crc32_zlib}
        if fmt == "safetensors":
            await self._report(job, "checking the file", force=True)
            on_disk = await asyncio.to_thread(read_header_file, path)
            if header is not None and on_disk.shapes() != header.shapes():
                raise UserError("the file differs from the header the server showed first: submit it again")
            self._describe(result, on_disk, name)
            result["scan"] = {"verdict": "safe", "summary": "safetensors: tensors and text only, no code",
                              "globals": [], "notes": []}
        else:
            await self._report(job, "scanning the pickles (never loading them)", force=True)
            scan: PickleScan = await asyncio.to_thread(scan_file, path)
            result["scan"] = {"verdict": scan.verdict.value, "summary": scan.summary(), "format": scan.format,
                              "globals": list(scan.offending)[:50], "notes": list(scan.notes)[:10]}
        await asyncio.to_thread(path.unlink, missing_ok=True)  # done with the file: nothing is kept
        job = await self._note(job, size=hashes.size, result=result)
        if duplicate := await self._duplicate(hashes.sha256, result):
            return await self.store.move(job.id, "duplicate", only_from=("running",), step="already on the hub",
                                         result={**result, "duplicate": duplicate})
        return await self.store.move(job.id, "review", only_from=("running",), step="waiting for a moderator",
                                     result=result)

    async def _remote_header(self, url: str, info: FileInfo) -> SafetensorsHeader:
        """The header from Range requests: the first 100 kB, then exactly what is missing."""
        assert info.size is not None
        first = await self.fetcher.read_range(url, 0, min(FIRST_READ_BYTES, info.size) - 1)
        prefix = first.data
        missing = missing_header_bytes(prefix)
        if missing:
            more = await self.fetcher.read_range(url, len(prefix), len(prefix) + missing - 1)
            prefix += more.data
        return parse_header(prefix, info.size)

    @staticmethod
    def _describe(result: dict[str, Any], header: SafetensorsHeader, file_name: str) -> None:
        detection: Detection = detect_header(header, file_name=file_name)
        summary = summarize_metadata(header.metadata)
        result["detection"] = {k: v for k, v in asdict(detection).items() if k not in ("evidence",)}
        result["detection"]["evidence"] = list(detection.evidence)[:8]
        result["tensors"] = len(header.tensors)
        result["header_notes"] = list(header.notes)[:10]
        result["metadata"] = {
            "highlights": summary.highlights()[:12],
            "trigger_words": list(summary.trigger_words),
            "top_tags": [tag for tag, _ in summary.top_tags[:10]],
            "title": summary.get("modelspec.title") or summary.get("ss_output_name"),
            "removed_data_urls": len(summary.removed_data_urls),
        }

    async def _download(self, job: IntakeJobRow, url: str, path: Path, info: FileInfo) -> FileHashes:
        await self._report(job, "downloading", 0, info.size, 0.0, force=True)

        async def progress(p: Progress) -> None:
            await self._report(job, "downloading", p.received, p.total, p.bytes_per_second, force=p.done)

        self.work_dir.mkdir(parents=True, exist_ok=True)
        async with self.fetcher.stream(url, max_bytes=info.size, on_progress=progress) as body, \
                StreamingHasher() as hasher:
            with path.open("wb") as handle:
                pending = bytearray()
                async for chunk in body:
                    await hasher.feed(chunk)
                    pending += chunk
                    if len(pending) >= WRITE_BATCH:
                        await asyncio.to_thread(handle.write, bytes(pending))
                        pending.clear()
                if pending:
                    await asyncio.to_thread(handle.write, bytes(pending))
            hashes = await hasher.finish()
        if info.size is not None and hashes.size != info.size:
            raise UserError(f"the download has {hashes.size:,} bytes where the server announced {info.size:,}: "
                            "try again later")
        return hashes

    async def _duplicate(self, sha256: str, result: dict[str, Any]) -> dict[str, Any] | None:
        """The hub's model version with this SHA-256, if any (a hub outage is noted, not fatal)."""
        try:
            version = await self.hub.get_version_by_hash(sha256)
        except HubNotFound:
            return None
        except HubError as exc:
            result.setdefault("warnings", []).append(f"could not ask the hub about duplicates: {exc.user_message}")
            return None
        model_id = version.model_id
        url = f"{self.hub_base_url}/models/{model_id}?modelVersionId={version.id}" if model_id else None
        return {"model_id": model_id, "version_id": version.id, "name": version.model_name or version.name,
                "version": version.name, "url": url}

    def _reserve_disk(self, job_id: int, size: int | None) -> None:
        """Room for this file (``max_file_bytes`` when the host does not say), beyond what the other
        running jobs may still write."""
        need = size if size is not None else self.settings.max_file_bytes
        self.work_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.work_dir).free - sum(self._reserved.values())
        if free < need + DISK_MARGIN:
            raise UserError(f"not enough free disk space for a {need / 2**30:.1f} GiB file right now: "
                            "try again later")
        self._reserved[job_id] = need

    async def _note(self, job: IntakeJobRow, **fields: Any) -> IntakeJobRow:
        return await self.store.note(job.id, **fields) or job

    async def _report(self, job: IntakeJobRow, step: str, done: int | None = None, total: int | None = None,
                      rate: float | None = None, *, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_report.get(job.id, float("-inf")) < REPORT_EVERY:
            return
        self._last_report[job.id] = now
        await self.store.note(job.id, step=step)
        if self.reporter is None:
            return
        if force:
            await self._send_progress(job, step, done, total, rate)
        elif job.id not in self._reporting:  # never hold the download for Discord: one edit in flight
            task = asyncio.get_running_loop().create_task(self._send_progress(job, step, done, total, rate))
            self._reporting[job.id] = task
            task.add_done_callback(lambda _: self._reporting.pop(job.id, None))

    async def _send_progress(self, job: IntakeJobRow, step: str, done: int | None, total: int | None,
                             rate: float | None) -> None:
        assert self.reporter is not None
        try:
            await self.reporter.progress(job, step, done, total, rate)
        except Exception as exc:  # a report that fails must not fail the job
            log.warning("intake: progress of job %d not shown: %s", job.id, exc)


