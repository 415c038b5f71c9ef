"""Cache benchmark: load N generated models (default 50,000) into the SQLite cache the way the bot does
(pages of 100, one transaction each), then measure FTS prefix-search latency over 1,000 queries.

    python bench/cache_bench.py [--models 50000] [--queries 1000] [--db PATH]

Target (issue "The runnable core"): autocomplete-style prefix search p99 below 5 ms.
Results go to stdout; copy them into bench/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.hub.models import Model
from bot.store import Store
from tests.fakes.hub_data import generate_models


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def make_queries(models: list[Model], count: int, rng: random.Random) -> list[str]:
    """What members type: 1-6 letter prefixes of words in names, tags and creators, sometimes two words."""
    words: list[str] = []
    for model in rng.sample(models, min(len(models), 5000)):
        words += re.findall(r"\w+", model.name or "")
        words += list(model.tags[:2])
        if model.creator_name:
            words.append(model.creator_name)
    queries = []
    for _ in range(count):
        word = rng.choice(words)
        prefix = word[: rng.randint(1, min(6, len(word)))]
        if rng.random() < 0.25:
            prefix = f"{rng.choice(words)} {prefix}"
        queries.append(prefix)
    return queries


async def run(n_models: int, n_queries: int, db_path: Path) -> None:
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}")
    started = time.perf_counter()
    raw = generate_models(n_models, seed=1)
    print(f"generated {len(raw):,} models in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    gc.disable()
    models = [Model.from_json(m) for m in raw]
    gc.enable()
    del raw
    parse_s = time.perf_counter() - started
    print(f"parsed into Model objects in {parse_s:.1f} s ({len(models) / parse_s:,.0f} models/s)")

    store = await Store.open(db_path)
    try:
        started = time.perf_counter()
        page_times = []
        for start in range(0, len(models), 100):
            t0 = time.perf_counter()
            page = models[start:start + 100]
            await store.catalog.put_page(f"bench:{start}", page, None)
            page_times.append(time.perf_counter() - t0)
        insert_s = time.perf_counter() - started
        rows = {t: await store.db.fetchval(f"SELECT count(*) FROM {t}")
                for t in ("models", "model_versions", "model_files", "file_hashes", "model_images")}
        print(f"inserted {len(models):,} models in {insert_s:.1f} s: {len(models) / insert_s:,.0f} models/s, "
              f"{sum(rows.values()) / insert_s:,.0f} rows/s; page of 100: p50 "
              f"{percentile(page_times, 50) * 1000:.0f} ms, p99 {percentile(page_times, 99) * 1000:.0f} ms")
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
        print(f"database size: {await store.db.size_bytes() / 1e6:,.0f} MB")

        rng = random.Random(7)
        queries = make_queries(models, n_queries, rng)
        for q in queries[:50]:  # warm the page cache
            await store.catalog.search(q, limit=25)
        latencies = []
        empty = 0
        for q in queries:
            t0 = time.perf_counter()
            hits = await store.catalog.search(q, limit=25)
            latencies.append((time.perf_counter() - t0) * 1000)
            empty += not hits
        print(f"FTS prefix search, {len(queries):,} queries (limit 25, ranked by popularity): "
              f"p50 {percentile(latencies, 50):.2f} ms, p99 {percentile(latencies, 99):.2f} ms, "
              f"max {max(latencies):.2f} ms, mean {statistics.fmean(latencies):.2f} ms; "
              f"{empty} queries matched nothing")
        short = [lat for q, lat in zip(queries, latencies, strict=True) if len(q) <= 2]
        if short:
            print(f"  of which 1-2 character queries ({len(short)}): p50 {percentile(short, 50):.2f} ms, "
                  f"p99 {percentile(short, 99):.2f} ms")
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    args = parser.parse_args()
    if args.db:
        asyncio.run(run(args.models, args.queries, args.db))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.models, args.queries, Path(tmp) / "bench.sqlite3"))


if __name__ == "__main__":
    main()
