"""The tolerant models parse every real sample, in both API eras, and survive drift and garbage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.core.rating import LEGACY_NSFW, Rating
from bot.hub.models import Article, Image, Model, ModelFile, ModelVersion, Page, Stats, Tag, as_str_tuple


def test_2025_models_list_parses(load_sample) -> None:
    payload = load_sample("models_list_limit10_2025-08.json")
    page = Page.parse(payload, Model.from_json)
    assert len(page.items) == len(payload["items"]) == 10 and page.skipped == 0
    assert page.next_cursor == "37169|338034|122359"
    pony = page.items[0]
    assert pony.id == 257749 and pony.name == "Pony Diffusion V6 XL"
    assert pony.type == "Checkpoint" and pony.creator_name == "PurpleSmartAI"
    assert pony.level == 7 and pony.allow_commercial_use == ("Image", "RentCivit")
    assert pony.stats.download_count == 713857 and pony.stats.thumbs_up == 68768
    v6 = pony.version(290640)
    assert v6 is not None and v6.base_model == "Pony"
    assert v6.published_at == datetime(2024, 1, 8, 4, 48, 43, 529000, tzinfo=UTC)
    primary = v6.primary_file
    assert primary is not None and primary.name == "ponyDiffusionV6XL_v6StartWithThisOne.safetensors"
    assert primary.hashes["AutoV2"] == "67AB2FD8EC" and primary.hashes["AutoV3"] == "E023C143436D"
    assert primary.format == "SafeTensor" and primary.fp == "fp16" and primary.size == "pruned"
    assert all(image.level == Rating.PG for image in v6.images)  # no nsfw=true: PG images only
    # every version of every model has an id and every file hash is upper-case hex
    for model in page.items:
        assert len(model.versions) == len(model.raw["modelVersions"])
        for version in model.versions:
            for f in version.files:
                for value in f.hashes.values():
                    assert value == value.upper()


def test_2023_era_parses_with_legacy_fields(load_sample) -> None:
    payload = load_sample("wiki2023_models_textualinversion_limit3.json")
    page = Page.parse(payload, Model.from_json)
    assert [m.id for m in page.items] == [3036, 4514, 8109]
    assert page.next_cursor is None and page.total_items == 1676
    charturner, eros, _ = page.items
    assert charturner.allow_commercial_use == ("Rent",)  # 2023: a plain string
    assert charturner.level == 0 and charturner.stats.rating == pytest.approx(4.63)
    assert charturner.stats.thumbs_up is None  # absent in 2023
    version = charturner.versions[0]
    assert version.published_at is None and version.date == datetime(2023, 2, 12, 22, 44, 1, 442000, tzinfo=UTC)
    assert "AutoV3" not in version.files[0].hashes
    # legacy boolean nsfw on images: unknown mature level, only for age-restricted channels
    assert eros.nsfw is True
    assert eros.versions[0].images[0].level == LEGACY_NSFW
    assert eros.effective_level() & LEGACY_NSFW


def test_2023_model_version_parses(load_sample) -> None:
    version = ModelVersion.from_json(load_sample("wiki2023_model_version_1318.json"))
    assert version.id == 1318 and version.model_id == 1244
    assert version.model_name == "froggy style" and version.model_type == "Checkpoint"
    assert version.trained_words == ("ttdddd",)
    f = version.primary_file
    assert f is not None and f.hashes["SHA256"].startswith("0DF040C8CD") and f.format == "PickleTensor"
    assert {i.level for i in version.images} == {Rating.PG | Rating.PG13}


def test_images_tags_creators_samples(load_sample) -> None:
    images = Page.parse(load_sample("wiki2023_images_limit1.json"), Image.from_json)
    assert images.next_cursor == "101"  # a number in 2023, a string now
    assert images.items[0].id == 469632 and images.items[0].level == Rating.PG
    tags = Page.parse(load_sample("wiki2023_tags_limit3.json"), Tag.from_json)
    assert [t.name for t in tags.items] == ["Pepe Larraz", "comic book", "style"]
    assert tags.items[2].model_count == 91


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Sell", ("Sell",)), (["Image", "Rent"], ("Image", "Rent")), ("{Image,RentCivit}", ("Image", "RentCivit")),
     (None, ()), ("", ()), ([1, None, "Sell"], ("Sell",))],
)
def test_allow_commercial_use_drift(value, expected) -> None:
    assert as_str_tuple(value) == expected
    assert Model.from_json({"id": 1, "allowCommercialUse": value}).allow_commercial_use == expected


def test_every_field_is_optional() -> None:
    model = Model.from_json({"id": 5})
    assert model.name is None and model.versions == () and model.creator is None and model.tags == ()
    assert model.stats == Stats() and model.latest_version is None and model.popularity == 0
    version = ModelVersion.from_json({"id": 9})
    assert version.primary_file is None and version.images == () and version.level == 0
    assert ModelFile.from_json({}).hashes == {}
    assert Image.from_json({}).level == 0


def test_wrong_types_are_coerced_or_dropped() -> None:
    model = Model.from_json({
        "id": "42", "name": 12, "nsfwLevel": "5", "tags": ["a", {"name": "b"}, 3],
        "stats": {"downloadCount": None, "thumbsUpCount": "7"}, "creator": "not an object",
        "modelVersions": [{"id": 1, "files": "nope", "images": [None, {"url": 3, "nsfwLevel": "X"}],
                           "publishedAt": "yesterday"}, {"name": "no id"}, "garbage"],
    })
    assert model.id == 42 and model.name == "12" and model.level == 5 and model.tags == ("a", "b")
    assert model.stats.download_count is None and model.stats.thumbs_up == 7
    assert model.popularity == 140  # hidden downloads: ranked by thumbs-up
    assert model.creator is None and len(model.versions) == 1
    version = model.versions[0]
    assert version.files == () and version.published_at is None
    assert len(version.images) == 1 and version.images[0].level == Rating.X | Rating.XXX


def test_unidentifiable_objects() -> None:
    with pytest.raises(ValueError):
        Model.from_json({"name": "no id"})
    with pytest.raises(ValueError):
        Model.from_json(["not", "an", "object"])
    page = Page.parse({"items": [{"id": 1}, {"name": "x"}, 7], "metadata": {"nextCursor": ""}}, Model.from_json)
    assert [m.id for m in page.items] == [1] and page.skipped == 2 and page.next_cursor is None
    with pytest.raises(ValueError):
        Page.parse({"error": "oops"}, Model.from_json)


def test_image_id_from_detail_url_and_latest_version() -> None:
    image = Image.from_json({"url": "https://image.civitai.com/x/uuid/width=450/123456.jpeg", "nsfwLevel": 2})
    assert image.id == 123456 and image.level == Rating.PG13
    model = Model.from_json({"id": 1, "modelVersions": [
        {"id": 10, "publishedAt": "2024-01-01T00:00:00.000Z"},
        {"id": 11, "publishedAt": "2025-01-01T00:00:00.000Z"},
        {"id": 12},
    ]})
    assert model.latest_version is not None and model.latest_version.id == 11
    assert model.last_version_at == datetime(2025, 1, 1, tzinfo=UTC)


def test_article_stats_from_list_and_detail_keys() -> None:
    listed = Article.from_json({"id": 3, "title": "T", "stats": {"likeCount": 4, "commentCount": 2},
                                "tags": [{"id": 7, "name": "guide"}], "user": {"username": "u"},
                                "publishedAt": "2026-08-01T10:00:00.000Z", "nsfwLevel": 1})
    detail = Article.from_json({"id": 3, "stats": {"likeCountAllTime": 4, "commentCountAllTime": 2},
                                "content": "<p>hi</p>"})
    assert listed.stats.likes == detail.stats.likes == 4
    assert listed.stats.engagement == detail.stats.engagement == 8
    assert listed.tags == ("guide",) and listed.tag_ids == (7,) and listed.username == "u"
    assert detail.content == "<p>hi</p>"
