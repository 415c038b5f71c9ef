"""SQLite: migrations, WAL, the model aggregate round trip, one transaction per page, FTS safety."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import ClassVar

import pytest

from bot.hub.models import Model, ModelVersion, Page
from bot.store import Store
from bot.store.catalog import fts_expression
from bot.store.db import Database, MigrationError, migrations


def _fingerprint(model: Model) -> dict:
    """What must survive the cache: names, version ids, file hashes, image levels."""
    return {
        "id": model.id, "name": model.name, "type": model.type, "creator": model.creator_name,
        "tags": model.tags, "level": model.level, "commercial": model.allow_commercial_use,
        "downloads": model.stats.download_count,
        "versions": [
            (v.id, v.name, v.base_model, v.date, v.trained_words,
             [(f.name, dict(f.hashes), f.primary) for f in v.files],
             [(i.url, i.level, i.blurhash, i.width, i.height) for i in v.images])
            for v in model.versions
        ],
    }


@pytest.mark.parametrize("sample", ["models_list_limit10_2025-08.json", "wiki2023_models_textualinversion_limit3.json"])
async def test_samples_round_trip_through_the_cache(store: Store, load_sample, sample: str) -> None:
    payload = load_sample(sample)
    models = Page.parse(payload, Model.from_json).items
    assert await store.catalog.put_models(models, fetched_at=1000.0) == len(models)
    for model, raw in zip(models, payload["items"], strict=True):
        cached = await store.catalog.get_model(model.id)
        assert cached is not None and cached.fetched_at == 1000.0
        assert _fingerprint(cached.model) == _fingerprint(model)
        # the raw JSON is kept verbatim, versions included
        assert dict(cached.model.raw) == raw
    assert await store.catalog.count_models() == len(models)


async def test_hash_index_finds_every_kind(store: Store, load_sample) -> None:
    models = Page.parse(load_sample("models_list_limit10_2025-08.json"), Model.from_json).items
    await store.catalog.put_models(models)
    version = models[0].versions[0]
    for kind, value in version.files[0].hashes.items():
        found = await store.catalog.find_versions_by_hash(value.lower())
        assert found == [version.id], kind
    assert await store.catalog.find_versions_by_hash("0" * 64) == []


async def test_standalone_version_round_trip(store: Store, load_sample) -> None:
    raw = load_sample("wiki2023_model_version_1318.json")
    version = ModelVersion.from_json(raw)
    await store.catalog.put_version(version, fetched_at=5.0)
    cached = await store.catalog.get_version(1318)
    assert cached is not None and cached.fetched_at == 5.0
    assert cached.version.model_name == "froggy style" and dict(cached.version.raw) == raw
    assert await store.catalog.find_versions_by_hash("5F06AA6F") == [1318]


async def test_rewriting_a_model_replaces_its_versions(store: Store) -> None:
    first = Model.from_json({"id": 1, "name": "A", "modelVersions": [
        {"id": 10, "files": [{"hashes": {"SHA256": "AA" * 32}}], "images": [{"url": "u", "nsfwLevel": 1}]},
        {"id": 11}]})
    await store.catalog.put_models([first])
    second = Model.from_json({"id": 1, "name": "A2", "modelVersions": [{"id": 12}, {"id": 10}]})
    await store.catalog.put_models([second])
    cached = await store.catalog.get_model(1)
    assert cached is not None and [v.id for v in cached.model.versions] == [12, 10]
    assert await store.catalog.find_versions_by_hash("AA" * 32) == []  # old files went with the old rows
    assert await store.db.fetchval("SELECT count(*) FROM model_images") == 0
    assert await store.catalog.get_version(11) is None
    assert [h.id for h in await store.catalog.search("A2")] == [1]
    assert await store.catalog.search("A") != []


async def test_a_page_of_100_models_is_one_transaction(store: Store) -> None:
    models = [Model.from_json({"id": i, "name": f"model {i}", "modelVersions": [
        {"id": 1000 + i, "files": [{"hashes": {"SHA256": f"{i:064X}"}}], "images": [{"nsfwLevel": 1}]}]})
        for i in range(1, 101)]
    statements: list[str] = []
    await store.db.writer.set_trace_callback(statements.append)
    await store.catalog.put_page("q", models, "next")
    await store.db.writer.set_trace_callback(None)
    statements = [s for s in statements if not s.startswith("--")]  # FTS5's own flush at commit
    begins = [s for s in statements if s.startswith("BEGIN")]
    commits = [s for s in statements if s.startswith("COMMIT")]
    assert len(begins) == 1 and len(commits) == 1
    assert statements[0].startswith("BEGIN") and statements[-1].startswith("COMMIT")
    cached = await store.catalog.get_query("q")
    assert cached is not None and cached.model_ids == tuple(range(1, 101)) and cached.next_cursor == "next"


async def test_failed_page_write_leaves_nothing(store: Store) -> None:
    good = Model.from_json({"id": 1, "name": "ok"})

    class Broken:
        id = 2
        raw: ClassVar[dict] = {"id": 2}

    with pytest.raises(AttributeError):
        await store.catalog.put_models([good, Broken()])  # type: ignore[list-item]
    assert await store.catalog.count_models() == 0


async def test_cache_survives_reopen(tmp_path: Path, load_sample) -> None:
    path = tmp_path / "bot.sqlite3"
    models = Page.parse(load_sample("models_list_limit10_2025-08.json"), Model.from_json).items
    first = await Store.open(path)
    await first.catalog.put_models(models, fetched_at=123.0)
    await first.close()
    second = await Store.open(path)
    try:
        cached = await second.catalog.get_model(models[3].id)
        assert cached is not None and _fingerprint(cached.model) == _fingerprint(models[3])
        assert await second.db.schema_version() == len(migrations())
    finally:
        await second.close()


async def test_pragmas_and_migrations(store: Store, tmp_path: Path) -> None:
    assert (await store.db.fetchval("PRAGMA journal_mode")) == "wal"
    async with store.db.writer.execute("PRAGMA foreign_keys") as cursor:
        assert (await cursor.fetchone())[0] == 1
    assert await store.db.schema_version() == len(migrations()) >= 1
    # a database from a newer bot is refused instead of being damaged
    newer = tmp_path / "newer.sqlite3"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {len(migrations()) + 1}")
    conn.close()
    with pytest.raises(MigrationError, match="newer"):
        await Database.open(newer)


HOSTILE = [
    "", "   ", '"', '""', "'", "a AND", "OR", "NOT x", "NEAR(a b)", "a*", "*", "(", ")", "((a)", "a:b",
    "name:foo", "^start", "-x", "a + b", '"unbalanced', "col:*", "\\", "%", "_", "\x00", "drop table models;",
    "x" * 300, "a " * 200, "麦橘写实", "日本語のモデル", "Ünïcödé", "🙂 emoji", "ملف", "{near}", "[a]",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_fts_never_raises_on_user_text(store: Store, text: str) -> None:
    await store.catalog.put_models([Model.from_json({"id": 1, "name": "majicMIX realistic 麦橘写实",
                                                     "tags": ["realistic"], "creator": {"username": "x"}})])
    hits = await store.catalog.search(text, limit=25)
    assert len(hits) <= 25


def test_fts_expression_quotes_everything() -> None:
    assert fts_expression("dream sha") == '"dream" "sha"*'
    assert fts_expression('a" OR "b') == '"a" "OR" "b"*'
    assert fts_expression("NEAR(x y)") == '"NEAR" "x" "y"*'
    assert fts_expression("  ") is None and fts_expression("***") is None
    assert len(json.dumps(fts_expression("word " * 100))) < 200  # capped at 8 terms


async def test_search_ranks_by_popularity_and_matches_prefixes(store: Store, load_sample) -> None:
    models = Page.parse(load_sample("models_list_limit10_2025-08.json"), Model.from_json).items
    await store.catalog.put_models(models)
    hits = await store.catalog.search("real")
    names = [h.name for h in hits]
    assert "Realistic Vision V6.0 B1" in names and "majicMIX realistic 麦橘写实" in names
    assert [h.popularity for h in hits] == sorted((h.popularity for h in hits), reverse=True)
    assert [h.name for h in await store.catalog.search("麦橘")] == ["majicMIX realistic 麦橘写实"]
    assert [h.id for h in await store.catalog.search("purplesmart")] == [257749]  # creator
    lora = await store.catalog.search("detail", types=["LORA"])
    assert [h.name for h in lora] == ["Detail Tweaker XL"]


async def test_popularity_changes_reorder_search_without_duplicates(store: Store) -> None:
    def model(model_id: int, downloads: int) -> Model:
        return Model.from_json({"id": model_id, "name": f"anime style {model_id}",
                                "stats": {"downloadCount": downloads}})

    await store.catalog.put_models([model(1, 10), model(2, 500), model(3, 50)])
    assert [h.id for h in await store.catalog.search("anim")] == [2, 3, 1]
    await store.catalog.put_models([model(1, 9000)])
    assert [h.id for h in await store.catalog.search("anim")] == [1, 2, 3]
    assert await store.db.fetchval("SELECT count(*) FROM models_fts") == 3
    await store.catalog.delete_model(2)
    assert [h.id for h in await store.catalog.search("anim")] == [1, 3]
    assert await store.db.fetchval("SELECT count(*) FROM models_fts") == 2


async def test_tag_and_creator_samples_round_trip(store: Store, load_sample) -> None:
    from bot.hub.models import Creator, Tag

    tags = Page.parse(load_sample("wiki2023_tags_limit3.json"), Tag.from_json).items
    creators = Page.parse(load_sample("wiki2023_creators_limit3.json"), Creator.from_json).items
    await store.directory.put_tags(tags)
    await store.directory.put_creators(creators)
    assert await store.directory.tag_names("") == ["style", "comic book", "Pepe Larraz"]  # by model count
    assert await store.directory.tag_names("COMIC") == ["comic book"]
    assert await store.directory.creator_names("just") == ["JustMaier"]
    assert await store.directory.tag_names("%") == [] and await store.directory.creator_names("_") == []


def test_internal_trpc_sample_images_parse(load_sample) -> None:
    """The bot never calls the hub's internal tRPC API, but its image objects (numeric levels, bare
    UUID urls) must not trip the tolerant image parser."""
    from bot.hub.models import Image

    payload = load_sample("trpc_image_getImagesAsPostsInfinite_with_review.json")
    posts = payload["result"]["data"]["json"]["items"]
    images = [Image.from_json(i) for post in posts for i in post.get("images", [])]
    # nsfwLevel says PG but combinedNsfwLevel says R: the image may be either, so it is kept out of
    # ordinary channels under the default PG13 policy
    assert images and images[0].raw["nsfwLevel"] == 1 and images[0].raw["combinedNsfwLevel"] == 4
    assert images[0].level == 1 | 4
    assert all(i.url and "/" not in i.url for i in images)  # bare CDN ids, not URLs


async def test_a_database_path_with_url_characters(tmp_path: Path) -> None:
    odd = tmp_path / "data#1" / "a?b c%20" / "bot.sqlite3"
    store = await Store.open(odd)
    try:
        await store.catalog.put_models([Model.from_json({"id": 7, "name": "Odd Path"})])
        assert [h.name for h in await store.catalog.search("odd")] == ["Odd Path"]  # the reader sees it
    finally:
        await store.close()
    assert odd.exists()


async def test_old_models_are_pruned_whole(store: Store) -> None:
    def model(model_id: int) -> Model:
        version = {"id": model_id * 10, "files": [{"hashes": {"SHA256": f"{model_id:064X}"}}],
                   "images": [{"nsfwLevel": 1}]}
        return Model.from_json({"id": model_id, "name": f"prunable {model_id}", "modelVersions": [version]})

    await store.catalog.put_models([model(1), model(2)], fetched_at=100.0)
    await store.catalog.put_models([model(3)], fetched_at=10_000.0)
    await store.catalog.put_version(ModelVersion.from_json({"id": 99, "modelId": 42}), fetched_at=100.0)
    assert await store.catalog.prune_models(5_000.0, batch=1) == 2
    assert [h.id for h in await store.catalog.search("prunable")] == [3]
    assert await store.db.fetchval("SELECT count(*) FROM models_fts") == 1
    assert await store.db.fetchval("SELECT count(*) FROM model_versions") == 1
    assert await store.db.fetchval("SELECT count(*) FROM file_hashes") == 1
    assert await store.db.fetchval("SELECT count(*) FROM model_images") == 1
