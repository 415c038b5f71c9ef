"""Feed polling during a hub rate-limit storm (issue 8, defect 4).

Each of hundreds of queries used to retry a 429 up to four times, waiting Retry-After each time,
while the feed lock was held: a poll could last hours and kept hitting the hub. Now the first 429
closes the hub client's gate; the poll ends at once, every query keeps its position, and the next
poll after the window finds everything published meanwhile.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.feeds import FeedFilter, FeedService
from bot.hub.client import HubClient
from bot.policy.settings import GuildSettingsService
from bot.store import Store
from tests.fakes.hub_server import FakeHub

# twelve distinct hub queries: one per model type (hub-api.md §4 lists the ModelType values)
TYPES = ("Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
         "Controlnet", "Upscaler", "MotionModule", "VAE", "Poses")


@dataclass
class Rig:
    hub: FakeHub
    client: HubClient
    service: FeedService
    store: Store
    now: list[float]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    now = [10_000.0]
    async with FakeHub(samples=False, generated=30) as hub:
        store = await Store.open(tmp_path / "bot.sqlite3")
        client = HubClient(hub.base_url, backoff_base=0.01, clock=lambda: now[0])
        service = FeedService(client, store, store.feeds, GuildSettingsService(store.settings), poll_interval=600,
                              max_posts_per_poll=50, max_failures=5)
        try:
            yield Rig(hub, client, service, store, now)
        finally:
            await client.aclose()
            await store.close()


async def _subscribe_all(rig: Rig) -> None:
    for index, model_type in enumerate(TYPES):
        await rig.service.add(guild_id=1, channel_id=100 + index, created_by=7,
                              feed_filter=FeedFilter(types=(model_type,)), age_restricted=False)
    await asyncio.sleep(0.01)
    first = await rig.service.poll()  # each query's starting position
    assert first.queries == len(TYPES) and first.failed_queries == 0


async def test_a_429_ends_the_poll_at_once_and_loses_no_query_position(rig: Rig) -> None:
    await _subscribe_all(rig)
    published = {t: rig.hub.publish_model(type=t, image_levels=[1])["modelVersions"][0]["id"] for t in TYPES}

    rig.hub.fail(429, times=10_000, retry_after="120", path="/api/v1/models")
    before = len(rig.hub.requests_to("/api/v1/models"))
    started = time.monotonic()
    report = await rig.service.poll()
    assert time.monotonic() - started < 3.0  # not hours: the feed lock is free again
    assert len(rig.hub.requests_to("/api/v1/models")) - before == 1  # one request met the storm, no more
    assert report.planned == 0 and report.skipped_queries == len(TYPES)  # the one that met it keeps its place

    report = await rig.service.poll()  # still inside Retry-After: nothing is even sent
    assert len(rig.hub.requests_to("/api/v1/models")) - before == 1
    assert report.skipped_queries == len(TYPES)

    rig.hub.clear_faults()
    rig.now[0] += 121  # Retry-After has passed
    report = await rig.service.poll()
    assert report.skipped_queries == 0 and report.failed_queries == 0
    planned = await rig.store.db.fetchall("SELECT channel_id, model_version_id FROM deliveries")
    # every release published during the storm is planned for its feed, once
    assert sorted((r["channel_id"], r["model_version_id"]) for r in planned) == \
        sorted((100 + i, published[t]) for i, t in enumerate(TYPES))


async def test_a_long_storm_backs_off_no_query_and_every_query_is_asked_once_it_ends(rig: Rig) -> None:
    await _subscribe_all(rig)
    for _ in range(6):  # six polls, each meeting a 429 with a long Retry-After
        rig.now[0] += 130
        rig.hub.fail(429, times=1, retry_after="120", path="/api/v1/models")
        report = await rig.service.poll()
        assert report.skipped_queries == len(TYPES) and report.failed_queries == 0
    states = await rig.store.db.fetchall("SELECT failures, retry_at FROM feed_queries")
    assert states and all(r["failures"] == 0 and r["retry_at"] is None for r in states)  # nobody's fault

    rig.now[0] += 130  # the storm is over
    rig.hub.requests.clear()
    report = await rig.service.poll()
    asked = {r.param("types") for r in rig.hub.requests_to("/api/v1/models")}
    assert report.skipped_queries == 0 and asked == set(TYPES)


async def test_an_unreachable_hub_counts_against_the_query_that_met_it_and_it_moves_back(rig: Rig) -> None:
    await _subscribe_all(rig)
    rig.hub.requests.clear()
    await rig.service.poll()
    order = [r.param("types") for r in rig.hub.requests_to("/api/v1/models")]
    assert len(order) == len(TYPES)

    rig.hub.fail(502, times=4, path="/api/v1/models")  # every attempt of one query: no Retry-After
    rig.hub.requests.clear()
    report = await rig.service.poll()
    hit = [r.param("types") for r in rig.hub.requests_to("/api/v1/models")]
    assert set(hit) == {order[0]} and report.failed_queries == 1 and report.skipped_queries == len(TYPES) - 1

    rig.hub.requests.clear()
    await rig.service.poll()
    after = [r.param("types") for r in rig.hub.requests_to("/api/v1/models")]
    # the eleven left behind go first; the one that failed (its first failure: no back-off yet) last
    assert after[: len(TYPES) - 1] == order[1:] and after[-1] == order[0]


async def test_a_members_search_during_a_storm_answers_from_the_cache_without_asking_the_hub(
        tmp_path: Path) -> None:
    from tests.support import bot_world

    async with bot_world(tmp_path, cache={"ttl_seconds": 0}) as world:  # every search asks the hub
        world.hub.publish_model(name="Stormproof Watercolor", type="LORA", image_levels=[1])
        rec = await world.slash("search", options={"query": "Stormproof"})
        await rec.wait_response()
        await rec.wait_original(lambda m: bool(m.get("embeds")))  # the hub's answer, now cached

        world.hub.fail(429, times=10_000, retry_after="120", path="/api/v1/models")
        before = len(world.hub.requests_to("/api/v1/models"))
        for _ in range(3):
            started = time.monotonic()
            rec = await world.slash("search", options={"query": "Stormproof"})
            await rec.wait_response()
            message = await rec.wait_original(lambda m: bool(m.get("embeds")), timeout=5)
            assert time.monotonic() - started < 3.0
            embed = message["embeds"][0]
            assert "Stormproof Watercolor" in embed["description"]
            assert "cached" in embed["footer"]["text"].lower() or "unavailable" in embed["footer"]["text"].lower()
        # the first search met the 429; inside Retry-After no other request reached the hub
        assert len(world.hub.requests_to("/api/v1/models")) - before == 1
