"""Scan benchmark: /model autocomplete reads while the vocabulary refresh scans the cache (issue 8, defect 7).

    python bench/scan_bench.py [--models 50000] [--queries 1000] [--db PATH]

The cache is filled with N generated models (pages of 100, as the bot writes them; with ``--db`` an
existing file is reused when it already holds models). Then, for each mode, the vocabulary refresh
(``SearchService.refresh_vocabulary``: three GROUP BY scans) runs in a loop in the background while
1,000 autocomplete reads are timed one at a time, each after a random pause of 0-10 ms so they land at
random points of the scans. The read is the one ``/model`` autocomplete makes
(``store.catalog.search(text, limit=25, max_level=allowed)``, from ``SearchService.model_choices``),
timed from the call to its result, in the bot's process model (one event loop, aiosqlite threads).

Modes:
  idle     no refresh running (the baseline);
  reader   the refresh's scans on the interactive reader, as before the fix (``scan_fetchall`` is
           pointed at ``fetchall`` for the run);
  scanner  the refresh's scans on their own connection (the code as it is).

Target: autocomplete p99 under 50 ms end to end (this is the store part of it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.catalog.search import SearchService
from bot.core.rating import ALL_RATED
from bot.hub.models import Model
from bot.store import Store
from tests.fakes.hub_data import generate_models


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def fill(db_path: Path, n: int) -> None:
    store = await Store.open(db_path)
    try:
        have = await store.catalog.count_models()
        if have >= n:
            print(f"reusing {db_path} with {have:,} models")
            return
        started = time.perf_counter()
        models = [Model.from_json(m) for m in generate_models(n, seed=3)]
        for start in range(0, len(models), 100):
            await store.catalog.put_page(f"fill:{start}", models[start:start + 100], None)
        print(f"cache filled with {n:,} models in {time.perf_counter() - started:.0f} s")
    finally:
        await store.close()


async def make_queries(store: Store, count: int) -> list[str]:
    """1-8 character prefixes of words in cached model names (as members type them)."""
    names = [r[0] for r in await store.db.fetchall("SELECT name FROM models ORDER BY random() LIMIT 3000")]
    words = [w for name in names for w in re.findall(r"\w+", name or "")]
    rng = random.Random(11)
    queries = []
    for _ in range(count):
        word = rng.choice(words)
        queries.append(word[: rng.randint(1, min(8, len(word)))])
    return queries


async def measure(store: Store, queries: list[str], mode: str) -> None:
    search = SearchService(cache=None, store=store)  # type: ignore[arg-type]  # the refresh needs the store only
    db = store.db
    if mode == "reader":
        db.scan_fetchall = db.fetchall  # type: ignore[method-assign]  # before the fix: scans on the reader
    refreshes: list[float] = []
    stop = asyncio.Event()
    first_done = asyncio.Event()

    async def refresh_loop() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await search.refresh_vocabulary()
            refreshes.append((time.perf_counter() - t0) * 1000)
            first_done.set()

    rng = random.Random(17)
    for q in queries[:30]:  # warm-up
        await store.catalog.search(q, limit=25, max_level=ALL_RATED)
    loop_task = asyncio.create_task(refresh_loop()) if mode != "idle" else None
    if loop_task is not None:
        await first_done.wait()  # one refresh done: the pages are as warm as they get
    latencies: list[float] = []
    sizes: list[int] = []
    try:
        for q in queries:
            await asyncio.sleep(rng.random() * 0.010)
            t0 = time.perf_counter()
            hits = await store.catalog.search(q, limit=25, max_level=ALL_RATED)
            latencies.append((time.perf_counter() - t0) * 1000)
            sizes.append(len(hits))
    finally:
        stop.set()
        if loop_task is not None:
            await loop_task
        if mode == "reader":
            del db.scan_fetchall  # type: ignore[misc]
    during = (f"; {len(refreshes)} refreshes meanwhile, each p50 {percentile(refreshes, 50):.0f} ms, "
              f"max {max(refreshes):.0f} ms") if refreshes else ""
    p99 = percentile(latencies, 99)
    print(f"{mode:8} autocomplete reads ({len(latencies):,}): p50 {percentile(latencies, 50):.2f} ms, "
          f"p99 {p99:.2f} ms, max {max(latencies):.2f} ms, mean {statistics.fmean(latencies):.2f} ms; "
          f"{statistics.fmean(sizes):.1f} hits on average{during} "
          f"[p99 target 50 ms: {'ok' if p99 < 50 else 'MISSED'}]", flush=True)


async def run(n_models: int, n_queries: int, db_path: Path, modes: list[str]) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"SQLite {sqlite3.sqlite_version}")
    await fill(db_path, n_models)
    store = await Store.open(db_path)
    try:
        queries = await make_queries(store, n_queries)
        for mode in modes:
            await measure(store, queries, mode)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--db", type=Path, help="database file to fill once and reuse (default: a temporary one)")
    parser.add_argument("--modes", default="idle,reader,scanner", help="comma-separated: idle, reader, scanner")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if args.db is not None:
        asyncio.run(run(args.models, args.queries, args.db, modes))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.models, args.queries, Path(tmp) / "bot.sqlite3", modes))


if __name__ == "__main__":
    main()
