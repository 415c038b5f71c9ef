"""Search service pieces that need no Discord: vocabulary, choices, filters."""

from __future__ import annotations

import pytest

from bot.cache import HubCache
from bot.errors import UserError
from bot.hub.client import HubClient
from bot.hub.models import Model, Page
from bot.search import SearchService, choose, normalize_type
from bot.store import Store


async def test_vocabulary_is_counted_by_sqlite(store: Store, load_sample) -> None:
    models = Page.parse(load_sample("models_list_limit10_2025-08.json"), Model.from_json).items
    await store.catalog.put_models(models)
    async with HubClient("http://127.0.0.1:9") as hub:
        service = SearchService(HubCache(hub, store, ttl_seconds=60), store)
        vocabulary = await service.refresh_vocabulary()
        assert vocabulary.tags[0] == "base model"  # on 9 of the 10 sample models
        assert "anime" in vocabulary.tags and "PurpleSmartAI" in vocabulary.creators
        assert vocabulary.base_models[0] == "SD 1.5" and "Pony" in vocabulary.base_models
        assert await service.known_base_models() == vocabulary.base_models
        assert (await service.tag_choices("ani"))[0] == "anime"
        await service.aclose()


def test_choose_prefers_prefixes() -> None:
    assert choose(["Workflows", "LORA", "LoCon", "ComfyWorkflows"], "lo") == ["LORA", "LoCon", "Workflows",
                                                                            "ComfyWorkflows"]
    assert choose(["a"] * 40, "") == ["a"] * 25


def test_types_are_normalised_or_named() -> None:
    assert normalize_type("lora") == "LORA" and normalize_type(" textual inversion ") == "TextualInversion"
    assert normalize_type("") is None
    with pytest.raises(UserError, match="Unknown model type “Banana”"):
        normalize_type("Banana")
