"""The hub client against the loopback hub: endpoints, headers, retries honouring Retry-After (checked
on the server's request log and timings), typed errors, timeouts and the concurrency cap."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator

import pytest

from bot.core.rating import Rating
from bot.hub.client import USER_AGENT, HubClient, ModelQuery, parse_retry_after
from bot.hub.errors import HubBadResponse, HubNotFound, HubRateLimited, HubRequestRejected, HubUnavailable
from tests.fakes.hub_server import FakeHub

PONY = 257749
PONY_V6 = 290640


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    async with FakeHub(generated=150) as fake:
        yield fake


@pytest.fixture
async def client(hub: FakeHub) -> AsyncIterator[HubClient]:
    async with HubClient(hub.base_url, api_key="hub-secret-key", backoff_base=0.05,
                         jitter=lambda: 0.0) as c:
        yield c


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


async def test_model_by_id_with_headers(client: HubClient, hub: FakeHub) -> None:
    model = await client.get_model(PONY)
    assert model.name == "Pony Diffusion V6 XL" and model.version(PONY_V6) is not None
    request = hub.requests_to(f"/api/v1/models/{PONY}")[0]
    assert request.headers["Authorization"] == "Bearer hub-secret-key"
    assert request.headers["User-Agent"] == USER_AGENT and "hubbot" in USER_AGENT


async def test_no_authorization_header_without_a_key(hub: FakeHub) -> None:
    async with HubClient(hub.base_url) as anonymous:
        await anonymous.get_model(PONY)
    assert "Authorization" not in hub.requests_to("/api/v1/models")[0].headers


async def test_list_models_sends_repeated_filters_and_pages_with_cursors(client: HubClient, hub: FakeHub) -> None:
    query = ModelQuery(types=("LORA", "Checkpoint"), sort="Newest", nsfw=True)
    seen: list[int] = []
    async for page in client.iter_model_pages(query, limit=25, max_pages=50):
        seen += [m.id for m in page.items]
    assert len(seen) == len(set(seen)) > 25
    first = hub.requests_to("/api/v1/models")[0]
    assert sorted(first.params("types")) == ["Checkpoint", "LORA"]
    assert first.param("sort") == "Newest" and first.param("nsfw") == "true" and first.param("limit") == "25"
    assert all(r.param("cursor") for r in hub.requests_to("/api/v1/models")[1:])
    expected = {m["id"] for m in hub.models.values() if m.get("type") in ("LORA", "Checkpoint")}
    assert set(seen) == expected


def test_equal_queries_have_equal_keys() -> None:
    a = ModelQuery(types=("LORA", "Checkpoint"), base_models=("SDXL 1.0",), query=" cat ")
    b = ModelQuery(types=("Checkpoint", "LORA", "LORA"), base_models=("SDXL 1.0",), query="cat")
    assert a.key() == b.key() and a.key() != ModelQuery(types=("LORA",)).key()


async def test_retry_after_is_honoured_on_503(client: HubClient, hub: FakeHub) -> None:
    hub.fail(503, times=2, retry_after="1", path=f"/api/v1/models/{PONY}")
    started = time.monotonic()
    model = await client.get_model(PONY)
    assert model.id == PONY
    requests = hub.requests_to(f"/api/v1/models/{PONY}")
    assert [r.status for r in requests] == [503, 503, 200]
    gaps = _gaps([r.time for r in requests])
    assert all(1.0 <= gap < 1.6 for gap in gaps), gaps
    assert time.monotonic() - started >= 2.0
    assert client.health.retries == 2 and client.health.healthy


async def test_429_with_retry_after_then_success(client: HubClient, hub: FakeHub) -> None:
    hub.fail(429, times=1, retry_after="1", path="/api/v1/model-versions")
    version = await client.get_model_version(PONY_V6)
    assert version.id == PONY_V6
    requests = hub.requests_to("/api/v1/model-versions")
    assert [r.status for r in requests] == [429, 200]
    assert _gaps([r.time for r in requests])[0] >= 1.0


async def test_a_retry_after_too_long_to_wait_fails_at_once(client: HubClient, hub: FakeHub) -> None:
    hub.fail(429, times=5, retry_after="120", path="/api/v1/models")
    with pytest.raises(HubRateLimited) as caught:
        await client.list_models(ModelQuery(query="pony"))
    assert caught.value.retry_after == 120
    assert len(hub.requests_to("/api/v1/models")) == 1


async def test_5xx_backs_off_exponentially_then_gives_up(hub: FakeHub) -> None:
    hub.fail(502, times=10, path="/api/v1/models")
    async with HubClient(hub.base_url, max_attempts=3, backoff_base=0.2, jitter=lambda: 1.0) as c:
        with pytest.raises(HubUnavailable):
            await c.get_model(PONY)
        assert c.health.consecutive_failures == 1 and "HTTP 502" in (c.health.last_error or "")
    requests = hub.requests_to("/api/v1/models")
    assert len(requests) == 3
    first, second = _gaps([r.time for r in requests])
    assert 0.2 <= first < 0.5 and 0.4 <= second < 0.8  # 0.2 s then 0.4 s


async def test_not_found_and_rejected_are_never_retried(client: HubClient, hub: FakeHub) -> None:
    with pytest.raises(HubNotFound):
        await client.get_model(999_999_999)
    assert len(hub.requests_to("/api/v1/models/999999999")) == 1
    hub.fail(400, times=3, path="/api/v1/tags")
    with pytest.raises(HubRequestRejected) as caught:
        await client.list_tags(query="anime")
    assert caught.value.status == 400 and len(hub.requests_to("/api/v1/tags")) == 1
    with pytest.raises(HubNotFound):
        await client.get_model(0)  # out of the hub's id range: not even asked
    assert not hub.requests_to("/api/v1/models/0")


@pytest.mark.parametrize("kind", ["truncated", "html", "empty", "wrong_shape", "not_json"])
async def test_malformed_answers_are_bad_responses(client: HubClient, hub: FakeHub, kind: str) -> None:
    hub.malformed(path="/api/v1/models", kind=kind)
    with pytest.raises(HubBadResponse):
        await client.list_models(ModelQuery(query="pony"))
    assert (await client.list_models(ModelQuery(query="pony"))).items  # the next answer is fine


async def test_timeouts_and_refused_connections_are_unavailable(hub: FakeHub) -> None:
    hub.delay = 1.0
    async with HubClient(hub.base_url, timeout=0.2, max_attempts=2, backoff_base=0.01) as slow:
        with pytest.raises(HubUnavailable, match="timed out"):
            await slow.get_model(PONY)
    hub.delay = 0.0
    port = hub.port
    await hub.stop()
    async with HubClient(f"http://127.0.0.1:{port}", max_attempts=2, backoff_base=0.01) as refused:
        with pytest.raises(HubUnavailable):
            await refused.get_model(PONY)
        assert refused.health.last_error and "ConnectError" in refused.health.last_error


async def test_concurrency_is_capped(hub: FakeHub) -> None:
    hub.delay = 0.3
    async with HubClient(hub.base_url, max_concurrency=2) as capped:
        started = time.monotonic()
        await asyncio.gather(*(capped.get_model(PONY) for _ in range(6)))
        assert time.monotonic() - started >= 0.85  # three rounds of two
    arrivals = sorted(r.time for r in hub.requests_to(f"/api/v1/models/{PONY}"))
    assert arrivals[2] - arrivals[0] >= 0.25 and arrivals[4] - arrivals[2] >= 0.25


async def test_images_always_carry_an_explicit_browsing_level(client: HubClient, hub: FakeHub) -> None:
    page = await client.list_images(browsing_level=int(Rating.PG | Rating.PG13), model_version_id=PONY_V6)
    request = hub.requests_to("/api/v1/images")[0]
    assert request.param("browsingLevel") == "3"
    assert all(image.level & ~3 == 0 for image in page.items)
    with pytest.raises(ValueError):
        await client.list_images(browsing_level=0)


async def test_by_hash_accepts_any_kind_case_and_whitespace(client: HubClient, hub: FakeHub) -> None:
    for value in ("  67ab2fd8ec ", "E023C143436D", "67AB2FD8EC439A89B3FEDB15CC65F54336AF163C7EB5E4F2ACC98F090A29B0B3",
                  "cfad6694"):
        version = await client.get_version_by_hash(value)
        assert version.id == PONY_V6 and version.model_id == PONY
    assert hub.requests_to("/api/v1/model-versions/by-hash/67AB2FD8EC")
    with pytest.raises(ValueError):
        await client.get_version_by_hash("not-a-hash")
    with pytest.raises(HubNotFound):
        await client.get_version_by_hash("0" * 64)
    bulk = await client.get_versions_by_hashes(
        ["67AB2FD8EC439A89B3FEDB15CC65F54336AF163C7EB5E4F2ACC98F090A29B0B3".lower()])
    assert [v.id for v in bulk] == [PONY_V6]


async def test_2023_version_tags_creators_and_articles(client: HubClient) -> None:
    old = await client.get_model_version(1318)
    assert old.model_name == "froggy style" and old.primary_file is not None
    assert old.primary_file.hashes["AutoV1"] == "5F06AA6F"
    tags = await client.list_tags(limit=5)
    assert tags.items and all(t.name for t in tags.items)
    creators = await client.list_creators(limit=5)
    assert creators.items and all(c.username for c in creators.items)


async def test_articles_list_and_detail() -> None:
    async with FakeHub(samples=False, articles=12) as hub, HubClient(hub.base_url) as c:
        page = await c.list_articles(limit=5)
        assert len(page.items) == 5 and page.next_cursor
        first = page.items[0]
        detail = await c.get_article(first.id)
        assert detail.content and detail.title == first.title
        assert detail.stats.engagement == first.stats.engagement  # list and detail keys differ
        request = hub.requests_to("/api/v1/articles")[0]
        assert request.param("nsfw") == "false"


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("-5") == 0.0 and parse_retry_after("nan") is None


async def test_undecodable_bodies_and_odd_answers_are_typed() -> None:
    """A proxy in front of the hub can send a body that claims gzip and is not, or a redirect."""
    import httpx

    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models/1"):
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"definitely not gzip")
        if request.url.path.endswith("/models/2"):
            return httpx.Response(302, headers={"Location": "https://elsewhere.example/"})
        return httpx.Response(200, content=b"[" * 100_000)  # nests deeper than json can parse

    async with HubClient("https://hub.example", transport=httpx.MockTransport(broken), max_attempts=1) as c:
        with pytest.raises(HubBadResponse, match="undecodable"):
            await c.get_model(1)
        with pytest.raises(HubRequestRejected):
            await c.get_model(2)
        with pytest.raises(HubBadResponse, match="malformed JSON"):
            await c.get_model(3)
