"""Peak memory of the whole bot during a link intake (issue 12): ``python -m bot run`` as its own
process, against the loopback Discord, hub and file server, takes a 2 GB safetensors file by link
(header by Range, one download, six hashes, the moderators' card); its peak RSS (``VmHWM``) is read
from ``/proc`` when the card has arrived. Target: under 150 MB.

    python -m bench.intake_rss [--size BYTES]

``bench/intake_bench.py`` runs this too, so one run gives all of issue 12's numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.discord_server import FakeDiscord  # noqa: E402
from tests.fakes.file_server import FileServer  # noqa: E402
from tests.fakes.hub_server import FakeHub  # noqa: E402
from tests.fakes.model_files import kohya_metadata, lora_sdxl  # noqa: E402
from tests.support import TOKEN, process_env  # noqa: E402

TARGET_MB = 150


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


async def measure(size: int = 2 * 10**9) -> dict[str, Any]:
    """Run one intake of a ``size``-byte file through the bot process; its peak RSS and timings."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = lora_sdxl(root / "big_lora.safetensors", pad_to=size, metadata=kohya_metadata("sdxl_base_v1-0"))
        async with FakeHub(samples=False, generated=5) as hub, FakeDiscord(token=TOKEN) as fake, \
                FileServer() as files:
            guild = fake.add_default_guild()
            files.add_file("/m/big_lora.safetensors", model, filename="big_lora.safetensors")
            config = root / "config.toml"
            config.write_text(f"[discord]\ndev_guild_ids = [{guild.id}]\nsync_on_start = true\n"
                              f"[intake]\nallowed_hosts = [\"127.0.0.1\"]\nallow_private_networks = true\n"
                              f"work_dir = \"{root / 'work'}\"\nmax_file_bytes = {size * 2}\n")
            log = (root / "bot.log").open("wb")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", "run", "--config", str(config), cwd=REPO,
                env=process_env(fake, hub, root / "bot.sqlite3"), stdout=log, stderr=log)
            try:
                await fake.wait_for_ready(timeout=60)
                await fake.wait_until(lambda: fake.find_command("intake", guild.id) is not None, timeout=20)
                idle_kb = _status_kb(proc.pid, "VmRSS")
                channel = guild.channel("feeds").id
                rec = await fake.slash("settings set", guild_id=guild.id, channel_id=channel,
                                       user_id=guild.member("manager").id,
                                       options={"key": "intake_channel", "value": str(channel)})
                await rec.wait_response()
                started = time.perf_counter()
                rec = await fake.slash("intake url", guild_id=guild.id, channel_id=channel,
                                       user_id=guild.member("member").id,
                                       options={"url": files.url("/m/big_lora.safetensors")})
                await rec.wait_response()
                try:
                    await fake.wait_until(lambda: any(m.get("components") for m in fake.messages.get(channel, [])),
                                          timeout=float(os.environ.get("INTAKE_BENCH_WAIT", "600")))
                except TimeoutError:
                    shown = (rec.original or {}).get("content") or rec.data.get("content")
                    raise RuntimeError(f"no card; the job says: {shown}") from None
                took = time.perf_counter() - started
                peak_kb = _status_kb(proc.pid, "VmHWM")
            finally:
                proc.terminate()
                await proc.wait()
                log.close()
            header_reads = sum(r.sent for r in files.ranged_gets())
    return {"size": size, "seconds": took, "mb_per_s": size / took / 1e6, "idle_rss_mb": idle_kb / 1024,
            "peak_rss_mb": peak_kb / 1024, "header_bytes_read": header_reads}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2 * 10**9)
    args = parser.parse_args(argv)
    r = asyncio.run(measure(args.size))
    verdict = "OK" if r["peak_rss_mb"] < TARGET_MB else "OVER"
    print(f"intake of a {r['size'] / 1e9:.1f} GB file through the bot process: {r['seconds']:.1f} s "
          f"({r['mb_per_s']:.0f} MB/s), header read by Range: {r['header_bytes_read']:,} bytes")
    print(f"bot RSS idle {r['idle_rss_mb']:.0f} MB, peak {r['peak_rss_mb']:.0f} MB "
          f"(target < {TARGET_MB} MB): {verdict}")


if __name__ == "__main__":
    main()
