"""Bot benchmark: idle memory of the real bot process connected to the loopback Discord with 1, 100 and
1,000 guilds, and /status interactions answered per second end to end.

    python bench/bot_bench.py [--guilds 1 100 1000] [--interactions 300] [--concurrency 10]

The bot runs as its own process (``python -m bot run``) so its RSS is its own; the fake Discord and
fake hub run in this process. Target (issue "The bot on Discord"): idle RSS under 120 MB at 1,000
guilds. Copy the output into bench/RESULTS.md with the machine it ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fakes.discord_server import FakeDiscord  # noqa: E402
from tests.fakes.hub_server import FakeHub  # noqa: E402
from tests.support import TOKEN  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def one_run(n_guilds: int, interactions: int, concurrency: int, tmp: Path) -> None:
    async with FakeHub(samples=False) as hub, FakeDiscord(token=TOKEN) as fake:
        guild = fake.add_default_guild()
        if n_guilds > 1:
            fake.add_guilds(n_guilds - 1)
        config = tmp / f"config-{n_guilds}.toml"
        config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                          '[logging]\nlevel = "WARNING"\n')
        env = dict(os.environ, DISCORD_TOKEN=TOKEN, DISCORD_API_BASE=fake.api_base,
                   DISCORD_GATEWAY_URL=fake.gateway_url, HUB_BASE_URL=hub.base_url,
                   BOT_DATABASE=str(tmp / f"bot-{n_guilds}.sqlite3"))
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", "--config", str(config),
                                                    cwd=REPO, env=env)
        try:
            await fake.wait_for_ready(timeout=60)
            await fake.wait_until(lambda: fake.find_command("status", guild.id) is not None, timeout=30)
            ready_s = time.monotonic() - started
            await asyncio.sleep(5)  # idle: guild_ready_timeout passes, on_ready fires, things settle
            idle = rss_mb(proc.pid)

            channel, user = guild.channel("general").id, guild.member("member").id
            latencies: list[float] = []
            semaphore = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with semaphore:
                    t0 = time.perf_counter()
                    rec = await fake.slash("status", guild_id=guild.id, channel_id=channel, user_id=user)
                    await rec.wait_response(timeout=30)
                    latencies.append((time.perf_counter() - t0) * 1000)

            t0 = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(interactions)))
            elapsed = time.perf_counter() - t0
            after = rss_mb(proc.pid)
            print(f"{n_guilds:>5} guilds: connected in {ready_s:.1f} s; idle RSS {idle:.1f} MB; "
                  f"/status x{interactions} (concurrency {concurrency}): {interactions / elapsed:.0f} interactions/s, "
                  f"latency p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                  f"mean {statistics.fmean(latencies):.1f} ms; RSS after {after:.1f} MB", flush=True)
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), timeout=20)


async def main_async(guild_counts: list[int], interactions: int, concurrency: int) -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in guild_counts:
            await one_run(n, interactions, concurrency, Path(tmp))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guilds", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--interactions", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main_async(args.guilds, args.interactions, args.concurrency))


if __name__ == "__main__":
    main()
