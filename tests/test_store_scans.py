"""Background scans never delay interactive reads (issue 8, defect 7).

aiosqlite runs each connection's statements one after another on that connection's thread. The
vocabulary refresh (three GROUP BY scans over the whole cache) used to run on the one reader, so every
autocomplete read queued behind it waited for the scan to end. Scans now have their own read-only
connection (``Database.scan_fetchall``).

No timing thresholds: a scan is held mid-way (a SQLite function, or a progress handler, that blocks on
a ``threading.Event``) and the interactive reads must complete while it is still held. The hold lets go
by itself after ``_SAFETY`` seconds only so that a regression fails instead of hanging; the test then
fails because the reads could only finish after the scan did.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path

from bot.catalog.search import COMMON_BASE_MODELS, SearchService
from bot.core.rating import ALL_RATED
from bot.hub.models import Model
from bot.store import Store
from tests.fakes.hub_data import generate_models

_SAFETY = 10.0


class _Hold:
    """Blocks the SQLite thread that first calls it until ``release()``; later calls pass."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fired = False
        self.entered = threading.Event()
        self._released = threading.Event()
        self.timed_out = False

    def _block_once(self) -> None:
        with self._lock:
            if self._fired:
                return
            self._fired = True
        self.entered.set()
        if not self._released.wait(_SAFETY):
            self.timed_out = True

    def function(self, value: object) -> object:  # a SQL function: hold(x) -> x
        self._block_once()
        return value

    def progress(self) -> int:  # a progress handler: 0 = go on
        self._block_once()
        return 0

    @property
    def holding(self) -> bool:
        return self.entered.is_set() and not self._released.is_set() and not self.timed_out

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, _SAFETY), "the scan never reached the hold"

    def release(self) -> None:
        self._released.set()


def _models(n: int = 60) -> list[Model]:
    return [Model.from_json(m) for m in generate_models(n, seed=21)]


def _a_name_word(models: list[Model]) -> tuple[str, int]:
    """A whole word of a model name that the autocomplete search must find, and that model's id."""
    for model in models:
        words = [w for w in (model.name or "").split() if w.isalnum() and len(w) >= 3]
        if words and model.effective_level() & ALL_RATED:
            return words[0], model.id
    raise AssertionError("no usable model name in the test data")


async def test_a_held_scan_never_delays_autocomplete_reads(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    hold = _Hold()
    try:
        models = _models()
        await store.catalog.put_models(models)
        word, model_id = _a_name_word(models)
        # on both read connections, so that a scan sent through the interactive reader is held there too
        for conn in (store.db.reader, store.db.scanner):
            await conn.create_function("hold", 1, hold.function)

        scan = asyncio.create_task(store.db.scan_fetchall("SELECT hold(id) FROM models ORDER BY id"))
        await hold.wait_entered()

        hits = await store.catalog.search(word, limit=100, max_level=ALL_RATED)  # what /model autocomplete asks
        count = await store.db.fetchval("SELECT count(*) FROM models")
        assert hold.holding and not scan.done(), "the reads had to wait for the scan to end"
        assert model_id in [h.id for h in hits]
        assert count == len(models)

        hold.release()
        assert [r[0] for r in await scan] == sorted(m.id for m in models)
    finally:
        hold.release()
        await store.close()
    assert not hold.timed_out


async def test_the_vocabulary_refresh_held_mid_scan_never_delays_autocomplete(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    search = SearchService(cache=None, store=store)  # type: ignore[arg-type]  # only the store is used here
    hold = _Hold()
    try:
        models = _models()
        await store.catalog.put_models(models)
        word, model_id = _a_name_word(models)
        # whichever read connection the refresh runs on, its first scan stops there mid-way
        for conn in (store.db.reader, store.db.scanner):
            await conn.set_progress_handler(hold.progress, 50)

        refresh = asyncio.create_task(search.refresh_vocabulary())
        await hold.wait_entered()

        hits = await store.catalog.search(word, limit=100, max_level=ALL_RATED)
        assert hold.holding and not refresh.done(), "autocomplete had to wait for the vocabulary refresh"
        assert model_id in [h.id for h in hits]

        hold.release()
        vocabulary = await refresh
    finally:
        hold.release()
        await store.close()
    assert not hold.timed_out

    tags = Counter(t for m in models for t in m.tags)
    creators = Counter(m.creator_name for m in models if m.creator_name is not None)
    bases = Counter(v.base_model for m in models for v in m.versions if v.base_model is not None)
    assert set(vocabulary.tags) == set(tags) and len(vocabulary.tags) == len(tags)
    assert set(vocabulary.creators) == set(creators) and len(vocabulary.creators) == len(creators)
    seen_bases = vocabulary.base_models[:len(bases)]  # then the well-known ones not seen
    assert set(seen_bases) == set(bases)
    assert vocabulary.base_models == list(dict.fromkeys([*seen_bases, *COMMON_BASE_MODELS]))
    for names, counts in ((vocabulary.tags, tags), (vocabulary.creators, creators), (seen_bases, bases)):
        assert [counts[n] for n in names] == sorted((counts[n] for n in names), reverse=True)  # most common first
