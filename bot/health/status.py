"""What ``/status`` reports, gathered without Discord."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

from bot import __version__
from bot.hub.client import HubHealth
from bot.store import Store
from bot.store.feeds import FeedStore

DIGEST_JOBS = "digest-"  # the ids of the digests' jobs (bot.digests.service.JOB_PREFIX; a sibling package)


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    name: str
    next_run: datetime | None


@dataclass(frozen=True, slots=True)
class StatusReport:
    version: str
    uptime_seconds: float
    guilds: int
    latency_ms: float | None
    cached_models: int
    database_bytes: int
    newest_fetch: float | None
    hub: HubHealth
    jobs: tuple[JobInfo, ...]
    failed_extensions: tuple[str, ...]
    feeds: dict[str, Any] | None = None  # subscription states, pending posts, oldest pending, last poll


async def collect(store: Store, hub: HubHealth, scheduler: BaseScheduler, *, started_at: float, guilds: int,
                  latency_ms: float | None, failed_extensions: tuple[str, ...] = (),
                  feeds: FeedStore | None = None) -> StatusReport:
    jobs: list[JobInfo] = []
    digest_times: list[datetime | None] = []
    for job in sorted(scheduler.get_jobs(), key=lambda j: j.id):
        if job.id.startswith(DIGEST_JOBS):  # one line for all: each server's digests are its own business
            digest_times.append(getattr(job, "next_run_time", None))
        else:
            jobs.append(JobInfo(job.id, job.name, getattr(job, "next_run_time", None)))
    if digest_times:
        upcoming = [t for t in digest_times if t is not None]
        jobs.append(JobInfo(DIGEST_JOBS, f"article digests ({len(digest_times)})", min(upcoming, default=None)))
    return StatusReport(
        version=__version__,
        uptime_seconds=time.time() - started_at,
        guilds=guilds,
        latency_ms=latency_ms,
        cached_models=await store.catalog.count_models(),
        database_bytes=await store.db.size_bytes(),
        newest_fetch=await store.catalog.newest_fetch(),
        hub=hub,
        jobs=tuple(jobs),
        failed_extensions=failed_extensions,
        feeds=await feeds.stats() if feeds is not None else None,
    )
