"""The cache in front of the hub: TTL, stale-while-revalidate, outages served from SQLite (marked, with
their age), local full-text fallback, and cache writes that survive a crash of the process."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.catalog.cache import HubCache
from bot.hub.client import HubClient, ModelQuery
from bot.hub.errors import HubNotFound, HubUnavailable
from bot.store import Store
from tests.fakes.hub_server import FakeHub

PONY = 257749
PONY_V6 = 290640
REPO = Path(__file__).resolve().parents[1]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    async with FakeHub() as fake:
        fake.down_retry_after = "0"
        yield fake


@pytest.fixture
async def client(hub: FakeHub) -> AsyncIterator[HubClient]:
    async with HubClient(hub.base_url, max_attempts=2, backoff_base=0.01, jitter=lambda: 0.0) as c:
        yield c


@pytest.fixture
async def cache(client: HubClient, store: Store) -> AsyncIterator[HubCache]:
    c = HubCache(client, store, ttl_seconds=300, clock=Clock())
    yield c
    await c.close()


@pytest.mark.hub_samples  # the captured models by id or name
async def test_fresh_answers_come_from_sqlite_without_a_request(cache: HubCache, hub: FakeHub) -> None:
    first = await cache.model(PONY)
    assert not first.from_cache and first.value.name == "Pony Diffusion V6 XL"
    cache.clock.now += 299  # type: ignore[attr-defined]
    second = await cache.model(PONY)
    assert second.from_cache and not second.stale and second.value.id == PONY
    assert len(hub.requests_to(f"/api/v1/models/{PONY}")) == 1


@pytest.mark.hub_samples  # the captured models by id or name
async def test_stale_while_revalidate_serves_then_refreshes(cache: HubCache, hub: FakeHub) -> None:
    await cache.model(PONY)
    hub.models[PONY]["name"] = "Pony Diffusion V6 XL (renamed)"
    cache.clock.now += 350  # type: ignore[attr-defined]  # past the TTL, within 1.5 x TTL
    served = await cache.model(PONY)
    assert served.from_cache and served.value.name == "Pony Diffusion V6 XL"  # at once, not waiting
    for _ in range(100):  # the refresh runs in the background
        if len(hub.requests_to(f"/api/v1/models/{PONY}")) == 2 and not cache._refreshing:
            break
        await asyncio.sleep(0.02)
    refreshed = await cache.model(PONY)
    assert refreshed.value.name == "Pony Diffusion V6 XL (renamed)"
    assert len(hub.requests_to(f"/api/v1/models/{PONY}")) == 2


@pytest.mark.hub_samples  # the captured models by id or name
async def test_outage_serves_the_cache_marked_with_its_age(cache: HubCache, hub: FakeHub) -> None:
    await cache.model(PONY)
    cache.clock.now += 3600  # type: ignore[attr-defined]
    hub.down = True
    served = await cache.model(PONY)
    assert served.from_cache and served.stale and isinstance(served.error, HubUnavailable)
    assert served.value.version(PONY_V6) is not None
    assert served.note(now=cache.clock.now) == "Cached data from 60 min ago: the hub is not answering."
    assert [r.status for r in hub.requests_to(f"/api/v1/models/{PONY}")][-2:] == [503, 503]
    # nothing cached: the outage is the answer
    with pytest.raises(HubUnavailable):
        await cache.model(4384)


@pytest.mark.hub_samples  # the captured models by id or name
async def test_ttl_zero_always_asks_but_still_falls_back(client: HubClient, store: Store, hub: FakeHub) -> None:
    cache = HubCache(client, store, ttl_seconds=0)
    await cache.model(PONY)
    await cache.model(PONY)
    assert len(hub.requests_to(f"/api/v1/models/{PONY}")) == 2
    hub.malformed(path=f"/api/v1/models/{PONY}", kind="html")
    served = await cache.model(PONY)
    assert served.stale and served.value.id == PONY


@pytest.mark.hub_samples  # the captured models by id or name
async def test_a_model_gone_from_the_hub_is_dropped(cache: HubCache, hub: FakeHub, store: Store) -> None:
    await cache.model(PONY)
    hub.delete_model(PONY)
    cache.clock.now += 3600  # type: ignore[attr-defined]
    with pytest.raises(HubNotFound):
        await cache.model(PONY)
    assert await store.catalog.get_model(PONY) is None


@pytest.mark.hub_samples  # the captured models by id or name
async def test_hash_lookup_asks_the_local_cache_first(cache: HubCache, hub: FakeHub) -> None:
    page = await cache.models_page(ModelQuery(query="pony"))
    assert PONY in [m.id for m in page.value.items]
    found = await cache.version_by_hash(" 67ab2fd8ec ")
    assert found.from_cache and found.value.id == PONY_V6
    assert not hub.requests_to("/api/v1/model-versions/by-hash")
    other = await cache.version_by_hash("5F06AA6F")  # 2023 version 1318, not cached yet
    assert not other.from_cache and other.value.id == 1318
    again = await cache.version_by_hash("5f06aa6f")
    assert again.from_cache and len(hub.requests_to("/api/v1/model-versions/by-hash")) == 1
    with pytest.raises(ValueError):
        await cache.version_by_hash("zz")


@pytest.mark.hub_samples  # the captured models by id or name
async def test_pages_are_cached_and_outages_fall_back_to_local_search(cache: HubCache, hub: FakeHub) -> None:
    query = ModelQuery(query="realistic", nsfw=True)
    fresh = await cache.models_page(query)
    assert not fresh.from_cache and fresh.value.items
    cached = await cache.models_page(query)
    assert cached.from_cache and [m.id for m in cached.value.items] == [m.id for m in fresh.value.items]

    hub.down = True
    cache.clock.now += 3600  # type: ignore[attr-defined]
    stale = await cache.models_page(query)
    assert stale.stale and [m.id for m in stale.value.items] == [m.id for m in fresh.value.items]
    # a query never asked before: answered by the local index, marked as such
    local = await cache.models_page(ModelQuery(query="majic"))
    assert local.stale and local.local and [m.name for m in local.value.items] == ["majicMIX realistic 麦橘写实"]
    with pytest.raises(HubUnavailable):
        await cache.models_page(ModelQuery(query="no such model anywhere"))


@pytest.mark.hub_samples  # the captured models by id or name
async def test_cache_writes_survive_a_killed_process(tmp_path: Path, hub: FakeHub) -> None:
    db = tmp_path / "bot.sqlite3"
    script = textwrap.dedent(f"""
        import asyncio, os
        from bot.catalog.cache import HubCache
        from bot.hub.client import HubClient, ModelQuery
        from bot.store import Store

        async def main():
            store = await Store.open({str(db)!r})
            hub = HubClient({hub.base_url!r})
            cache = HubCache(hub, store, ttl_seconds=300)
            await cache.models_page(ModelQuery(query="dream"))
            await cache.model({PONY})
            os._exit(0)  # die without closing anything, like a kill -9 after the writes

        asyncio.run(main())
    """)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=REPO, env=dict(os.environ),
                                                stderr=asyncio.subprocess.PIPE)
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()

    hub.down = True
    store = await Store.open(db)
    try:
        async with HubClient(hub.base_url, max_attempts=1) as client:
            cache = HubCache(client, store, ttl_seconds=0)
            pony = await cache.model(PONY)
            assert pony.stale and pony.value.name == "Pony Diffusion V6 XL"
            dream = await cache.models_page(ModelQuery(query="dream"))
            assert "DreamShaper" in [m.name for m in dream.value.items]
    finally:
        await store.close()
