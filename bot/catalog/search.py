"""Search: hub searches paged for Discord, and autocomplete answered from SQLite alone.

Autocomplete never waits on the hub. When the local index knows little about what a member types,
a background hub search (one at a time per text, rate-limited) fills the cache for the next
keystroke.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.catalog.cache import Fetched, HubCache
from bot.core.errors import UserError
from bot.core.rating import has_content_within
from bot.hub.client import MODEL_SORTS, PERIODS, ModelQuery
from bot.hub.errors import HubError
from bot.hub.models import MODEL_TYPES, Model
from bot.store import Store
from bot.store.catalog import SearchHit

log = logging.getLogger(__name__)

#: Well-known base models, offered before the cache has seen any.
COMMON_BASE_MODELS: tuple[str, ...] = (
    "SD 1.5", "SD 2.1", "SDXL 1.0", "Pony", "Illustrious", "NoobAI", "Flux.1 D", "Flux.1 S", "SD 3.5", "Hunyuan Video",
    "Wan Video", "Qwen", "Other",
)
PER_PAGE = 10
HUB_PAGE = 50
WARM_MIN_CHARS = 3
WARM_INTERVAL = 1.0  # seconds between background warm-up searches
VOCABULARY_TTL = 300.0
VOCABULARY_SIZE = 5000


def normalize_type(text: str | None) -> str | None:
    """User text -> a hub ModelType (case-insensitive; "lora" -> "LORA"). ``UserError`` if unknown."""
    if not text or not text.strip():
        return None
    wanted = text.strip().lower().replace(" ", "")
    for t in MODEL_TYPES:
        if t.lower() == wanted:
            return t
    raise UserError(f"Unknown model type “{text[:40]}”. Types: {', '.join(MODEL_TYPES)}.")


def choose(options: Iterable[str], current: str, limit: int = 25) -> list[str]:
    """Prefix matches first, then substring matches, case-insensitive, at most ``limit``."""
    needle = current.strip().lower()
    prefix, inner = [], []
    for option in options:
        low = option.lower()
        if not needle or low.startswith(needle):
            prefix.append(option)
        elif needle in low:
            inner.append(option)
        if len(prefix) >= limit:
            break
    return (prefix + inner)[:limit]


@dataclass
class Vocabulary:
    """Tags, creators and base models seen in the cache, most common first; rebuilt in the background."""

    tags: list[str] = field(default_factory=list)
    creators: list[str] = field(default_factory=list)
    base_models: list[str] = field(default_factory=lambda: list(COMMON_BASE_MODELS))
    built_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SearchFilters:
    query: str | None = None
    type: str | None = None
    base_model: str | None = None
    sort: str | None = None
    period: str | None = None
    tag: str | None = None
    username: str | None = None

    def hub_query(self) -> ModelQuery:
        # nsfw=true: the hub then lists every model with all its images, so the cache holds whole
        # models; what a channel may see is decided locally (bot.core.rating) on every page.
        return ModelQuery(query=self.query, types=(self.type,) if self.type else (),
                          base_models=(self.base_model,) if self.base_model else (), sort=self.sort,
                          period=self.period, tag=self.tag, username=self.username, nsfw=True)


class SearchResults:
    """The results of one /search, paged 10 at a time for Discord, fetched 50 at a time from the hub,
    keeping only models with content the channel may show."""

    def __init__(self, service: SearchService, filters: SearchFilters, allowed: int) -> None:
        self.service = service
        self.filters = filters
        self.allowed = allowed
        self.models: list[Model] = []
        self.cursor: str | None = None
        self.exhausted = False
        self.last: Fetched[object] | None = None

    @property
    def note(self) -> str | None:
        if self.last is None or not self.last.stale:
            return None
        return ("Hub unavailable: matches from the bot's cache" if self.last.local
                else self.last.note())

    async def fetch_more(self) -> None:
        if self.exhausted:
            return
        fetched = await self.service.cache.models_page(self.filters.hub_query(), cursor=self.cursor, limit=HUB_PAGE)
        self.last = fetched  # type: ignore[assignment]
        seen = {m.id for m in self.models}
        for model in fetched.value.items:
            if model.id not in seen and has_content_within(model.effective_level(), self.allowed):
                self.models.append(model)
                seen.add(model.id)
        next_cursor = fetched.value.next_cursor
        if not next_cursor or next_cursor == self.cursor or fetched.local:
            self.exhausted = True
        self.cursor = next_cursor

    async def page(self, index: int) -> list[Model] | None:
        """Models of page ``index`` (0-based); None past the end."""
        need = (index + 1) * PER_PAGE
        attempts = 0
        while len(self.models) < need and not self.exhausted and attempts < 5:
            await self.fetch_more()
            attempts += 1  # pages the channel may see none of: keep going, a few at a time
        items = self.models[index * PER_PAGE:need]
        return items or (None if index else [])

    @property
    def known_pages(self) -> int | None:
        """Page count when the end is known, else None."""
        if not self.exhausted:
            return None
        return max(1, -(-len(self.models) // PER_PAGE))


class SearchService:
    def __init__(self, cache: HubCache, store: Store) -> None:
        self.cache = cache
        self.store = store
        self.vocabulary = Vocabulary()
        self._vocabulary_task: asyncio.Task[None] | None = None
        self._warming: dict[str, asyncio.Task[None]] = {}
        self._last_warm = 0.0

    async def aclose(self) -> None:
        tasks = [t for t in (self._vocabulary_task, *self._warming.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def results(self, filters: SearchFilters, allowed: int) -> SearchResults:
        if filters.sort is not None and filters.sort not in MODEL_SORTS:
            raise UserError(f"Unknown sort; choose one of {', '.join(MODEL_SORTS)}.")
        if filters.period is not None and filters.period not in PERIODS:
            raise UserError(f"Unknown period; choose one of {', '.join(PERIODS)}.")
        return SearchResults(self, filters, allowed)

    # ------------------------------------------------------------------ autocomplete (SQLite only)

    async def model_choices(self, text: str, *, allowed: int, limit: int = 25) -> list[SearchHit]:
        """Cached models matching what was typed, most popular first, only those with content the
        channel may show. Starts a background hub search when the cache knows little."""
        hits = await self.store.catalog.search(text, limit=limit, max_level=allowed)
        if len(hits) < 5:
            self.warm(text)
        return hits

    def type_choices(self, text: str) -> list[str]:
        return choose(MODEL_TYPES, text)

    def base_model_choices(self, text: str) -> list[str]:
        self._refresh_vocabulary_soon()
        return choose(self.vocabulary.base_models, text)

    async def tag_choices(self, text: str) -> list[str]:
        self._refresh_vocabulary_soon()
        known = await self.store.directory.tag_names(text, limit=25)
        return choose(dict.fromkeys([*known, *self.vocabulary.tags]), text)

    async def creator_choices(self, text: str) -> list[str]:
        self._refresh_vocabulary_soon()
        known = await self.store.directory.creator_names(text, limit=25)
        return choose(dict.fromkeys([*known, *self.vocabulary.creators]), text)

    # ------------------------------------------------------------------ background work

    def warm(self, text: str) -> None:
        """Ask the hub for ``text`` in the background so the next keystroke finds it locally."""
        key = " ".join(text.lower().split())
        now = time.monotonic()
        if len(key) < WARM_MIN_CHARS or key in self._warming or now - self._last_warm < WARM_INTERVAL:
            return
        self._last_warm = now

        async def run() -> None:
            try:
                await self.cache.models_page(ModelQuery(query=key[:100], nsfw=True), limit=20)
            except HubError as exc:
                log.debug("autocomplete warm-up for %r failed: %s", key, exc)
            finally:
                self._warming.pop(key, None)

        self._warming[key] = asyncio.get_running_loop().create_task(run(), name=f"warm {key[:20]}")

    def _refresh_vocabulary_soon(self) -> None:
        stale = time.monotonic() - self.vocabulary.built_at > VOCABULARY_TTL
        running = self._vocabulary_task is not None and not self._vocabulary_task.done()
        if stale and not running:
            self._vocabulary_task = asyncio.get_running_loop().create_task(self.refresh_vocabulary())

    async def refresh_vocabulary(self) -> Vocabulary:
        """Rebuild the tag, creator and base-model lists from the cache. The scans run on the store's
        scan connection (``CatalogStore.vocabulary``), so autocomplete reads never wait behind them."""
        tags, creators, bases = await self.store.catalog.vocabulary(VOCABULARY_SIZE)
        base_models = list(dict.fromkeys([*bases, *COMMON_BASE_MODELS]))
        self.vocabulary = Vocabulary(tags=tags, creators=creators, base_models=base_models,
                                     built_at=time.monotonic())
        return self.vocabulary

    async def known_base_models(self) -> list[str]:
        """Base models a feed may name: the vocabulary, built now if it never was."""
        if not self.vocabulary.built_at:
            await self.refresh_vocabulary()
        else:
            self._refresh_vocabulary_soon()
        return self.vocabulary.base_models
