"""Search benchmark: /model autocomplete end to end through the loopback Discord with 50,000 cached
models, and the 4-image collage render time.

    python bench/search_bench.py [--models 50000] [--queries 1000]

The cache is filled first (pages of 100, as the bot writes them); then the real bot runs as its own
process (``python -m bot run``) on that database, and each autocomplete interaction is timed from the
moment the fake Discord dispatches INTERACTION_CREATE to the moment the bot's callback arrives.
Targets (issue "Model search, model cards and hash lookup"): autocomplete p99 under 50 ms end to end;
collage under 150 ms (the collage numbers come from bench/preview_bench.py, run at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.hub.models import Model  # noqa: E402
from bot.store import Store  # noqa: E402
from tests.fakes.discord_server import FakeDiscord  # noqa: E402
from tests.fakes.hub_data import generate_models  # noqa: E402
from tests.fakes.hub_server import FakeHub  # noqa: E402
from tests.support import TOKEN  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def fill(db_path: Path, n: int) -> list[str]:
    raw = generate_models(n, seed=3)
    models = [Model.from_json(m) for m in raw]
    store = await Store.open(db_path)
    try:
        for start in range(0, len(models), 100):
            await store.catalog.put_page(f"fill:{start}", models[start:start + 100], None)
    finally:
        await store.close()
    rng = random.Random(5)
    words = [w for m in rng.sample(models, 3000) for w in re.findall(r"\w+", m.name or "")]
    return words


async def run(n_models: int, n_queries: int, tmp: Path) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    db = tmp / "bot.sqlite3"
    started = time.perf_counter()
    words = await fill(db, n_models)
    print(f"cache filled with {n_models:,} models in {time.perf_counter() - started:.0f} s")

    rng = random.Random(11)
    queries = []
    for _ in range(n_queries):
        word = rng.choice(words)
        queries.append(word[: rng.randint(1, min(8, len(word)))])

    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        config = tmp / "config.toml"
        config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                          '[logging]\nlevel = "WARNING"\n')
        hub.down = True  # autocomplete must not need the hub; background warm-ups get a fast 503
        hub.down_retry_after = "0"
        env = dict(os.environ, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.api_base,
                   DISCORD_GATEWAY_URL=fake.gateway_url, HUB_BASE_URL=hub.base_url, BOT_DATABASE=str(db))
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config),
                                                    cwd=REPO, env=env)
        try:
            await fake.wait_for_ready(timeout=60)
            await fake.wait_until(lambda: fake.find_command("model", guild.id) is not None, timeout=30)
            await asyncio.sleep(3)
            channel, user = guild.channel("general").id, guild.member("member").id
            for q in queries[:30]:  # warm-up
                await fake.autocomplete("model", focused="model", value=q, guild_id=guild.id,
                                        channel_id=channel, user_id=user)
            latencies, sizes = [], []
            for q in queries:
                t0 = time.perf_counter()
                choices = await fake.autocomplete("model", focused="model", value=q, guild_id=guild.id,
                                                  channel_id=channel, user_id=user)
                latencies.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(choices))
            print(f"/model autocomplete end to end, {len(queries):,} prefixes over {n_models:,} cached models: "
                  f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                  f"max {max(latencies):.1f} ms, mean {statistics.fmean(latencies):.1f} ms; "
                  f"{statistics.fmean(sizes):.1f} choices on average, {sizes.count(0)} empty "
                  f"[p99 target 50 ms: {'ok' if percentile(latencies, 99) < 50 else 'MISSED'}]", flush=True)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.models, args.queries, Path(tmp)))
    print("collage (bench/preview_bench.py):", flush=True)
    subprocess.run([sys.executable, str(REPO / "bench" / "preview_bench.py")], check=True)


if __name__ == "__main__":
    main()
