"""The cache in front of the hub client: fresh answers fast, stale ones while refreshing, and cached
ones (marked as such, with their age) when the hub fails.

Freshness of one cached item of age ``a`` with ``ttl = cache.ttl_seconds``:

* ``a < ttl``: served from SQLite, no request;
* ``ttl <= a < ttl * 1.5`` (stale-while-revalidate, the hub's own edge ratio): served from SQLite at
  once, and refreshed from the hub in the background (one refresh per item at a time);
* older, or not cached: asked from the hub and written to SQLite. If the hub fails (unavailable,
  rate-limited, bad response), the cached copy is served with ``stale=True`` and the error; if
  nothing is cached, the error propagates.

Every answer is a ``Fetched`` that says where it came from, so replies can say "cached, 7 min old".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.core.timefmt import describe_age
from bot.hub.client import HubClient, ModelQuery
from bot.hub.errors import (
    HubBadResponse,
    HubError,
    HubNotFound,
    HubRateLimited,
    HubRequestRejected,
    HubUnavailable,
)
from bot.hub.models import Model, ModelVersion, Page, is_hash_like, normalize_hash
from bot.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
SWR_FACTOR = 1.5
#: Hub failures that are served from the cache. 404 and rejected requests are answers, not outages.
OUTAGE_ERRORS = (HubUnavailable, HubRateLimited, HubBadResponse)


def is_outage(error: BaseException) -> bool:
    """An error the cache answers for: the hub (or a proxy in front of it) is not serving. A 400 is
    our request's fault and a 404 is an answer; a 401/403 or a redirect is a blocked or broken edge."""
    if isinstance(error, OUTAGE_ERRORS):
        return True
    return isinstance(error, HubRequestRejected) and error.status != 400


@dataclass(frozen=True, slots=True)
class Fetched(Generic[T]):
    value: T
    fetched_at: float  # unix time the hub produced this data
    from_cache: bool  # served from SQLite rather than a request made now
    stale: bool = False  # the hub could not be asked; this is the last known state
    error: HubError | None = None  # why the hub was not used (when stale)
    local: bool = False  # answered by the local index rather than the hub's own search

    def age_seconds(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)

    def note(self, now: float | None = None) -> str | None:
        """A short notice for replies served from the cache during an outage, else None."""
        if not self.stale:
            return None
        return f"Cached data from {describe_age(self.age_seconds(now))} ago: the hub is not answering."


class HubCache:
    def __init__(self, hub: HubClient, store: Store, *, ttl_seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.store = store
        self.ttl = float(ttl_seconds)
        self.clock = clock
        self._refreshing: dict[str, asyncio.Task[Any]] = {}

    async def close(self) -> None:
        """Cancel background refreshes (on shutdown)."""
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._refreshing.clear()

    # ------------------------------------------------------------------ freshness

    def _state(self, fetched_at: float) -> str:
        age = self.clock() - fetched_at
        if age < self.ttl:
            return "fresh"
        if age < self.ttl * SWR_FACTOR:
            return "revalidate"
        return "expired"

    def _refresh_in_background(self, key: str, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        if key in self._refreshing:
            return

        async def run() -> None:
            try:
                await factory()
            except HubError as exc:
                log.info("cache: background refresh of %s failed: %s", key, exc)
            except Exception:
                log.exception("cache: background refresh of %s crashed", key)
            finally:
                self._refreshing.pop(key, None)

        self._refreshing[key] = asyncio.get_running_loop().create_task(run(), name=f"refresh {key}")

    async def _cached_or_fetch(
        self,
        key: str,
        cached: Fetched[T] | None,
        fetch: Callable[[], Awaitable[Fetched[T]]],
    ) -> Fetched[T]:
        if cached is not None:
            state = self._state(cached.fetched_at)
            if state == "fresh":
                return cached
            if state == "revalidate":
                self._refresh_in_background(key, fetch)  # type: ignore[arg-type]
                return cached
        try:
            return await fetch()
        except HubError as exc:
            if cached is None or not is_outage(exc):
                raise
            log.info("cache: serving %s from the cache (%s)", key, exc)
            return Fetched(cached.value, cached.fetched_at, from_cache=True, stale=True, error=exc,
                           local=cached.local)

    # ------------------------------------------------------------------ models and versions

    async def model(self, model_id: int) -> Fetched[Model]:
        """One model by id. A model the hub no longer has is dropped from the cache."""
        row = await self.store.catalog.get_model(model_id)
        cached = Fetched(row.model, row.fetched_at, from_cache=True) if row else None

        async def fetch() -> Fetched[Model]:
            try:
                model = await self.hub.get_model(model_id)
            except HubNotFound:
                if row is not None:
                    await self.store.catalog.delete_model(model_id)
                raise
            now = self.clock()
            await self.store.catalog.put_models([model], fetched_at=now)
            return Fetched(model, now, from_cache=False)

        return await self._cached_or_fetch(f"model:{model_id}", cached, fetch)

    async def version(self, version_id: int) -> Fetched[ModelVersion]:
        row = await self.store.catalog.get_version(version_id)
        cached = Fetched(row.version, row.fetched_at, from_cache=True) if row else None

        async def fetch() -> Fetched[ModelVersion]:
            version = await self.hub.get_model_version(version_id)
            now = self.clock()
            await self.store.catalog.put_version(version, fetched_at=now)
            return Fetched(version, now, from_cache=False)

        return await self._cached_or_fetch(f"version:{version_id}", cached, fetch)

    async def version_by_hash(self, value: str) -> Fetched[ModelVersion]:
        """The version whose file has this hash (any kind, any case). The local cache answers first;
        the hub is asked when nothing cached matches. ``ValueError`` for text that is no hash."""
        if not is_hash_like(value):
            raise ValueError("not a hash: expected 8, 10, 12 or 64 hexadecimal characters")
        text = normalize_hash(value)
        for version_id in await self.store.catalog.find_versions_by_hash(text):
            row = await self.store.catalog.get_version(version_id)
            if row is not None and self._state(row.fetched_at) != "expired":
                return Fetched(row.version, row.fetched_at, from_cache=True)
            if row is not None:
                try:
                    return await self.version(version_id)
                except HubNotFound:
                    continue  # gone from the hub: fall through to the hash lookup
        version = await self.hub.get_version_by_hash(text)
        now = self.clock()
        await self.store.catalog.put_version(version, fetched_at=now)
        return Fetched(version, now, from_cache=False)

    # ------------------------------------------------------------------ lists and search

    async def models_page(self, query: ModelQuery, *, cursor: str | None = None,
                          limit: int = 100) -> Fetched[Page[Model]]:
        """One page of ``GET /models`` (search, feeds). Pages are cached by query and cursor; the
        models of a page are written in one transaction. When the hub fails and this exact page is not
        cached, a text query is answered from the local full-text index (``local=True``)."""
        key = f"models:{query.key()}|cursor={cursor or ''}|limit={limit}"
        cached_query = await self.store.catalog.get_query(key)
        cached: Fetched[Page[Model]] | None = None
        if cached_query is not None:
            rows = await self.store.catalog.get_models(cached_query.model_ids)
            if len(rows) == len(set(cached_query.model_ids)):
                items = tuple(rows[i].model for i in cached_query.model_ids)
                cached = Fetched(Page(items, next_cursor=cached_query.next_cursor),
                                 cached_query.fetched_at, from_cache=True)

        async def fetch() -> Fetched[Page[Model]]:
            page = await self.hub.list_models(query, cursor=cursor, limit=limit)
            now = self.clock()
            await self.store.catalog.put_page(key, page.items, page.next_cursor, fetched_at=now)
            return Fetched(page, now, from_cache=False)

        try:
            return await self._cached_or_fetch(key, cached, fetch)
        except HubError as exc:
            if cursor is not None or not is_outage(exc):
                raise
            local = await self.local_search(query, limit=min(limit, 100))
            if not local.value.items:
                raise
            return Fetched(local.value, local.fetched_at, from_cache=True, stale=True, error=exc, local=True)

    async def local_search(self, query: ModelQuery, *, limit: int = 25) -> Fetched[Page[Model]]:
        """Answer a model query from SQLite alone (FTS prefix match, most popular first)."""
        hits = await self.store.catalog.search(query.query or "", limit=limit, types=query.types)
        rows = await self.store.catalog.get_models([h.id for h in hits])
        models = [rows[h.id] for h in hits if h.id in rows]
        if query.base_models:
            wanted = set(query.base_models)
            models = [m for m in models if wanted & set(m.model.base_models)]
        oldest = min((m.fetched_at for m in models), default=self.clock())
        return Fetched(Page(tuple(m.model for m in models)), oldest, from_cache=True, local=True)
