"""One not-before time per hub and per rate-limit family (issue 8, defect 4).

A 429 used to be handled per request: during a storm each of hundreds of callers retried up to four
times, each waiting Retry-After, and kept hitting the hub. Now a 429 closes the gate of its family
(the articles endpoints have their own bucket at the hub: hub-api.md §7) until Retry-After; inside
that window no request reaches the hub, and callers fail at once (and serve their cache) unless the
gate opens within a few seconds, in which case they wait for it together.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.hub.client import HubClient, ModelQuery
from bot.hub.errors import HubRateLimited, HubUnavailable
from tests.fakes.hub_server import FakeHub


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    async with FakeHub(samples=False, generated=60, articles=10) as fake:
        yield fake


async def test_a_429_stops_every_caller_without_a_request_until_retry_after(hub: FakeHub) -> None:
    hub.fail(429, times=1000, retry_after="30", path="/api/v1/models")
    async with HubClient(hub.base_url, backoff_base=0.01) as client:
        started = time.monotonic()
        results = await asyncio.gather(
            *(client.list_models(ModelQuery(query=f"q{i}", sort="Newest")) for i in range(50)),
            *(client.get_model(1_000_000 + i) for i in range(50)),
            return_exceptions=True)
        elapsed = time.monotonic() - started
    assert all(isinstance(r, HubRateLimited) for r in results), results[:3]
    assert elapsed < 2.0  # fail fast: callers serve their cache instead of waiting 30 s
    # the first answer closed the gate; requests already in flight (at most the concurrency cap, 4)
    # may have been answered 429 too, but nobody retried and nobody else was sent
    assert 1 <= len(hub.requests_to("/api/v1/models")) <= 4
    assert all(isinstance(r, HubRateLimited) and r.retry_after and 25 < r.retry_after <= 30 for r in results)


async def test_the_articles_family_has_its_own_gate(hub: FakeHub) -> None:
    async with HubClient(hub.base_url, backoff_base=0.01) as client:
        hub.fail(429, times=1000, retry_after="60", path="/api/v1/models")
        with pytest.raises(HubRateLimited):
            await client.list_models(ModelQuery(sort="Newest"))
        assert (await client.list_articles(limit=5)).items  # another bucket: still open
        hub.clear_faults()
        hub.fail(429, times=1000, retry_after="60", path="/api/v1/articles")
        with pytest.raises(HubRateLimited):
            await client.list_articles(limit=5)
        before = len(hub.requests_to("/api/v1/articles"))
        with pytest.raises(HubRateLimited):
            await client.get_article(1)
        assert len(hub.requests_to("/api/v1/articles")) == before  # closed: not even sent
        # /models is still closed by its own 429 a moment ago, although the hub would answer now
        with pytest.raises(HubRateLimited):
            await client.list_models(ModelQuery(sort="Newest"))
        assert len(hub.requests_to("/api/v1/models")) == 1


async def test_a_short_retry_after_is_waited_for_together_then_everyone_proceeds(hub: FakeHub) -> None:
    hub.fail(429, times=1, retry_after="1", path="/api/v1/models")
    async with HubClient(hub.base_url, backoff_base=0.01, max_concurrency=1) as client:
        first = asyncio.create_task(client.list_models(ModelQuery(sort="Newest")))
        await asyncio.sleep(0.2)  # the 429 has been answered: the gate is closed for ~1 s
        others = [client.list_models(ModelQuery(query=f"x{i}", sort="Newest")) for i in range(5)]
        pages = await asyncio.gather(first, *others)
    assert all(page is not None for page in pages)
    requests = hub.requests_to("/api/v1/models")
    limited_at = requests[0].time
    assert len(requests) == 7  # the 429, then each of the six callers once: no retry storms
    assert all(r.time >= limited_at + 0.95 for r in requests[1:])  # nobody inside the window


async def test_a_503_with_retry_after_pauses_its_own_family(hub: FakeHub) -> None:
    # hub-api.md §3: the /images bulkhead answers 503 + Retry-After when full
    hub.fail(503, times=1, retry_after="45", path="/api/v1/images")
    async with HubClient(hub.base_url, backoff_base=0.01) as client:
        with pytest.raises(HubUnavailable):
            await client.list_images(browsing_level=1, limit=5)
        with pytest.raises(HubUnavailable):
            await client.list_images(browsing_level=1, limit=3)  # closed: not even sent
        assert (await client.list_models(ModelQuery(sort="Newest"))).items  # /models is another family
    assert len(hub.requests_to("/api/v1/images")) == 1


async def test_retry_after_zero_is_not_a_burst_of_immediate_retries(hub: FakeHub) -> None:
    hub.fail(429, times=1000, retry_after="0", path="/api/v1/models")
    async with HubClient(hub.base_url, backoff_base=0.5, max_attempts=4) as client:
        results = await asyncio.gather(*(client.list_models(ModelQuery(query=f"z{i}")) for i in range(20)),
                                       return_exceptions=True)
    assert all(isinstance(r, HubRateLimited) for r in results)
    # a growing backoff closes the gate between tries: nothing like 20 callers x 4 attempts
    assert len(hub.requests_to("/api/v1/models")) <= 4 + 4


async def test_the_gate_opens_when_retry_after_has_passed(hub: FakeHub) -> None:
    now = [1000.0]
    hub.fail(429, times=1, retry_after="20", path="/api/v1/models")
    async with HubClient(hub.base_url, backoff_base=0.01, clock=lambda: now[0]) as client:
        with pytest.raises(HubRateLimited):
            await client.list_models(ModelQuery(sort="Newest"))
        now[0] += 15  # 5 s left: longer than callers wait
        with pytest.raises(HubRateLimited):
            await client.list_models(ModelQuery(sort="Newest"))
        assert len(hub.requests_to("/api/v1/models")) == 1
        now[0] += 5.5
        assert (await client.list_models(ModelQuery(sort="Newest"))).items
    assert len(hub.requests_to("/api/v1/models")) == 2
