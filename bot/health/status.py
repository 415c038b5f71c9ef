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
    jobs = tuple(
        JobInfo(job.id, job.name, getattr(job, "next_run_time", None))
        for job in sorted(scheduler.get_jobs(), key=lambda j: j.id)
    )
    return StatusReport(
        version=__version__,
        uptime_seconds=time.time() - started_at,
        guilds=guilds,
        latency_ms=latency_ms,
        cached_models=await store.catalog.count_models(),
        database_bytes=await store.db.size_bytes(),
        newest_fetch=await store.catalog.newest_fetch(),
        hub=hub,
        jobs=jobs,
        failed_extensions=failed_extensions,
        feeds=await feeds.stats() if feeds is not None else None,
    )
