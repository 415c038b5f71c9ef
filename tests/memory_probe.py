"""Measure how much memory one piece of preview work needs, in a fresh process.

``ru_maxrss`` is a process's lifetime peak: inside the test process, any earlier test that used
more memory hides what the code under test allocates. This script runs in its own interpreter,
warms up (imports, Pillow plugins), takes its own peak as the baseline, does the work once and
prints JSON: ``peak_mb`` (how far the peak rose above the baseline) and the outcome.

    python -m tests.memory_probe '{"kind": "decode", "file": "...", "max_pixels": 40000000}'
    python -m tests.memory_probe '{"kind": "collage", "files": ["...", ...]}'

``png_bomb`` builds a real, fully decodable PNG of any size in a few hundred KB without ever
holding its pixels (rows of zeros are streamed through zlib).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import resource
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]


def png_bomb(width: int, height: int) -> bytes:
    """A valid 8-bit RGB PNG of ``width`` x ``height`` black pixels (``width * height * 3`` bytes once
    decoded), compressed to a tiny file."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    z = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte "None" + the row's pixels
    idat = b"".join(z.compress(row) for _ in range(height)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def measure(spec: dict[str, Any], *, timeout: float = 120) -> dict[str, Any]:
    """Run the probe in a fresh interpreter and return what it reported."""
    done = subprocess.run([sys.executable, "-m", "tests.memory_probe", json.dumps(spec)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"memory probe failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class _Body(httpx.AsyncByteStream):
    """An async response body (what a network transport gives: read once, in chunks)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.data), 65536):
            yield self.data[start:start + 65536]

    async def aclose(self) -> None:
        pass


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _small_jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _decode(spec: dict[str, Any]) -> dict[str, Any]:
    from bot.media.previews import ImageRefused, decode_image

    data = Path(spec["file"]).read_bytes()
    decode_image(_small_jpeg((10, 200, 30)), max_pixels=spec["max_pixels"])  # warm-up
    decode_image(png_bomb(64, 64), max_pixels=spec["max_pixels"])
    before = _peak_mb()
    try:
        picture = decode_image(data, max_pixels=spec["max_pixels"])
        outcome: dict[str, Any] = {"refused": None, "size": list(picture.size)}
    except ImageRefused as exc:
        outcome = {"refused": str(exc)}
    return {"peak_mb": _peak_mb() - before, **outcome}


async def _collage(files: list[bytes]) -> dict[str, Any]:
    from bot.media.previews import PreviewImage, PreviewService, PreviewStore
    from bot.store.db import Database

    bodies = {f"{i:08d}-0000-4000-8000-000000000000": data for i, data in enumerate(files)}
    bodies.update({f"{100 + i:08d}-0000-4000-8000-000000000000": _small_jpeg((200, 40 * i, 30)) for i in range(4)})

    def handler(request: httpx.Request) -> httpx.Response:
        uuid = next((u for u in bodies if f"/{u}/" in request.url.path), None)
        if uuid is None:
            return httpx.Response(404)
        body = bodies[uuid]
        kind = "image/png" if body.startswith(b"\x89PNG") else "image/jpeg"
        return httpx.Response(200, headers={"Content-Type": kind}, stream=_Body(body))

    def images(prefix: int, count: int) -> list[PreviewImage]:
        return [PreviewImage(f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/{prefix + i:08d}-0000-4000-8000-"
                             f"000000000000/width=450/{i}.jpeg", 450, 300, None) for i in range(count)]

    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "probe.sqlite3")
        service = PreviewService(PreviewStore(db), image_hosts=["image.civitai.com"],
                                 transport=httpx.MockTransport(handler))
        try:
            await service.collage(images(100, 4))  # warm-up: fetch, decode, compose, encode, store
            before = _peak_mb()
            preview = await service.collage(images(0, len(files)))
            peak = _peak_mb() - before
        finally:
            await service.aclose()
            await db.close()
    return {"peak_mb": peak, "tiles": preview.tiles if preview is not None else None}


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)  # skipped images say why
    spec = json.loads(sys.argv[1])
    if spec["kind"] == "decode":
        result = _decode(spec)
    else:
        result = asyncio.run(_collage([Path(f).read_bytes() for f in spec["files"]]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
