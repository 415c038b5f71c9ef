"""The loopback fake hub (tests/fakes/hub_server.py) and its data (tests/fakes/hub_data.py).

Everything talks HTTP to the running fake with httpx; nothing reaches the internet.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.media import blurhash
from tests.conftest import samples_skip_reason
from tests.fakes import hub_data
from tests.fakes.hub_server import SAMPLE_STANDINS, STANDIN_START_ID, FakeHub

API = "/api/v1"
CDN = hub_data.CDN_PREFIX


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    async with FakeHub(generated=120, articles=25, seed=7) as h:
        yield h


@pytest.fixture
async def client(hub: FakeHub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as c:
        yield c


async def walk(
    client: httpx.AsyncClient, path: str, params: list[tuple[str, Any]], *, max_pages: int = 500
) -> list[dict[str, Any]]:
    """Follow ``metadata.nextCursor`` to the end; return every page body."""
    pages = []
    cursor = None
    for _ in range(max_pages):
        q = list(params) + ([("cursor", cursor)] if cursor else [])
        r = await client.get(path, params=q)
        assert r.status_code == 200, r.text
        body = r.json()
        pages.append(body)
        cursor = body["metadata"].get("nextCursor")
        if cursor is None:
            return pages
    raise AssertionError("paging did not end")


def ids_of(pages: list[dict[str, Any]]) -> list[int]:
    return [item["id"] for page in pages for item in page["items"]]


def latest_published(model: dict[str, Any]) -> str:
    return max(v.get("publishedAt") or v.get("createdAt") for v in model["modelVersions"])


def all_images(model: dict[str, Any]) -> list[dict[str, Any]]:
    return [img for v in model["modelVersions"] for img in v["images"]]


# ------------------------------------------------------------------------------------- /models paging


async def test_cursor_paging_visits_every_model_exactly_once(hub: FakeHub, client: httpx.AsyncClient) -> None:
    for nsfw in (False, True):
        pages = await walk(client, f"{API}/models", [("limit", 7), ("nsfw", str(nsfw).lower())])
        ids = ids_of(pages)
        assert len(ids) == len(set(ids))
        assert set(ids) == set(hub.visible_model_ids(nsfw=nsfw))
        assert all(len(p["items"]) == 7 for p in pages[:-1])
        assert "nextCursor" not in pages[-1]["metadata"] and "nextPage" not in pages[-1]["metadata"]
    assert len(hub.visible_model_ids(nsfw=True)) > len(hub.visible_model_ids(nsfw=False))

    # the cursor is the sort key of the last item (thumbsUp|downloads|id for Highest Rated) and
    # nextPage is a ready-made URL on this server
    r = await client.get(f"{API}/models", params={"limit": 3})
    body = r.json()
    last = body["items"][-1]
    assert body["metadata"]["nextCursor"] == (
        f"{last['stats']['thumbsUpCount']}|{last['stats']['downloadCount'] or 0}|{last['id']}"
    )
    follow = await client.get(body["metadata"]["nextPage"])
    direct = await client.get(f"{API}/models", params={"limit": 3, "cursor": body["metadata"]["nextCursor"]})
    assert ids_of([follow.json()]) == ids_of([direct.json()])
    assert not set(ids_of([body])) & set(ids_of([follow.json()]))


async def test_default_sort_is_highest_rated(client: httpx.AsyncClient) -> None:
    pages = await walk(client, f"{API}/models", [("limit", 50), ("nsfw", "true")])
    # 2023-shaped samples have no thumbs: the fake ranks them by favoriteCount
    keys = [
        (m["stats"].get("thumbsUpCount", m["stats"].get("favoriteCount")), m["stats"]["downloadCount"] or 0, m["id"])
        for p in pages
        for m in p["items"]
    ]
    assert keys == sorted(keys, reverse=True)


async def test_page_paging_and_limits(client: httpx.AsyncClient) -> None:
    r1 = await client.get(f"{API}/models", params={"limit": 5, "page": 1})
    r2 = await client.get(f"{API}/models", params={"limit": 5, "page": 2})
    m1, m2 = r1.json()["metadata"], r2.json()["metadata"]
    assert (m1["currentPage"], m1["pageSize"]) == (1, 5)
    assert (m2["currentPage"], m2["pageSize"]) == (2, 5)
    assert "page=2" in m1["nextPage"]
    assert not set(ids_of([r1.json()])) & set(ids_of([r2.json()]))

    r = await client.get(f"{API}/models", params={"limit": 100, "page": 11})
    assert r.status_code == 429
    assert r.json() == {"error": "You've requested too many pages, please use cursors instead"}

    r = await client.get(f"{API}/models", params={"query": "style", "page": 2})
    assert r.status_code == 400
    assert r.json() == {"error": "Cannot use page param with query search. Use cursor-based pagination."}

    r = await client.get(f"{API}/models", params={"limit": 101})
    assert r.status_code == 400
    issue = r.json()["error"]["issues"][0]
    assert r.json()["error"]["name"] == "ZodError" and issue["path"] == ["limit"] and issue["code"] == "too_big"

    r = await client.get(f"{API}/models", params={"types": "Lora"})  # enum values are case-sensitive
    assert r.status_code == 400 and r.json()["error"]["issues"][0]["code"] == "invalid_enum_value"

    r = await client.get(f"{API}/models", params={"limit": 0})
    assert r.status_code == 200 and r.json()["items"] == []


async def test_cursor_skip_bug_and_empty_pages_knobs() -> None:
    async with FakeHub(samples=False, generated=60, seed=3, cursor_skip_bug=True) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as c:
            pages = await walk(c, f"{API}/models", [("limit", 10), ("nsfw", "true")])
            seen = ids_of(pages)
            # civitai#1372: the first item of every page after the first is lost
            assert len(seen) == len(set(seen)) == 60 - (len(pages) - 1)

    async with FakeHub(samples=False, generated=80, seed=3, empty_pages=True) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as c:
            pages = await walk(c, f"{API}/models", [("limit", 10), ("types", "Checkpoint"), ("nsfw", "true")])
            expected = {m["id"] for m in hub.models.values() if m["type"] == "Checkpoint"}
            # civitai#1848: filters applied after paging -> short/empty pages that still carry a cursor
            assert set(ids_of(pages)) == expected
            assert any(len(p["items"]) < 10 and p["metadata"].get("nextCursor") for p in pages)
            assert len(pages) == 8


# ------------------------------------------------------------------------------------- filters


async def test_filter_types_repeated_and_comma(hub: FakeHub, client: httpx.AsyncClient) -> None:
    params = [("types", "LORA"), ("types", "Checkpoint"), ("nsfw", "true"), ("limit", 100)]
    repeated = ids_of(await walk(client, f"{API}/models", params))
    comma = ids_of(await walk(client, f"{API}/models", [("types", "LORA,Checkpoint"), ("nsfw", "true")]))
    expected = {m["id"] for m in hub.models.values() if m["type"] in ("LORA", "Checkpoint")}
    assert set(repeated) == set(comma) == expected
    assert {hub.models[i]["type"] for i in repeated} == {"LORA", "Checkpoint"}
    # the request log keeps the repeated parameter
    rec = hub.requests_to(f"{API}/models")[0]
    assert rec.params("types") == ["LORA", "Checkpoint"]


async def test_filter_base_models_tag_username_query(hub: FakeHub, client: httpx.AsyncClient) -> None:
    pages = await walk(client, f"{API}/models", [("baseModels", "Illustrious"), ("baseModels", "Pony")])
    got = ids_of(pages)
    assert got
    for mid in got:
        assert {v["baseModel"] for v in hub.models[mid]["modelVersions"]} & {"Illustrious", "Pony"}

    tag = hub.models[1_000_003]["tags"][0]
    r = await client.get(f"{API}/models", params={"tag": tag.upper(), "nsfw": "true"})
    items = r.json()["items"]
    assert items and all(tag.lower() in [t.lower() for t in m["tags"]] for m in items)

    creator = hub.models[1_000_003]["creator"]["username"]
    r = await client.get(f"{API}/models", params={"username": creator.upper(), "nsfw": "true"})
    items = r.json()["items"]
    assert items and {m["creator"]["username"] for m in items} == {creator}
    assert {m["id"] for m in items} == {m["id"] for m in hub.models.values() if m["creator"]["username"] == creator}

    # query: case-insensitive on name, tags and creator
    named = hub.models[1_000_005]
    r = await client.get(f"{API}/models", params={"query": named["name"].upper(), "nsfw": "true"})
    assert named["id"] in ids_of([r.json()])
    r = await client.get(f"{API}/models", params={"query": creator.lower(), "nsfw": "true"})
    assert hub.models[1_000_003]["id"] in ids_of([r.json()])
    r = await client.get(f"{API}/models", params={"query": "zzzz-no-such-model"})
    assert r.json() == {"items": [], "metadata": {}}


async def test_nsfw_default_hides_non_pg_models_and_filters_images(hub: FakeHub, client: httpx.AsyncClient) -> None:
    hidden = hub.publish_model(image_levels=[8, 16], type="LORA")
    assert hidden["nsfwLevel"] == 24
    mixed = hub.publish_model(image_levels=[1, 4, 2, 16], type="LORA")

    default = await walk(client, f"{API}/models", [("sort", "Newest")])
    models = [m for p in default for m in p["items"]]
    assert hidden["id"] not in {m["id"] for m in models}
    assert all(m["nsfwLevel"] & 1 for m in models if "nsfwLevel" in m)
    assert not any(m.get("nsfw") for m in models if "nsfwLevel" not in m)  # 2023 shape: legacy bool
    assert all(img.get("nsfwLevel", 1) == 1 and not img.get("nsfw") for m in models for img in all_images(m))
    shown = next(m for m in models if m["id"] == mixed["id"])
    assert [img["nsfwLevel"] for img in all_images(shown)] == [1]

    everything = await walk(client, f"{API}/models", [("sort", "Newest"), ("nsfw", "true")])
    models = {m["id"]: m for p in everything for m in p["items"]}
    assert hidden["id"] in models
    assert [img["nsfwLevel"] for img in all_images(models[mixed["id"]])] == [1, 4, 2, 16]
    assert any(img["nsfwLevel"] > 2 for m in models.values() for img in all_images(m) if "nsfwLevel" in img)
    # /models caps embedded images at 10 per version
    assert max(len(v["images"]) for m in models.values() for v in m["modelVersions"]) == 10
    assert max(len(v["images"]) for m in hub.models.values() for v in m["modelVersions"]) > 10


async def test_sort_newest_by_latest_version(hub: FakeHub, client: httpx.AsyncClient) -> None:
    pages = await walk(client, f"{API}/models", [("sort", "Newest"), ("nsfw", "true"), ("limit", 30)])
    stamps = [latest_published(m) for p in pages for m in p["items"]]
    assert stamps == sorted(stamps, reverse=True)
    assert re.fullmatch(r"\d{13}\|\d+", pages[0]["metadata"]["nextCursor"])

    # a new version of an old model moves it to the top
    old = min(hub.models.values(), key=latest_published)
    version = hub.publish_version(old["id"], name="v9 fresh", image_levels=[1])
    r = await client.get(f"{API}/models", params={"sort": "Newest", "limit": 1})
    top = r.json()["items"][0]
    assert top["id"] == old["id"]
    assert top["modelVersions"][0]["id"] == version["id"] and top["modelVersions"][0]["index"] == 0

    oldest = await client.get(f"{API}/models", params={"sort": "Oldest", "limit": 5, "nsfw": "true"})
    stamps = [latest_published(m) for m in oldest.json()["items"]]
    assert stamps == sorted(stamps)

    # period filters on the latest version's publish time
    week_ago = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 7 * 86400))
    recent = {m["id"] for m in hub.models.values() if latest_published(m) >= week_ago}
    r = await client.get(f"{API}/models", params={"sort": "Newest", "period": "Week", "nsfw": "true"})
    assert old["id"] in recent and set(ids_of([r.json()])) == recent


# ------------------------------------------------------------------------------------- detail endpoints


async def test_model_detail_and_errors(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = hub.publish_model(image_levels=[1, 8], n_versions=2)
    r = await client.get(f"{API}/models/{model['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "s-maxage=300" in r.headers["cache-control"]
    detail = r.json()
    v = detail["modelVersions"][0]
    assert {"createdAt", "status", "covered"} <= v.keys() and "supportsGeneration" not in v
    assert v["status"] == "Published" and v["createdAt"] <= v["publishedAt"]
    assert [i["nsfwLevel"] for i in v["images"]] == [1, 8]  # all levels, unfiltered
    assert all("id" not in i for i in v["images"])  # the id only lives in the URL filename

    r = await client.get(f"{API}/models/424242")
    assert (r.status_code, r.json()) == (404, {"error": "No model with id 424242"})
    for bad in ("abc", "0", "99999999999", "1.5"):
        r = await client.get(f"{API}/models/{bad}")
        assert r.status_code == 400, bad
        assert r.json()["error"]["issues"][0]["path"] == ["id"]


async def test_model_version_endpoint(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = hub.models[1_000_010]
    version = model["modelVersions"][0]
    r = await client.get(f"{API}/model-versions/{version['id']}")
    body = r.json()
    assert body["id"] == version["id"] and body["modelId"] == model["id"]
    assert body["model"] == {"name": model["name"], "type": model["type"], "nsfw": model["nsfw"], "poi": False}
    assert body["air"].endswith(f":civitai:{model['id']}@{version['id']}")
    assert set(body["stats"]) == {"downloadCount", "thumbsUpCount"}
    assert [f["primary"] for f in body["files"]].count(True) == 1
    assert all(isinstance(f["primary"], bool) for f in body["files"])
    assert len(body["images"]) == min(10, len(version["images"]))
    for img, src in zip(body["images"], version["images"], strict=False):
        assert "meta" in img and (img["meta"] is None) == (not src["hasMeta"])
        if img["meta"]:
            assert img["meta"]["civitaiResources"] == [{"type": "checkpoint", "modelVersionId": version["id"]}]

    r = await client.get(f"{API}/model-versions/77")
    assert (r.status_code, r.json()) == (404, {"error": "Model not found"})


async def test_by_hash_every_kind_case_insensitive(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = next(m for m in hub.models.values() if m["id"] >= 1_000_000 and len(m["modelVersions"]) > 1)
    version = model["modelVersions"][1]
    hashes = version["files"][0]["hashes"]
    assert {"AutoV1", "AutoV2", "SHA256", "CRC32", "BLAKE3"} <= hashes.keys()
    for kind, value in hashes.items():
        for variant in (value, value.lower()):
            r = await client.get(f"{API}/model-versions/by-hash/{variant}")
            assert r.status_code == 200, kind
            assert r.json()["id"] == version["id"] and r.json()["modelId"] == model["id"]
    assert "s-maxage=3600" in r.headers["cache-control"]

    # a prefix is not a match (exact compare against the stored lengths)
    r = await client.get(f"{API}/model-versions/by-hash/{hashes['SHA256'][:20]}")
    assert (r.status_code, r.json()) == (404, {"error": "Model not found"})


async def test_by_hash_duplicates_resolve_to_earliest(hub: FakeHub, client: httpx.AsyncClient) -> None:
    first = hub.publish_model(published_at="2024-01-01T00:00:00.000Z", n_versions=1)
    second = hub.publish_model(published_at="2025-01-01T00:00:00.000Z", n_versions=1)
    shared = first["modelVersions"][0]["files"][0]["hashes"]
    second["modelVersions"][0]["files"][0]["hashes"] = dict(shared)
    hub.add_model(second)  # re-index after editing
    r = await client.get(f"{API}/model-versions/by-hash/{shared['SHA256']}")
    assert r.json()["id"] == first["modelVersions"][0]["id"]
    hub.unpublish_version(first["modelVersions"][0]["id"])
    r = await client.get(f"{API}/model-versions/by-hash/{shared['SHA256']}")
    assert r.json()["id"] == second["modelVersions"][0]["id"]


async def test_by_hash_bulk_post(hub: FakeHub, client: httpx.AsyncClient) -> None:
    versions = [m["modelVersions"][0] for m in list(hub.models.values())[-5:]]
    sha = [v["files"][0]["hashes"]["SHA256"] for v in versions]
    r = await client.post(f"{API}/model-versions/by-hash", json=[sha[0].lower(), *sha[1:], "00" * 32])
    assert r.status_code == 200
    assert [v["id"] for v in r.json()] == [v["id"] for v in versions]

    r = await client.post(f"{API}/model-versions/by-hash/ids", json=[*sha, "DEADBEEF"])
    assert r.json() == [
        {"modelVersionId": v["id"], "modelId": hub.model_of_version(v["id"])["id"], "hash": h}
        for v, h in zip(versions, sha, strict=True)
    ]

    r = await client.post(f"{API}/model-versions/by-hash", json=["AA"] * 101)
    assert r.status_code == 400 and r.json()["error"]["issues"][0]["code"] == "too_big"
    r = await client.post(f"{API}/model-versions/by-hash", json={"hashes": sha})
    assert r.status_code == 400
    assert hub.requests_to(f"{API}/model-versions/by-hash")[0].json[0] == sha[0].lower()


async def test_unpublish_and_delete(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = hub.publish_model(n_versions=2, image_levels=[1])
    newest, older = model["modelVersions"]
    hub.unpublish_version(newest["id"])
    assert (await client.get(f"{API}/model-versions/{newest['id']}")).status_code == 404
    sha = newest["files"][0]["hashes"]["SHA256"]
    assert (await client.get(f"{API}/model-versions/by-hash/{sha}")).status_code == 404
    detail = (await client.get(f"{API}/models/{model['id']}")).json()
    assert [v["id"] for v in detail["modelVersions"]] == [older["id"]]
    assert detail["modelVersions"][0]["index"] == 0

    hub.delete_model(model["id"])
    assert (await client.get(f"{API}/models/{model['id']}")).status_code == 404
    assert (await client.get(f"{API}/model-versions/{older['id']}")).status_code == 404
    r = await client.get(f"{API}/models", params={"ids": str(model["id"]), "nsfw": "true"})
    assert r.json()["items"] == []


# ------------------------------------------------------------------------------------- failures


async def test_fail_then_success(hub: FakeHub, client: httpx.AsyncClient) -> None:
    hub.fail(503, retry_after="1")
    r = await client.get(f"{API}/models", params={"limit": 1})
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1" and r.headers["cache-control"] == "no-store"
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.json() == {"error": "Server busy, please retry shortly."}
    assert (await client.get(f"{API}/models", params={"limit": 1})).status_code == 200

    hub.fail(429, times=2, retry_after="7", path=f"{API}/images")
    assert (await client.get(f"{API}/models", params={"limit": 1})).status_code == 200  # other path untouched
    statuses = [(await client.get(f"{API}/images", params={"limit": 1})).status_code for _ in range(3)]
    assert statuses == [429, 429, 200]

    hub.fail(500, body=b'{"message":"boom","code":"INTERNAL_SERVER_ERROR"}')
    r = await client.get(f"{API}/tags")
    assert (r.status_code, r.json()["code"]) == (500, "INTERNAL_SERVER_ERROR")
    assert [q.status for q in hub.requests_to(f"{API}/images")] == [429, 429, 200]


async def test_down_and_delay(hub: FakeHub, client: httpx.AsyncClient) -> None:
    hub.down = True
    one = f"{API}/models/1000001"
    for path in (f"{API}/models", one, f"{API}/images", f"{API}/articles"):
        r = await client.get(path)
        assert r.status_code == 503 and r.headers["retry-after"] == "2", path
    url = hub.models[1_000_000]["modelVersions"][0]["images"][0]["url"]
    assert (await client.get(url)).status_code == 200  # the CDN is a different service
    hub.down = False
    assert (await client.get(one)).status_code == 200

    hub.delay = 0.25
    t0 = time.monotonic()
    r = await client.get(one)
    assert r.status_code == 200 and time.monotonic() - t0 >= 0.25
    hub.delay = 0


@pytest.mark.parametrize("kind", ["truncated", "html", "empty", "not_json", "wrong_shape"])
async def test_malformed(hub: FakeHub, client: httpx.AsyncClient, kind: str) -> None:
    hub.malformed(kind=kind, path=f"{API}/models")
    r = await client.get(f"{API}/models", params={"limit": 5})
    assert r.status_code == 200
    if kind == "wrong_shape":
        assert not isinstance(r.json()["items"], list)
    else:
        with pytest.raises(json.JSONDecodeError):
            json.loads(r.content)
    r = await client.get(f"{API}/models", params={"limit": 5})
    assert len(r.json()["items"]) == 5


async def test_request_log(hub: FakeHub, client: httpx.AsyncClient) -> None:
    t0 = time.monotonic()
    await client.get(
        f"{API}/models",
        params=[("baseModels", "SDXL 1.0"), ("baseModels", "Pony"), ("limit", "2")],
        headers={"Authorization": "Bearer k3y", "User-Agent": "hubbot-test"},
    )
    await client.get("/api/v2/nothing-here")
    rec = hub.requests_to(f"{API}/models")[-1]
    assert rec.method == "GET" and rec.path == f"{API}/models" and rec.status == 200
    assert rec.query == [("baseModels", "SDXL 1.0"), ("baseModels", "Pony"), ("limit", "2")]
    assert rec.params("baseModels") == ["SDXL 1.0", "Pony"] and rec.param("limit") == "2"
    assert rec.headers["authorization"] == "Bearer k3y" and rec.headers["User-Agent"] == "hubbot-test"
    assert t0 <= rec.time <= time.monotonic()
    unknown = hub.requests[-1]
    assert (unknown.path, unknown.status) == ("/api/v2/nothing-here", 404)
    r = await client.get("/api/v2/nothing-here")
    assert r.json() == {"error": "Not found"} and r.headers["content-type"].startswith("application/json")
    # authenticated requests are not edge-cacheable
    r = await client.get(f"{API}/models/4384", headers={"Authorization": "Bearer k3y"})
    assert "public" not in r.headers["cache-control"]


# ------------------------------------------------------------------------------------- /images


async def test_images_levels_filters_and_paging(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = hub.publish_model(image_levels=[1, 2, 4, 8, 16, 32], n_versions=1)
    vid = model["modelVersions"][0]["id"]

    async def levels(**params: Any) -> list[tuple[str, int, bool]]:
        r = await client.get(f"{API}/images", params={"modelVersionId": vid, **params})
        return sorted((i["nsfwLevel"], i["browsingLevel"], i["nsfw"]) for i in r.json()["items"])

    assert await levels() == [("None", 1, False)]
    assert await levels(browsingLevel=31) == sorted(
        [("None", 1, False), ("Soft", 2, False), ("Mature", 4, True), ("X", 8, True), ("X", 16, True)]
    )
    assert sorted(x[1] for x in await levels(nsfw="true")) == [4, 8, 16, 32]  # 60 = mature only
    assert sorted(x[1] for x in await levels(nsfw="Soft")) == [1, 2]
    assert sorted(x[1] for x in await levels(nsfw="Mature")) == [1, 2, 4]
    assert sorted(x[1] for x in await levels(nsfw="X")) == [1, 2, 4, 8, 16]
    assert [x[:2] for x in await levels(nsfw="X", browsingLevel=32)] == [("Blocked", 32)]  # browsingLevel wins

    r = await client.get(f"{API}/images", params={"modelVersionId": vid, "browsingLevel": 63, "withMeta": "true"})
    item = r.json()["items"][0]
    assert {
        "id",
        "url",
        "hash",
        "width",
        "height",
        "createdAt",
        "postId",
        "stats",
        "meta",
        "username",
        "baseModel",
        "modelVersionIds",
    } <= item.keys()
    assert item["modelVersionIds"] == [vid] and item["username"] == model["creator"]["username"]
    assert set(item["stats"]) == {"cryCount", "laughCount", "likeCount", "dislikeCount", "heartCount", "commentCount"}
    r = await client.get(f"{API}/images", params={"modelVersionId": vid, "browsingLevel": 63})
    assert all(i["meta"] is None for i in r.json()["items"])  # meta only with withMeta=true

    # cursor paging over one model's images visits each exactly once
    big = max(hub.models.values(), key=lambda m: sum(len(v["images"]) for v in m["modelVersions"]))
    expected = {img["id"] for img in all_images(big)}
    pages = await walk(
        client, f"{API}/images", [("modelId", big["id"]), ("browsingLevel", 63), ("limit", 4), ("sort", "Newest")]
    )
    got = ids_of(pages)
    assert len(got) == len(set(got)) and set(got) == expected
    assert isinstance(pages[0]["metadata"].get("nextCursor"), str)

    r = await client.get(f"{API}/images", params={"limit": 201})
    assert r.status_code == 400
    r = await client.get(f"{API}/images", params={"limit": 200, "page": 6})
    assert r.status_code == 429


# ------------------------------------------------------------------------------------- tags / creators


async def test_tags_and_creators_paging(hub: FakeHub, client: httpx.AsyncClient) -> None:
    for path, key in ((f"{API}/tags", "name"), (f"{API}/creators", "username")):
        first = (await client.get(path, params={"limit": 7})).json()
        meta = first["metadata"]
        assert meta["currentPage"] == 1 and meta["pageSize"] == 7
        assert meta["totalPages"] == -(-meta["totalItems"] // 7)
        names: list[str] = []
        for page in range(1, meta["totalPages"] + 1):
            body = (await client.get(path, params={"limit": 7, "page": page})).json()
            names += [i[key] for i in body["items"]]
            assert ("nextPage" in body["metadata"]) == (page < meta["totalPages"])
            assert all(i["link"].startswith(hub.base_url) for i in body["items"])
        assert len(names) == len(set(names)) == meta["totalItems"]
        assert (await client.get(path, params={"limit": 201})).status_code == 400
        assert (await client.get(path)).json()["metadata"]["pageSize"] == 20

    tag = hub.models[1_000_003]["tags"][0]
    tags = (await client.get(f"{API}/tags", params={"query": tag.upper(), "limit": 200})).json()["items"]
    assert tag in [t["name"] for t in tags] and set(tags[0]) == {"name", "link"}
    creator = hub.models[1_000_003]["creator"]["username"]
    creators = (await client.get(f"{API}/creators", params={"query": creator.lower()})).json()["items"]
    owned = sum(1 for m in hub.models.values() if m["creator"]["username"] == creator)
    found = {c["username"]: c.get("modelCount", 0) for c in creators}  # a substring match, case-insensitive
    assert found[creator] == owned and all(creator.lower() in name.lower() for name in found)
    everyone = (await client.get(f"{API}/creators", params={"limit": 200})).json()["items"]
    counts = [c["modelCount"] for c in everyone]
    assert counts == sorted(counts, reverse=True)


# ------------------------------------------------------------------------------------- the real captures


async def test_the_captured_samples_are_served_as_captured(hub: FakeHub, client: httpx.AsyncClient) -> None:
    samples = hub.samples  # a fresh clone without the samples skips here (tests/conftest.py)
    assert samples is not None
    # the captured real models lead the catalogue, as on the hub
    r = await client.get(f"{API}/models", params={"limit": 1, "nsfw": "true"})
    assert r.json()["items"][0]["name"] == "Pony Diffusion V6 XL"
    got = ids_of(await walk(client, f"{API}/models", [("baseModels", "Illustrious"), ("baseModels", "Pony")]))
    assert 257749 in got  # the real "Pony Diffusion V6 XL"
    r = await client.get(f"{API}/models", params={"tag": "Base Model", "nsfw": "true"})
    items = r.json()["items"]
    assert items and all("base model" in [t.lower() for t in m["tags"]] for m in items)

    # query: relevance first; numeric offset cursor
    r = await client.get(f"{API}/models", params={"query": "dreamshaper", "limit": 1})
    body = r.json()
    assert body["items"][0]["id"] == 4384 and body["metadata"].get("nextCursor", "1").isdigit()
    r = await client.get(f"{API}/models", params={"query": "LYKON"})
    assert 4384 in ids_of([r.json()])

    # the 2023-shaped samples are served as captured (era drift)
    r = await client.get(f"{API}/models/3036")
    legacy = r.json()
    assert legacy["allowCommercialUse"] == "Rent" and "nsfwLevel" not in legacy
    assert "nsfw" in legacy["modelVersions"][0]["images"][0]

    # the captured 2023 version is reachable through its synthetic model 1244
    r = await client.get(f"{API}/model-versions/1318")
    assert r.json() == samples.model_version_1318
    r = await client.get(f"{API}/models/1244")
    assert r.json()["name"] == "froggy style" and r.json()["modelVersions"][0]["id"] == 1318

    # real captured hashes: 2025 sample and the 2023 version 1318 (AutoV2, no AutoV3)
    pony_sha = "67ab2fd8ec439a89b3fedb15cc65f54336af163c7eb5e4f2acc98f090a29b0b3"
    r = await client.get(f"{API}/model-versions/by-hash/{pony_sha}")
    assert r.json()["id"] == 290640
    r = await client.get(f"{API}/model-versions/by-hash/0df040c8cd")
    assert r.json()["id"] == 1318

    tags = (await client.get(f"{API}/tags", params={"query": "BASE", "limit": 200})).json()["items"]
    assert "base model" in [t["name"] for t in tags]
    creators = (await client.get(f"{API}/creators", params={"query": "lykon"})).json()["items"]
    assert creators[0]["username"] == "Lykon" and creators[0]["modelCount"] == 1


async def test_without_the_samples_generated_models_stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HUB_SAMPLES_DIR", str(tmp_path / "absent"))
    async with FakeHub(seed=4) as fake, httpx.AsyncClient(base_url=fake.base_url) as c:
        assert fake.samples_missing and len(fake.models) == SAMPLE_STANDINS
        assert min(fake.models) == STANDIN_START_ID
        with pytest.raises(hub_data.SamplesMissing, match="HUB_SAMPLES_DIR"):
            _ = fake.samples
        r = await c.get(f"{API}/models", params={"nsfw": "true", "limit": 100})
        assert {m["id"] for m in r.json()["items"]} == set(fake.models)
    # samples=False never looks for them; a directory that exists but lacks the files is an error
    async with FakeHub(samples=False, generated=3) as fake:
        assert fake.samples is None and not fake.samples_missing
    monkeypatch.setenv("HUB_SAMPLES_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as caught:
        async with FakeHub():
            pass
    assert not isinstance(caught.value, hub_data.SamplesMissing)


# ------------------------------------------------------------------------------------- articles


async def test_articles_list_and_detail(hub: FakeHub, client: httpx.AsyncClient) -> None:
    pages = await walk(client, f"{API}/articles", [("limit", 4)])
    ids = ids_of(pages)
    assert len(ids) == len(set(ids))
    assert set(ids) == {a["id"] for a in hub.articles.values() if a["nsfwLevel"] == 1}
    assert re.fullmatch(r"\d{10}\|\d+", pages[0]["metadata"]["nextCursor"])
    stamps = [a["publishedAt"] for p in pages for a in p["items"]]
    assert stamps == sorted(stamps, reverse=True)
    all_ids = ids_of(await walk(client, f"{API}/articles", [("nsfw", "true")]))
    assert set(all_ids) == set(hub.articles)

    item = pages[0]["items"][0]
    assert "content" not in item
    assert set(item["stats"]) == {
        "favoriteCount",
        "collectedCount",
        "commentCount",
        "likeCount",
        "dislikeCount",
        "heartCount",
        "laughCount",
        "cryCount",
        "viewCount",
        "tippedAmountCount",
    }
    r = await client.get(f"{API}/articles/{item['id']}")
    detail = r.json()
    assert detail["content"].startswith("<h2>") and detail["contentJson"]["type"] == "doc"
    assert set(detail["stats"]) == {f"{k}AllTime" for k in item["stats"]}
    assert detail["stats"]["viewCountAllTime"] == item["stats"]["viewCount"]

    r = await client.get(f"{API}/articles/999999")
    assert (r.status_code, r.json()) == (404, {"error": "No article with id 999999"})

    tag_id = item["tags"][0]["id"]
    r = await client.get(f"{API}/articles", params={"tags": str(tag_id), "nsfw": "true"})
    assert r.json()["items"] and all(tag_id in [t["id"] for t in a["tags"]] for a in r.json()["items"])
    new = hub.publish_article(title="Fake Hub Launch Notes", nsfw_level=1)
    r = await client.get(f"{API}/articles", params={"limit": 1})
    assert r.json()["items"][0]["id"] == new["id"]
    r = await client.get(f"{API}/articles", params={"query": "launch NOTES"})
    assert ids_of([r.json()]) == [new["id"]]


async def test_published_articles_take_their_stats_cover_level_and_body(hub: FakeHub,
                                                                       client: httpx.AsyncClient) -> None:
    body = "<p>Hello &amp; <script>x()</script>bye</p>"
    new = hub.publish_article(title="Given", nsfw_level=1, cover_level=4, content=body,
                              stats={"likeCount": 7, "viewCount": 300})
    r = await client.get(f"{API}/articles", params={"limit": 1})
    item = r.json()["items"][0]
    assert item["id"] == new["id"] and item["coverImage"]["nsfwLevel"] == 4 and item["nsfwLevel"] == 1
    assert item["stats"]["likeCount"] == 7 and item["stats"]["viewCount"] == 300 and "heartCount" in item["stats"]
    detail = (await client.get(f"{API}/articles/{new['id']}")).json()
    assert detail["content"] == body and detail["stats"]["likeCountAllTime"] == 7
    # without them: the cover at the article's lowest level, a generated body
    other = hub.publish_article(title="Generated", nsfw_level=6)
    assert other["coverImage"]["nsfwLevel"] == 2
    assert (await client.get(f"{API}/articles/{other['id']}")).json()["content"].startswith("<h2>")


async def test_articles_rate_limit() -> None:
    async with FakeHub(samples=False, articles=5, articles_rate_limit=3) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as c:
            statuses = [(await c.get(f"{API}/articles")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            r = await c.get(f"{API}/articles/10000")
            assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 60
            assert (await c.get(f"{API}/models")).status_code == 200  # other families unaffected


async def test_articles_rate_limit_is_per_key_and_doubled_with_one() -> None:
    async with FakeHub(samples=False, articles=3, articles_rate_limit=2) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as anon, \
                httpx.AsyncClient(base_url=hub.base_url, headers={"Authorization": "Bearer k1"}) as keyed:
            assert [(await anon.get(f"{API}/articles")).status_code for _ in range(3)] == [200, 200, 429]
            # a key has its own bucket, twice the size (60 vs 120 req/min on the hub)
            assert [(await keyed.get(f"{API}/articles")).status_code for _ in range(5)] == [200] * 4 + [429]
            r = await anon.get(f"{API}/articles", params={"token": "k2"})  # a key in the query counts too
            assert r.status_code == 200


async def test_models_rate_limit_is_its_own_bucket() -> None:
    async with FakeHub(samples=False, generated=3, articles=2, articles_rate_limit=2,
                       models_rate_limit=3, models_rate_window=0.6) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url) as c:
            version = hub.models[1_000_000]["modelVersions"][0]["id"]
            paths = [f"{API}/models", f"{API}/models/1000000", f"{API}/model-versions/{version}"]
            assert [(await c.get(p)).status_code for p in paths] == [200, 200, 200]
            r = await c.get(f"{API}/models/1000001")
            assert r.status_code == 429
            assert r.json() == {"error": "Rate limit exceeded. Please try again later."}
            assert r.headers["retry-after"] == "1" and r.headers["cache-control"] == "no-store"
            # articles and images keep their own budgets
            assert (await c.get(f"{API}/articles")).status_code == 200
            assert (await c.get(f"{API}/images")).status_code == 200
            assert (await c.get(f"{API}/articles")).status_code == 200
            assert (await c.get(f"{API}/articles")).status_code == 429
            assert (await c.get(f"{API}/model-versions/by-hash/abc")).status_code == 429
            await asyncio.sleep(0.65)  # the window ends: a fresh budget
            assert (await c.get(f"{API}/models/1000001")).status_code == 200
        # off by default
        async with FakeHub(samples=False, generated=1) as quiet, httpx.AsyncClient(base_url=quiet.base_url) as c:
            assert {(await c.get(f"{API}/models")).status_code for _ in range(200)} == {200}


# ------------------------------------------------------------------------------------- image CDN


async def test_image_route_serves_jpeg_of_the_declared_aspect(hub: FakeHub, client: httpx.AsyncClient) -> None:
    model = hub.publish_model(image_levels=[1, 1, 1])
    for img in model["modelVersions"][0]["images"]:
        assert img["url"].startswith(f"{hub.base_url}/{CDN}/") and img["url"].endswith(f"/width=450/{img['id']}.jpeg")
        r = await client.get(img["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert int(r.headers["content-length"]) == len(r.content)
        pic = Image.open(io.BytesIO(r.content))
        pic.load()
        assert pic.format == "JPEG" and pic.width <= 450
        assert abs(pic.width / pic.height - img["width"] / img["height"]) < 0.02
        # the picture is the image's BlurHash, so the placeholder matches the preview
        dc = blurhash.average_color(img["hash"])
        mean = pic.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
        assert all(abs(a - b) < 40 for a, b in zip(mean, dc, strict=True))

    uuid = img["url"].split("/")[-3]
    r = await client.get(f"/{CDN}/{uuid}/width=96/{img['id']}.jpeg")
    assert Image.open(io.BytesIO(r.content)).width == 96
    r = await client.get(f"/{CDN}/0000-unknown/original=true/x.jpeg")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (450, 450)

    hub.huge_images.add(uuid)
    r = await client.get(img["url"])
    assert len(r.content) < 10_000
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(r.content))

    hub.image_status[uuid] = 404
    assert (await client.get(img["url"])).status_code == 404
    hub.fail(503, path=f"/{CDN}")
    assert (await client.get(model["creator"]["image"] or img["url"])).status_code == 503


# ------------------------------------------------------------------------------------- generated data


def _key_sets(models: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {
        k: set() for k in ("model", "stats", "version", "vstats", "file", "meta", "hashes", "image")
    }
    for m in models:
        out["model"] |= m.keys()
        out["stats"] |= m["stats"].keys()
        for v in m["modelVersions"]:
            out["version"] |= v.keys()
            out["vstats"] |= v["stats"].keys()
            for f in v["files"]:
                out["file"] |= f.keys()
                out["meta"] |= f["metadata"].keys()
                out["hashes"] |= f["hashes"].keys()
            for img in v["images"]:
                out["image"] |= img.keys()
    return out


def test_generated_models_match_the_2025_sample_shape() -> None:
    sample = hub_data.load_samples().models_2025
    generated = hub_data.generate_models(300, seed=11)
    assert _key_sets(generated) == _key_sets(sample)
    # per object, too: every generated model/version/image has exactly the sample's keys
    sample_keys = _key_sets(sample)
    for m in generated:
        assert m.keys() == sample_keys["model"]
        for v in m["modelVersions"]:
            assert v.keys() == sample_keys["version"]
            assert all(i.keys() == sample_keys["image"] for i in v["images"])


def test_generated_values_are_realistic() -> None:
    models = hub_data.generate_models(400, seed=5)
    hexes = {"AutoV1": 8, "AutoV2": 10, "AutoV3": 12, "SHA256": 64, "CRC32": 8, "BLAKE3": 64}
    levels: set[int] = set()
    v3_missing = null_downloads = 0
    for m in models:
        assert m["nsfwLevel"] == _or(v["nsfwLevel"] for v in m["modelVersions"])
        assert isinstance(m["allowCommercialUse"], list)
        null_downloads += m["stats"]["downloadCount"] is None
        assert [v["index"] for v in m["modelVersions"]] == list(range(len(m["modelVersions"])))
        dates = [v["publishedAt"] for v in m["modelVersions"]]
        assert dates == sorted(dates, reverse=True)
        for v in m["modelVersions"]:
            assert v["nsfwLevel"] == _or(i["nsfwLevel"] for i in v["images"])
            assert v["baseModel"] in hub_data.BASE_MODELS
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v["publishedAt"])
            assert sum(1 for f in v["files"] if f.get("primary")) == 1
            for f in v["files"]:
                h = f["hashes"]
                v3_missing += "AutoV3" not in h
                assert h["AutoV2"] == h["SHA256"][:10]
                for kind, value in h.items():
                    assert re.fullmatch(rf"[0-9A-F]{{{hexes[kind]}}}", value), (kind, value)
            for img in v["images"]:
                levels.add(img["nsfwLevel"])
                assert blurhash.is_valid(img["hash"])
    assert levels == {1, 2, 4, 8, 16, 32}
    assert v3_missing and null_downloads
    assert {m["type"] for m in models} >= {"Checkpoint", "LORA", "TextualInversion", "LoCon"}
    assert any(not (m["nsfwLevel"] & 1) for m in models) and any(m["nsfwLevel"] == 1 for m in models)
    # deterministic per seed
    assert hub_data.generate_models(30, seed=5) == hub_data.generate_models(30, seed=5)
    assert hub_data.generate_models(30, seed=6) != hub_data.generate_models(30, seed=5)
    one = hub_data.generate_model(
        random.Random(1),
        77,
        image_base="http://x",
        type="VAE",
        base_model="SDXL 1.0",
        creator="someone",
        tags=["vae"],
        n_versions=3,
        image_levels=[2],
    )
    assert (one["type"], one["creator"]["username"], one["tags"], one["nsfwLevel"]) == ("VAE", "someone", ["vae"], 2)
    assert [v["id"] for v in one["modelVersions"]] == [77 * 16 + 2, 77 * 16 + 1, 77 * 16]


def _or(values: Any) -> int:
    out = 0
    for v in values:
        out |= v
    return out


def test_generated_models_are_deterministic_and_unique() -> None:
    # (generation speed for the 50,000-model benchmarks is measured in bench/, not here)
    models = hub_data.generate_models(2_000, seed=1)
    assert len({m["id"] for m in models}) == 2_000
    assert hub_data.generate_models(2_000, seed=1) == models
    assert hub_data.generate_models(2_000, seed=2) != models


def test_articles_generator_and_samples_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    arts = hub_data.generate_articles(10, seed=2)
    assert [a["id"] for a in arts] == list(range(10_000, 10_010))
    detail = hub_data.article_detail(arts[0])
    assert list(detail)[:4] == ["id", "title", "content", "contentJson"]
    assert {"reactions", "attachments", "contentImages"} <= detail.keys()

    real = hub_data.samples_dir()
    if not real.is_dir():
        pytest.skip(samples_skip_reason())
    assert (real / "models_list_limit10_2025-08.json").is_file()
    monkeypatch.setenv("HUB_SAMPLES_DIR", str(tmp_path))
    assert hub_data.samples_dir() == tmp_path
    with pytest.raises(FileNotFoundError):
        hub_data.load_samples()
    monkeypatch.setenv("HUB_SAMPLES_DIR", str(real))
    s = hub_data.load_samples()
    assert len(s.models_2025) == 10 and len(s.models_2023_ti) == 3
    assert s.model_1244["modelVersions"][0]["id"] == 1318 and "model" not in s.model_1244["modelVersions"][0]


# ------------------------------------------------------------------------------------- members, /me, reviews
# Expected values come from hub-api.md: §1 (Bearer keys, SocialWrite = 524288, Full = 33554431), §2
# (`/me` → {id, username, tier, status, isMember, subscriptions, …}, token-only), §11 (thumbs stored as
# rating 5 / 1, one review per user per version, `POST /api/trpc/resourceReview.upsert` with
# {"json": {...}}, answers {result: {data: {json, meta}}}).

UPSERT = "/api/trpc/resourceReview.upsert"
SOCIAL_WRITE = 524288


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def review_body(model_id: int, version_id: int, *, up: bool = True, details: str | None = "<p>Great</p>") -> dict:
    return {"json": {"modelId": model_id, "modelVersionId": version_id, "rating": 5 if up else 1,
                     "recommended": up, "details": details}}


def trpc_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a tRPC error envelope {"error": {"json": {message, code, data: {code, httpStatus, path}}}}."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"json"}
    err = body["error"]["json"]
    assert isinstance(err["message"], str) and isinstance(err["code"], int)
    assert err["data"]["code"] == code and err["data"]["httpStatus"] == status
    assert err["data"]["path"] == "resourceReview.upsert"
    return err


@pytest.fixture
async def review_hub() -> AsyncIterator[tuple[FakeHub, httpx.AsyncClient]]:
    async with FakeHub(samples=False, generated=3, seed=3) as h:
        async with httpx.AsyncClient(base_url=h.base_url, timeout=10) as c:
            yield h, c


def a_version(hub: FakeHub, index: int = 0) -> tuple[int, int]:
    model = hub.models[1_000_000 + index]
    return model["id"], model["modelVersions"][0]["id"]


async def test_me_answers_who_a_key_belongs_to(review_hub: tuple[FakeHub, httpx.AsyncClient]) -> None:
    hub, c = review_hub
    alice = hub.add_user("alice", key="alice-key-0001", scopes={"SocialWrite"})
    bob = hub.add_user("bob", scopes={"SocialWrite", "UserRead"}, tier="gold", subscriptions=["buzz"])
    assert alice["id"] != bob["id"] and len(bob["key"]) == 32 and bob["key"] != alice["key"]
    r = await c.get(f"{API}/me", headers=bearer("alice-key-0001"))
    assert r.status_code == 200
    me = r.json()
    assert {k: me[k] for k in ("id", "username", "tier", "status", "isMember", "subscriptions")} == {
        "id": alice["id"], "username": "alice", "tier": "free", "status": "active", "isMember": False,
        "subscriptions": [],
    }
    assert "public" not in r.headers["cache-control"]  # a request with a token is not edge-cached
    r = await c.get(f"{API}/me", params={"token": bob["key"]})  # else ?token=<key>
    me = r.json()
    assert (me["id"], me["username"], me["isMember"], me["subscriptions"]) == (bob["id"], "bob", True, ["buzz"])
    # Bearer wins over ?token=
    r = await c.get(f"{API}/me", params={"token": bob["key"]}, headers=bearer("alice-key-0001"))
    assert r.json()["username"] == "alice"
    assert hub.user_of_key(bob["key"]) is bob
    assert [q.status for q in hub.requests_to(f"{API}/me")] == [200, 200, 200]


async def test_me_refuses_a_missing_unknown_revoked_or_banned_key(
    review_hub: tuple[FakeHub, httpx.AsyncClient],
) -> None:
    hub, c = review_hub
    carol = hub.add_user("carol")
    dave = hub.add_user("dave", status="banned")  # hub-api.md §1: banned users get no session
    cases = [{}, bearer("not-a-key"), bearer(dave["key"]), {"Authorization": carol["key"]}]  # no "Bearer "
    for headers in cases:
        r = await c.get(f"{API}/me", headers=headers)
        assert (r.status_code, r.json()) == (401, {"error": "Unauthorized"}), headers
    assert (await c.get(f"{API}/me", headers=bearer(carol["key"]))).status_code == 200
    hub.revoke_key(carol["key"])
    assert (await c.get(f"{API}/me", headers=bearer(carol["key"]))).status_code == 401
    r = await c.post(f"{API}/me", headers=bearer(carol["key"]))
    assert (r.status_code, r.json()) == (405, {"error": "Method not allowed"})
    muted = hub.add_user("erin", status="muted")
    assert (await c.get(f"{API}/me", headers=bearer(muted["key"]))).json()["status"] == "muted"
    with pytest.raises(ValueError):
        hub.add_user("Carol")  # usernames are unique, case-insensitively


async def test_upsert_posts_as_the_member_who_owns_the_key(review_hub: tuple[FakeHub, httpx.AsyncClient]) -> None:
    hub, c = review_hub
    alice = hub.add_user("alice", scopes={"SocialWrite"})
    bob = hub.add_user("bob", scopes=SOCIAL_WRITE)
    model_id, version_id = a_version(hub)
    r = await c.post(UPSERT, json=review_body(model_id, version_id, details="<p>Lovely <strong>LoRA</strong></p>"),
                     headers=bearer(alice["key"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"result"} and set(body["result"]) == {"data"} and "json" in body["result"]["data"]
    row = body["result"]["data"]["json"]
    assert {k: row[k] for k in ("modelId", "modelVersionId", "rating", "recommended", "details", "userId")} == {
        "modelId": model_id, "modelVersionId": version_id, "rating": 5, "recommended": True,
        "details": "<p>Lovely <strong>LoRA</strong></p>", "userId": alice["id"],
    }
    assert isinstance(row["id"], int) and row["createdAt"] == row["updatedAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["createdAt"])
    assert body["result"]["data"]["meta"] == {"values": {"createdAt": ["Date"], "updatedAt": ["Date"]}}

    r = await c.post(UPSERT, json=review_body(model_id, version_id, up=False, details=None), headers=bearer(bob["key"]))
    bob_row = r.json()["result"]["data"]["json"]
    got = (bob_row["userId"], bob_row["rating"], bob_row["recommended"], bob_row["details"])
    assert got == (bob["id"], 1, False, None)
    assert bob_row["id"] != row["id"]

    assert set(hub.reviews) == {row["id"], bob_row["id"]}
    assert hub.reviews[row["id"]]["userId"] == alice["id"] and hub.reviews[bob_row["id"]]["userId"] == bob["id"]
    assert hub.review_by("alice", version_id) == row and hub.review_by(bob["id"], version_id) == bob_row
    assert [(p["username"], p["apiKey"], p["action"]) for p in hub.review_posts] == [
        ("alice", alice["key"], "created"), ("bob", bob["key"], "created"),
    ]
    sent = hub.requests_to(UPSERT)
    assert [(q.method, q.status, q.headers["authorization"]) for q in sent] == [
        ("POST", 200, f"Bearer {alice['key']}"), ("POST", 200, f"Bearer {bob['key']}"),
    ]
    assert sent[0].json == review_body(model_id, version_id, details="<p>Lovely <strong>LoRA</strong></p>")
    # a Full key (every scope) may post too; a key given in the query counts as on the REST API
    carol = hub.add_user("carol")
    r = await c.post(UPSERT, json=review_body(model_id, version_id), params={"token": carol["key"]})
    assert r.json()["result"]["data"]["json"]["userId"] == carol["id"]


async def test_a_second_upsert_edits_the_members_review(review_hub: tuple[FakeHub, httpx.AsyncClient]) -> None:
    hub, c = review_hub
    alice = hub.add_user("alice", scopes={"SocialWrite"})
    model_id, version_id = a_version(hub)
    other_model, other_version = a_version(hub, 1)
    first = (await c.post(UPSERT, json=review_body(model_id, version_id), headers=bearer(alice["key"]))).json()
    await asyncio.sleep(0.005)
    second = await c.post(UPSERT, json=review_body(model_id, version_id, up=False, details="<p>Changed my mind</p>"),
                          headers=bearer(alice["key"]))
    row1, row2 = first["result"]["data"]["json"], second.json()["result"]["data"]["json"]
    assert row2["id"] == row1["id"] and row2["createdAt"] == row1["createdAt"] and row2["updatedAt"] > row1["updatedAt"]
    assert (row2["rating"], row2["recommended"], row2["details"]) == (1, False, "<p>Changed my mind</p>")
    assert list(hub.reviews) == [row1["id"]] and hub.reviews[row1["id"]]["rating"] == 1
    assert [p["action"] for p in hub.review_posts] == ["created", "updated"]
    assert hub.review_posts[0]["rating"] == 5  # the log keeps what each write said
    # passing the review's own id edits it too; another version is another review
    r = await c.post(UPSERT, json={"json": {**review_body(model_id, version_id)["json"], "id": row1["id"]}},
                     headers=bearer(alice["key"]))
    assert r.json()["result"]["data"]["json"]["id"] == row1["id"] and len(hub.reviews) == 1
    r = await c.post(UPSERT, json=review_body(other_model, other_version), headers=bearer(alice["key"]))
    assert r.json()["result"]["data"]["json"]["id"] != row1["id"] and len(hub.reviews) == 2
    # someone else's review id is not yours to edit
    bob = hub.add_user("bob", scopes={"SocialWrite"})
    r = await c.post(UPSERT, json={"json": {**review_body(model_id, version_id)["json"], "id": row1["id"]}},
                     headers=bearer(bob["key"]))
    trpc_error(r, 401, "UNAUTHORIZED")
    assert hub.reviews[row1["id"]]["userId"] == alice["id"]


async def test_upsert_refuses_missing_unknown_and_unscoped_keys(review_hub: tuple[FakeHub, httpx.AsyncClient]) -> None:
    hub, c = review_hub
    model_id, version_id = a_version(hub)
    reader = hub.add_user("reader", scopes={"UserRead", "ModelsRead", "MediaRead"})
    muted = hub.add_user("muted", scopes={"SocialWrite"}, status="muted")
    banned = hub.add_user("banned", status="banned")
    body = review_body(model_id, version_id)
    err = trpc_error(await c.post(UPSERT, json=body), 401, "UNAUTHORIZED")
    assert "Please use the public API instead" in err["message"]  # hub-api.md §11: anonymous calls refused
    trpc_error(await c.post(UPSERT, json=body, headers=bearer("not-a-key")), 401, "UNAUTHORIZED")
    trpc_error(await c.post(UPSERT, json=body, headers=bearer(banned["key"])), 401, "UNAUTHORIZED")
    err = trpc_error(await c.post(UPSERT, json=body, headers=bearer(reader["key"])), 403, "FORBIDDEN")
    assert "scope" in err["message"]
    trpc_error(await c.post(UPSERT, json=body, headers=bearer(muted["key"])), 403, "FORBIDDEN")
    # the same member with a SocialWrite key may; a revoked key may not
    key = hub.add_key("reader", scopes={"SocialWrite"})
    assert (await c.post(UPSERT, json=body, headers=bearer(key))).status_code == 200
    hub.revoke_key(key)
    trpc_error(await c.post(UPSERT, json=body, headers=bearer(key)), 401, "UNAUTHORIZED")
    assert [r["userId"] for r in hub.reviews.values()] == [reader["id"]]
    assert [q.status for q in hub.requests_to(UPSERT)] == [401, 401, 401, 403, 403, 200, 401]


async def test_upsert_refuses_an_unknown_version_or_one_of_another_model(
    review_hub: tuple[FakeHub, httpx.AsyncClient],
) -> None:
    hub, c = review_hub
    alice = hub.add_user("alice", scopes={"SocialWrite"})
    model_id, version_id = a_version(hub)
    other_model, _ = a_version(hub, 1)
    err = trpc_error(await c.post(UPSERT, json=review_body(model_id, 2_000_000_000), headers=bearer(alice["key"])),
                     404, "NOT_FOUND")
    assert err["message"]
    trpc_error(await c.post(UPSERT, json=review_body(other_model, version_id), headers=bearer(alice["key"])),
               404, "NOT_FOUND")
    hub.unpublish_version(version_id)
    trpc_error(await c.post(UPSERT, json=review_body(model_id, version_id), headers=bearer(alice["key"])),
               404, "NOT_FOUND")
    # S1's access check throws UNAUTHORIZED instead: the knob reproduces it
    hub.review_access_error = "UNAUTHORIZED"
    err = trpc_error(await c.post(UPSERT, json=review_body(model_id, version_id), headers=bearer(alice["key"])),
                     401, "UNAUTHORIZED")
    assert err["message"] == "You do not have access to this model version."
    assert hub.reviews == {} and hub.review_posts == []


async def test_upsert_refuses_a_body_that_does_not_fit(review_hub: tuple[FakeHub, httpx.AsyncClient]) -> None:
    hub, c = review_hub
    alice = hub.add_user("alice", scopes={"SocialWrite"})
    model_id, version_id = a_version(hub)
    good = review_body(model_id, version_id)["json"]
    auth = bearer(alice["key"])
    r = await c.post(UPSERT, content=b"{not json", headers={**auth, "Content-Type": "application/json"})
    trpc_error(r, 400, "PARSE_ERROR")
    bad_bodies: list[tuple[Any, list[Any]]] = [
        (good, [[]]),  # not wrapped in {"json": ...}
        ({"json": {**good, "modelId": "one"}}, [["modelId"]]),
        ({"json": {k: v for k, v in good.items() if k != "modelVersionId"}}, [["modelVersionId"]]),
        ({"json": {**good, "rating": 4.5}}, [["rating"]]),
        ({"json": {**good, "recommended": "yes"}}, [["recommended"]]),
        ({"json": {**good, "details": 7}}, [["details"]]),
        ({"json": {**good, "rating": 3}}, [["rating"]]),  # thumbs: rating is 5 or 1 (§11)
        ({"json": {**good, "rating": 5, "recommended": False}}, [["rating"]]),
        ({"json": {**good, "rating": 1, "recommended": True}}, [["rating"]]),
    ]
    for payload, paths in bad_bodies:
        err = trpc_error(await c.post(UPSERT, json=payload, headers=auth), 400, "BAD_REQUEST")
        issues = json.loads(err["message"])  # tRPC: the zod issues as JSON
        assert [i["path"] for i in issues] == paths, payload
    trpc_error(await c.post(UPSERT, headers=auth), 400, "BAD_REQUEST")  # no body at all
    assert hub.reviews == {}
    # details are optional; thumbs down is 1 with recommended false
    r = await c.post(UPSERT, json={"json": {"modelId": model_id, "modelVersionId": version_id, "rating": 1,
                                            "recommended": False}}, headers=auth)
    assert r.status_code == 200 and r.json()["result"]["data"]["json"]["details"] is None
    # a mutation is POSTed; other procedures are not modelled
    r = await c.get(UPSERT, headers=auth)
    assert r.status_code == 405 and r.json()["error"]["json"]["data"]["code"] == "METHOD_NOT_SUPPORTED"
    r = await c.post("/api/trpc/resourceReview.delete", json={"json": {"id": 1}}, headers=auth)
    assert r.status_code == 404 and r.json()["error"]["json"]["data"]["code"] == "NOT_FOUND"


async def test_faults_and_rate_limit_reach_the_trpc_and_me_routes() -> None:
    async with FakeHub(samples=False, generated=2, reviews_rate_limit=2, reviews_rate_window=30) as hub:
        async with httpx.AsyncClient(base_url=hub.base_url, timeout=10) as c:
            alice = hub.add_user("alice", scopes={"SocialWrite"})
            bob = hub.add_user("bob", scopes={"SocialWrite"})
            model_id, version_id = a_version(hub)
            body = review_body(model_id, version_id)
            hub.down, hub.down_retry_after = True, "0"
            r = await c.post(UPSERT, json=body, headers=bearer(alice["key"]))
            trpc_error(r, 503, "SERVICE_UNAVAILABLE")
            assert r.headers["retry-after"] == "0"
            assert (await c.get(f"{API}/me", headers=bearer(alice["key"]))).status_code == 503
            hub.down = False
            hub.fail(500, path="/api/trpc/")
            trpc_error(await c.post(UPSERT, json=body, headers=bearer(alice["key"])), 500, "INTERNAL_SERVER_ERROR")
            hub.fail(502, path=f"{API}/me")
            r = await c.get(f"{API}/me", headers=bearer(alice["key"]))
            assert (r.status_code, r.json()) == (502, {"error": "Bad Gateway"})
            hub.malformed(kind="html", path="/api/trpc/")
            r = await c.post(UPSERT, json=body, headers=bearer(alice["key"]))
            assert r.status_code == 200 and r.text.startswith("<!DOCTYPE html>")  # it was recorded all the same
            assert len(hub.reviews) == 1
            # one bucket per key: alice used 1 of 2 (the malformed one reached the handler)
            statuses = [(await c.post(UPSERT, json=body, headers=bearer(alice["key"]))).status_code for _ in range(2)]
            assert statuses == [200, 429]
            r = await c.post(UPSERT, json=body, headers=bearer(alice["key"]))
            trpc_error(r, 429, "TOO_MANY_REQUESTS")
            assert 1 <= int(r.headers["retry-after"]) <= 30
            assert (await c.post(UPSERT, json=body, headers=bearer(bob["key"]))).status_code == 200
            assert (await c.get(f"{API}/me", headers=bearer(alice["key"]))).status_code == 200  # not that bucket
