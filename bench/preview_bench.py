"""Preview benchmark: how long a 4-image collage takes (bot/previews.py).

    python bench/preview_bench.py [--runs 50]

Measures, each over ``--runs`` runs (p50 / p99 / max):

* compose + encode only, from 4 already-decoded images: the images the fake hub's CDN serves
  (smooth BlurHash-like pictures, which compress very well), and 4 photo-like noisy tiles of the
  same sizes (closer to the worst case of real photos for the JPEG encoder);
* end to end from the loopback fake hub with a cold cache (fetch 4 thumbnails over HTTP, decode in
  worker threads, compose, encode, write to SQLite): ``PreviewService.collage``;
* the same call served from the SQLite cache;
* a BlurHash placeholder (cold cache).

Target (issue "preview pictures"): a collage under 150 ms. Results go to stdout; copy them into
bench/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import PIL

from bot.media.previews import (
    PreviewImage,
    PreviewService,
    PreviewStore,
    compose_collage,
    decode_image,
    encode_preview,
    thumbnail_url,
)
from bot.store.db import Database
from tests.fakes.hub_server import FakeHub

TARGET_MS = 150.0
T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, times_ms: list[float], extra: str = "", *, target: bool = False) -> None:
    p50, p99 = percentile(times_ms, 50), percentile(times_ms, 99)
    verdict = f" [p99 target {TARGET_MS:.0f} ms: {'ok' if p99 < TARGET_MS else 'OVER'}]" if target else ""
    print(
        f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(times_ms):.1f} ms over {len(times_ms)} runs"
        f"{extra}{verdict}",
        flush=True,
    )


def timed_sync(fn: Callable[[], T], runs: int) -> tuple[list[float], T]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


async def timed_async(
    fn: Callable[[], Awaitable[object]], runs: int, before: Callable[[], Awaitable[None]]
) -> list[float]:
    await before()
    await fn()  # warm-up (connections, thread pool)
    times = []
    for _ in range(runs):
        await before()
        t0 = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def noisy_like(im: Image.Image) -> Image.Image:
    """A photo-like tile (fine noise over a gradient) of the same size: hard for the JPEG encoder."""
    w, h = im.size
    noise = Image.effect_noise((w, h), 48)
    gradient = Image.linear_gradient("L").resize((w, h))
    mandel = Image.effect_mandelbrot((w, h), (-2.0, -1.5, 1.0, 1.5), 60)
    return Image.merge("RGB", (noise, gradient, mandel))


async def run(runs: int, tmp: Path) -> None:
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, Pillow {PIL.__version__}, SQLite {sqlite3.sqlite_version}",
        flush=True,
    )
    async with FakeHub(samples=False, generated=60, seed=11) as hub:
        images = [
            img
            for model in hub.models.values()
            for version in model["modelVersions"]
            for img in version["images"]
            if img["url"].startswith(hub.base_url)
        ]
        chosen = images[:4]
        preview_images = [PreviewImage(i["url"], i["width"], i["height"], i["hash"]) for i in chosen]

        # -- compose + encode only, from decoded images
        async with httpx.AsyncClient() as client:
            bodies = [(await client.get(thumbnail_url(i["url"], 512))).content for i in chosen]
        decoded = [decode_image(b, max_pixels=40_000_000) for b in bodies]
        times, encoded = timed_sync(lambda: encode_preview(compose_collage(decoded), 1_000_000), runs)
        assert encoded is not None
        report(
            "compose+encode, 4 fake-hub tiles (decoded)",
            times,
            f"; {encoded.width}x{encoded.height} {encoded.content_type}, {len(encoded.data) / 1000:.0f} kB",
            target=True,
        )
        noisy = [noisy_like(im) for im in decoded]
        times, encoded = timed_sync(lambda: encode_preview(compose_collage(noisy), 1_000_000), runs)
        assert encoded is not None
        report(
            "compose+encode, 4 photo-like noisy tiles (decoded)",
            times,
            f"; {encoded.content_type}, {len(encoded.data) / 1000:.0f} kB",
            target=True,
        )
        times, _ = timed_sync(lambda: [decode_image(b, max_pixels=40_000_000) for b in bodies], runs)
        report("decode 4 fake-hub JPEGs (one thread)", times)

        # -- end to end through the service
        db = await Database.open(tmp / "bench.sqlite3")
        service = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"])
        try:

            async def cold() -> None:
                await db.execute("DELETE FROM previews")

            async def nothing() -> None:
                return None

            before = len(hub.requests)
            times = await timed_async(lambda: service.collage(preview_images), runs, cold)
            fetched = len(hub.requests) - before
            report(
                "collage end to end, cold cache (fetch 4 + decode + compose + encode + store)",
                times,
                f"; {fetched / (runs + 1):.0f} CDN requests a run",
                target=True,
            )
            before = len(hub.requests)
            times = await timed_async(lambda: service.collage(preview_images), runs, nothing)
            report("collage from the SQLite cache", times, f"; {len(hub.requests) - before} CDN requests in all")
            bh, w, h = chosen[0]["hash"], chosen[0]["width"], chosen[0]["height"]
            times = await timed_async(lambda: service.placeholder(bh, w, h), runs, cold)
            report("BlurHash placeholder, cold cache", times)
        finally:
            await service.aclose()
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.runs, Path(tmp)))


if __name__ == "__main__":
    main()
