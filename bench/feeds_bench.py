"""Feeds benchmark: 10,000 subscriptions over 2,000 channels sharing 300 distinct hub queries, 500 new
versions published between two polls.

    python bench/feeds_bench.py [--subs 10000] [--channels 2000] [--queries 300] [--new 500]

Measures, for the poll that finds the new versions: hub requests (must equal the distinct queries plus
extra pages), CPU seconds spent matching and planning (outbox writes included), SQLite rows and
statements written, and the wall time of the poll. Runs the real FeedService against the loopback hub
(in this process) and a real SQLite file; Discord is not involved (delivery is measured end to end by
the tests). Target (issue "New-release feeds"): planning and matching under 1 s of CPU per poll.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.feeds import FeedFilter, FeedService, iso
from bot.hub.client import HubClient
from bot.policy.settings import GuildSettingsService
from bot.store import Store
from tests.fakes.hub_server import FakeHub

TYPES = ["LORA", "Checkpoint", "LoCon", "TextualInversion", "VAE", "Controlnet", "DoRA", "Upscaler"]
BASES = ["SD 1.5", "SDXL 1.0", "Pony", "Illustrious", "Flux.1 D", "NoobAI", "SD 3.5", "Flux.1 S", "Other"]
TAGS = ["anime", "style", "character", "concept", "photorealistic", "clothing", "background", "tool"]


CREATORS = [f"creator{i:02d}" for i in range(60)]


def make_filters(n: int, rng: random.Random, *, broad: bool) -> list[FeedFilter]:
    """``n`` distinct filters. Realistic mix (default): mostly one type and one base model, some with a
    tag, a creator, or two base models, a few type-only firehoses. ``broad``: 1-2 types and 0-2 base
    models and tags, which makes every subscription match dozens of versions per poll."""
    seen: dict[str, FeedFilter] = {}
    while len(seen) < n:
        if broad:
            f = FeedFilter(
                types=tuple(sorted(rng.sample(TYPES, rng.choice([1, 1, 2])))),
                base_models=tuple(sorted(rng.sample(BASES, rng.choice([0, 1, 1, 2])))),
                tags=tuple(sorted(rng.sample(TAGS, rng.choice([0, 0, 1, 2])))),
                query=rng.choice([None] * 6 + ["girl", "style"]),
            )
        else:
            r = rng.random()
            if r < 0.60:
                f = FeedFilter(types=(rng.choice(TYPES),), base_models=(rng.choice(BASES),))
            elif r < 0.75:
                f = FeedFilter(types=(rng.choice(TYPES),), base_models=(rng.choice(BASES),), tags=(rng.choice(TAGS),))
            elif r < 0.85:
                f = FeedFilter(creators=(rng.choice(CREATORS),))
            elif r < 0.95:
                f = FeedFilter(types=(rng.choice(TYPES),), base_models=tuple(sorted(rng.sample(BASES, 2))))
            else:
                f = FeedFilter(types=(rng.choice(TYPES),))
        seen.setdefault(f.hub_query().key(), f)
    return list(seen.values())


async def run(args: argparse.Namespace, tmp: Path) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    rng = random.Random(9)
    filters = make_filters(args.queries, rng, broad=args.broad)
    async with FakeHub(samples=False, generated=args.catalogue, seed=4) as hub:
        store = await Store.open(tmp / "bench.sqlite3")
        feeds_store = store.feeds
        client = HubClient(hub.base_url, max_concurrency=4)
        service = FeedService(client, store, feeds_store, GuildSettingsService(store.settings), poll_interval=600,
                              max_posts_per_poll=10, max_failures=5)
        start = datetime.now(UTC) - timedelta(seconds=5)
        weights = [1 / (i + 1) ** 0.8 for i in range(len(filters))]
        rows = []
        for i in range(args.subs):
            f = filters[i] if i < len(filters) else rng.choices(filters, weights)[0]  # every query used
            channel = 10_000 + rng.randrange(args.channels)
            rows.append((1 + channel % 50, channel, 1, f))
        started = time.perf_counter()
        async with store.db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO subscriptions (guild_id, channel_id, created_by, types, base_models, tags, creators, "
                "query, max_rating, age_restricted, hub_query, started_at, created_at, state_changed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?, ?, ?, ?)",
                [(g, c, u, _json(f.types), _json(f.base_models), _json(f.tags), _json(f.creators), f.query,
                  f.hub_query().key(), iso(start), time.time(), time.time()) for g, c, u, f in rows])
        print(f"{'broad' if args.broad else 'realistic'} filters: "
              f"{args.subs:,} subscriptions in {args.channels:,} channels, {len(filters)} distinct hub queries "
              f"(stored in {time.perf_counter() - started:.2f} s); hub catalogue {args.catalogue:,} models")

        first = await service.poll()
        print(f"first poll (sets each query's position): {first.hub_requests} hub requests, "
              f"planned {first.planned}")

        for _ in range(args.new):  # new releases spread over every type, base model, tag and creator
            hub.publish_model(type=rng.choice(TYPES), base_model=rng.choice(BASES), creator=rng.choice(CREATORS),
                              tags=rng.sample(TAGS, 2), image_levels=[1, 2],
                              name=f"New {rng.choice(['girl', 'style', 'thing'])} {rng.randrange(10**6)}")
        before_requests = len(hub.requests_to("/api/v1/models"))
        before_changes = store.db.writer.total_changes
        transactions = count_transactions(store)
        cpu = time.process_time()
        wall = time.perf_counter()
        report = await service.poll()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        requests = len(hub.requests_to("/api/v1/models")) - before_requests
        print(f"poll with {args.new} new versions: {requests} hub requests for {report.queries} distinct queries "
              f"({requests - report.queries} extra pages); {report.candidates} candidate versions; "
              f"planned {report.planned:,} deliveries")
        print(f"  matching + planning CPU: {report.planning_cpu_s:.3f} s "
              f"[target < 1 s: {'ok' if report.planning_cpu_s < 1 else 'MISSED'}]; whole poll: {cpu:.2f} s CPU "
              f"(the loopback hub in this process included), {wall:.2f} s wall")
        print(f"  SQLite: {store.db.writer.total_changes - before_changes:,} rows written (outbox "
              f"{report.planned:,}, the new models' cache rows, {report.queries} query positions), in "
              f"{transactions[0]} transactions")
        await client.aclose()
        await store.close()


def count_transactions(store: Store) -> list[int]:
    """Count the write transactions from now on (the count is element 0 of the returned list)."""
    counter = [0]
    original = store.db.transaction

    def counting():  # type: ignore[no-untyped-def]
        counter[0] += 1
        return original()

    store.db.transaction = counting  # type: ignore[method-assign]
    return counter


def _json(values: tuple[str, ...]) -> str:
    import json

    return json.dumps(list(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subs", type=int, default=10_000)
    parser.add_argument("--channels", type=int, default=2_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--new", type=int, default=500)
    parser.add_argument("--catalogue", type=int, default=2_000, help="older models on the hub")
    parser.add_argument("--broad", action="store_true", help="broad filters: every feed matches dozens per poll")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
