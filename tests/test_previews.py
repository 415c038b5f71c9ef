"""The preview picture service (bot/previews.py) against the loopback fake hub's image CDN.

Collages are decoded and inspected pixel by pixel; the fake's request log shows what was (and was not)
fetched; the cache is a real SQLite database in ``tmp_path``. Nothing reaches the internet: the few
cases the fake cannot produce (a lying Content-Length, an endless body) use an ``httpx.MockTransport``
for a host name that is never resolved.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import re
import time
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from PIL import Image, ImageChops

from bot.media import blurhash
from bot.media.previews import (
    BACKGROUND,
    LAYOUT_VERSION,
    ImageRefused,
    Preview,
    PreviewImage,
    PreviewService,
    PreviewStore,
    cdn_image_url,
    collage_layout,
    decode_image,
    host_allowed,
    thumbnail_url,
)
from bot.store.db import Database
from bot.store.previews import StoredPicture
from tests.conftest import samples_path
from tests.fakes import hub_data
from tests.fakes.hub_server import FakeHub
from tests.memory_probe import measure, png_bomb

CDN = hub_data.CDN_PREFIX
CIVITAI_CDN = f"https://image.civitai.com/{CDN}"


# ------------------------------------------------------------------------------------------------
# fixtures and helpers
# ------------------------------------------------------------------------------------------------


@pytest.fixture
async def hub() -> AsyncIterator[FakeHub]:
    async with FakeHub(samples=False, generated=40, seed=3) as h:
        yield h


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await Database.open(tmp_path / "x.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def service(db: Database) -> AsyncIterator[PreviewService]:
    svc = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"], timeout=5.0)
    try:
        yield svc
    finally:
        await svc.aclose()


def hub_images(hub: FakeHub) -> list[dict[str, Any]]:
    return [
        img
        for model in hub.models.values()
        for version in model["modelVersions"]
        for img in version["images"]
        if img["url"].startswith(hub.base_url)
    ]


def bright(img: dict[str, Any]) -> bool:
    """Images whose colours are far from the letterbox background (so bands are easy to tell apart)."""
    avg = blurhash.average_color(img["hash"])
    return sum(abs(a - b) for a, b in zip(avg, BACKGROUND, strict=True)) > 240


def pick(
    hub: FakeHub, n: int, *, aspect: str = "any", exclude: tuple[dict[str, Any], ...] = ()
) -> list[dict[str, Any]]:
    tests = {
        "tall": lambda i: i["height"] >= 1.45 * i["width"],
        "wide": lambda i: i["width"] >= 1.4 * i["height"],
        "any": lambda i: True,
    }
    chosen = [i for i in hub_images(hub) if tests[aspect](i) and bright(i) and i not in exclude][:n]
    assert len(chosen) == n, f"not enough {aspect} images in the fake catalogue"
    return chosen


def as_preview(img: dict[str, Any]) -> PreviewImage:
    return PreviewImage(url=img["url"], width=img["width"], height=img["height"], blurhash=img["hash"])


def uuid_of(url: str) -> str:
    return url.split("/")[4]


def cdn_requests(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests_to(f"/{CDN}/")]


def served_size(img: dict[str, Any]) -> tuple[int, int]:
    """What the fake CDN sends for ``width=450`` and more (it never serves wider than 450 px)."""
    w = min(img["width"], 450)
    return w, max(1, round(w * img["height"] / img["width"]))


def open_picture(preview: Preview) -> Image.Image:
    im = Image.open(io.BytesIO(preview.data))
    im.load()
    assert {"JPEG": "image/jpeg", "WEBP": "image/webp"}[im.format or ""] == preview.content_type
    assert preview.filename == {"image/jpeg": "preview.jpg", "image/webp": "preview.webp"}[preview.content_type]
    assert im.size == (preview.width, preview.height)
    return im.convert("RGB")


def near(pixel: tuple[int, ...], colour: tuple[int, ...], tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def content_box(picture: Image.Image, cell: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Bounding box (x, y, w, h, relative to the cell) of what is not letterbox background in a cell."""
    x, y, w, h = cell
    crop = picture.crop((x, y, x + w, y + h))
    diff = ImageChops.difference(crop, Image.new("RGB", crop.size, BACKGROUND)).convert("L")
    box = diff.point(lambda v: 255 if v > 24 else 0).getbbox()
    assert box is not None, "the cell is empty"
    return box[0], box[1], box[2] - box[0], box[3] - box[1]


def jpeg_declaring(width: int, height: int) -> bytes:
    """A tiny valid JPEG whose frame header declares ``width`` x ``height`` (a decompression bomb)."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buf, "JPEG", quality=50)
    data = bytearray(buf.getvalue())
    i = 2
    while i < len(data) - 9:
        marker, length = data[i + 1], (data[i + 2] << 8) | data[i + 3]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5 : i + 7] = height.to_bytes(2, "big")
            data[i + 7 : i + 9] = width.to_bytes(2, "big")
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def decoded_mb(width: int, height: int) -> float:
    """What ``width`` x ``height`` RGB pixels take once decoded."""
    return width * height * 3 / 2**20


def jpeg(size: tuple[int, int] = (300, 200)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 90, 40)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


# Memory is measured by tests/memory_probe.py in a fresh interpreter: the peak RSS of this test
# process (ru_maxrss) only ever grows, so an earlier test could hide any allocation made here.
# The bound is a quarter of the smallest bomb below once decoded (8000 x 8000 RGB = 183 MB).
MEMORY_BOUND_MB = decoded_mb(8000, 8000) / 4


# ------------------------------------------------------------------------------------------------
# collages from the fake hub
# ------------------------------------------------------------------------------------------------


async def test_four_images_make_one_small_picture_whose_tiles_keep_their_aspect(
    hub: FakeHub, service: PreviewService
) -> None:
    tall = pick(hub, 1, aspect="tall")
    wide = pick(hub, 3, aspect="wide")
    chosen = tall + wide
    preview = await service.collage([as_preview(i) for i in chosen])

    assert preview is not None
    assert (preview.tiles, preview.placeholder) == (4, False)
    assert len(preview.data) <= 1_000_000
    picture = open_picture(preview)
    assert max(picture.size) == 1024
    assert sorted(cdn_requests(hub)) == sorted(
        f"/{CDN}/{uuid_of(i['url'])}/width=512/{i['url'].rsplit('/', 1)[1]}" for i in chosen
    )  # each image fetched once, as a thumbnail sized for a 2x2 cell

    layout = collage_layout([served_size(i) for i in chosen])
    assert picture.size == (layout.width, layout.height)
    for img, cell in zip(chosen, layout.cells, strict=True):
        bx, by, bw, bh = content_box(picture, cell)
        # the visible picture in each cell has the image's own aspect ratio: not cropped, not stretched
        assert bw / bh == pytest.approx(img["width"] / img["height"], rel=0.04), img
        assert bw == pytest.approx(cell[2], abs=3) or bh == pytest.approx(cell[3], abs=3)  # fills one side

    # the tall image (top-left cell) is pillarboxed: background bands left and right, picture between
    x, y, w, h = layout.cells[0]
    bx, _, bw, _ = content_box(picture, layout.cells[0])
    assert bx > 20 and w - (bx + bw) > 20
    assert near(picture.getpixel((x + bx // 2, y + h // 2)), BACKGROUND)
    assert near(picture.getpixel((x + w - bx // 2 - 1, y + h // 2)), BACKGROUND)
    assert not near(picture.getpixel((x + w // 2, y + h // 2)), BACKGROUND, 20)
    # a wide image in a less wide cell is letterboxed above and below instead
    _, by, _, bh = content_box(picture, layout.cells[1])
    assert by > 10 and layout.cells[1][3] - (by + bh) > 10


@pytest.mark.parametrize("n", [1, 2, 3])
async def test_layouts_for_one_two_and_three_images(hub: FakeHub, service: PreviewService, n: int) -> None:
    chosen = pick(hub, n, aspect="tall")
    preview = await service.collage([as_preview(i) for i in chosen])
    assert preview is not None and preview.tiles == n
    picture = open_picture(preview)
    if n == 1:
        # one image: the image itself (never scaled up past what the CDN sent, never letterboxed)
        assert picture.size == served_size(chosen[0])
        assert content_box(picture, (0, 0, *picture.size)) == (0, 0, *picture.size)
        return
    # side by side / one row of three: the width is the long side, one row of equal cells
    assert picture.width == 1024 and picture.height < 1024
    cell_w = (1024 - (n - 1) * 4) // n
    for k in range(n):
        cell = (k * (cell_w + 4), 0, cell_w, picture.height)
        _, _, bw, bh = content_box(picture, cell)
        assert bw / bh == pytest.approx(chosen[k]["width"] / chosen[k]["height"], rel=0.04)
        assert bw == pytest.approx(cell_w, abs=3) or bh == pytest.approx(picture.height, abs=3)
    # the gap between cells is background
    assert near(picture.getpixel((cell_w + 1, picture.height // 2)), BACKGROUND)


async def test_extra_and_duplicate_images_are_ignored(hub: FakeHub, service: PreviewService) -> None:
    chosen = pick(hub, 6)
    images = [as_preview(chosen[0]), as_preview(chosen[0])] + [as_preview(i) for i in chosen[1:]]
    preview = await service.collage(images)
    assert preview is not None and preview.tiles == 4
    assert sorted(path.split("/")[2] for path in cdn_requests(hub)) == sorted(uuid_of(i["url"]) for i in chosen[:4])
    assert await service.collage([]) is None


async def test_second_call_is_served_from_the_cache_without_any_request(
    hub: FakeHub, db: Database, service: PreviewService
) -> None:
    images = [as_preview(i) for i in pick(hub, 4)]
    first = await service.collage(images)
    fetched = len(hub.requests)
    assert first is not None and fetched == 4

    again = await service.collage(images)
    assert again == first
    assert len(hub.requests) == fetched

    # the row: keyed by sha256 of the layout version and the URLs in order
    key = hashlib.sha256("\n".join([LAYOUT_VERSION, *(i.url for i in images)]).encode()).hexdigest()
    row = await db.fetchone("SELECT width, height, placeholder, length(data) AS n FROM previews WHERE key = ?", (key,))
    assert row is not None and (row["width"], row["height"], row["placeholder"], row["n"]) == (
        first.width,
        first.height,
        0,
        len(first.data),
    )

    # a restarted bot (new service, same database) does not fetch either
    other = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"])
    try:
        assert await other.collage(images) == first
    finally:
        await other.aclose()
    assert len(hub.requests) == fetched

    # another order is another picture
    reordered = await service.collage(images[::-1])
    assert reordered is not None and reordered.data != first.data
    assert len(hub.requests) == fetched + 4


async def test_concurrent_calls_for_one_collage_fetch_each_image_once(hub: FakeHub, service: PreviewService) -> None:
    images = [as_preview(i) for i in pick(hub, 4)]
    results = await asyncio.gather(*(service.collage(images) for _ in range(5)))
    assert all(r is not None and r == results[0] for r in results)
    assert len(cdn_requests(hub)) == 4


# ------------------------------------------------------------------------------------------------
# what is refused
# ------------------------------------------------------------------------------------------------


async def test_hosts_not_in_the_allow_list_are_never_requested(hub: FakeHub, db: Database) -> None:
    chosen = pick(hub, 4)
    svc = PreviewService(PreviewStore(db), image_hosts=["image.civitai.com"])
    try:
        assert await svc.collage([as_preview(i) for i in chosen]) is None
    finally:
        await svc.aclose()
    assert hub.requests == []
    assert await db.fetchval("SELECT count(*) FROM previews") == 0


async def test_userinfo_tricks_and_wrong_ports_are_refused(hub: FakeHub, db: Database) -> None:
    img = pick(hub, 1)[0]
    path = img["url"][len(hub.base_url) :]
    tricks = [
        f"http://image.civitai.com@127.0.0.1:{hub.port}{path}",  # the host is 127.0.0.1, not the CDN
        f"http://127.0.0.1:{hub.port}@127.0.0.1:{hub.port}{path}",
        f"http://user:secret@127.0.0.1:{hub.port}{path}",
    ]
    svc = PreviewService(PreviewStore(db), image_hosts=["image.civitai.com", f"127.0.0.1:{hub.port + 1}"])
    try:
        for url in tricks:
            assert await svc.collage([PreviewImage(url, None, None, None)]) is None, url
        assert await svc.collage([as_preview(img)]) is None  # allowed host, other port
    finally:
        await svc.aclose()
    assert hub.requests == []

    exact = PreviewService(PreviewStore(db), image_hosts=[f"127.0.0.1:{hub.port}"])
    try:
        preview = await exact.collage([as_preview(img)])
        assert preview is not None and preview.tiles == 1
        assert await exact.collage([PreviewImage(tricks[1], None, None, None)]) is None
    finally:
        await exact.aclose()
    assert len(hub.requests) == 1


async def test_decompression_bomb_is_refused(hub: FakeHub, service: PreviewService) -> None:
    chosen = pick(hub, 4)
    bomb = uuid_of(chosen[1]["url"])
    hub.huge_images.add(bomb)  # a JPEG header declaring 65000 x 65000 pixels (12.7 GB as RGB)
    preview = await service.collage([as_preview(i) for i in chosen])
    assert preview is not None and preview.tiles == 3
    assert len(hub.requests_to(f"/{CDN}/{bomb}/")) == 1  # fetched (it is small), refused when opened
    open_picture(preview)


@pytest.mark.parametrize(
    "bomb",
    [(8000, 8000, "png"), (65000, 65000, "jpeg")],
    ids=["decodable-png-over-our-cap-under-pillows", "jpeg-header-over-pillows-cap"],
)
def test_a_collage_with_a_bomb_never_allocates_it(tmp_path: Path, bomb: tuple[int, int, str]) -> None:
    width, height, kind = bomb
    files = []
    for i, data in enumerate([jpeg(), png_bomb(width, height) if kind == "png" else jpeg_declaring(width, height),
                              jpeg((200, 300)), jpeg((250, 250))]):
        files.append(tmp_path / f"{i}.img")
        files[-1].write_bytes(data)
    result = measure({"kind": "collage", "files": [str(f) for f in files]})
    assert result["peak_mb"] < MEMORY_BOUND_MB, result
    assert result["tiles"] == 3, result  # the three good images still make the picture


@pytest.mark.parametrize(
    ("size", "escalate"),
    [((8000, 8000), False), ((10000, 10000), True), ((10000, 10000), False), ((65000, 65000), False)],
    ids=["over-our-cap", "pillow-warning-as-error", "pillow-warning", "pillow-error"],
)
def test_decode_image_refuses_oversized_headers(size: tuple[int, int], escalate: bool) -> None:
    data = jpeg_declaring(*size)
    with warnings.catch_warnings():
        warnings.simplefilter("error" if escalate else "ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageRefused, match=r"too many pixels|decompression bomb"):  # from the header
            decode_image(data, max_pixels=40_000_000)
    # a genuine small JPEG passes
    small = jpeg_declaring(16, 16)
    assert decode_image(small, max_pixels=40_000_000).size == (16, 16)


@pytest.mark.parametrize(
    "bomb",
    [(8000, 8000, "png"), (8000, 8000, "jpeg"), (10000, 10000, "jpeg"), (65000, 65000, "jpeg")],
    ids=["decodable-png-64-mpx", "jpeg-header-64-mpx", "jpeg-header-100-mpx", "jpeg-header-4225-mpx"],
)
def test_decode_image_refuses_bombs_without_allocating_them(tmp_path: Path, bomb: tuple[int, int, str]) -> None:
    width, height, kind = bomb
    (tmp_path / "bomb").write_bytes(png_bomb(width, height) if kind == "png" else jpeg_declaring(width, height))
    result = measure({"kind": "decode", "file": str(tmp_path / "bomb"), "max_pixels": 40_000_000})
    assert result["peak_mb"] < MEMORY_BOUND_MB, result
    assert result["refused"] and re.search(r"too many pixels|decompression bomb", result["refused"]), result


def test_decode_image_normalises_modes_orientation_and_animation() -> None:
    # transparency is flattened onto the dark background
    rgba = Image.new("RGBA", (20, 10), (255, 0, 0, 0))
    rgba.paste((0, 255, 0, 255), (10, 0, 20, 10))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    flat = decode_image(buf.getvalue(), max_pixels=1000)
    assert flat.mode == "RGB" and flat.getpixel((2, 5)) == BACKGROUND and flat.getpixel((15, 5)) == (0, 255, 0)
    # EXIF orientation 6 (rotate 90° clockwise) is applied
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (40, 20), (250, 250, 250)).save(buf, "JPEG", exif=exif)
    assert decode_image(buf.getvalue(), max_pixels=10_000).size == (20, 40)
    # an animation gives its first frame
    frames = [Image.new("P", (8, 8), 1), Image.new("P", (8, 8), 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255] + [0] * 759)
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert decode_image(buf.getvalue(), max_pixels=1000).getpixel((4, 4)) == (255, 0, 0)
    # large pictures are reduced to the canvas size; garbage is refused
    buf = io.BytesIO()
    Image.new("RGB", (3000, 1500), (9, 9, 9)).save(buf, "JPEG")
    assert max(decode_image(buf.getvalue(), max_pixels=40_000_000).size) <= 1024
    for junk in (b"", b"<html>not an image</html>", buf.getvalue()[: len(buf.getvalue()) // 3]):
        with pytest.raises(ImageRefused):
            decode_image(junk, max_pixels=40_000_000)


@pytest.mark.parametrize("status", [404, 500])
async def test_http_errors_skip_the_image(hub: FakeHub, service: PreviewService, status: int) -> None:
    chosen = pick(hub, 4)
    images = [as_preview(i) for i in chosen]
    broken = uuid_of(chosen[2]["url"])
    hub.image_status[broken] = status
    preview = await service.collage(images)
    assert preview is not None and preview.tiles == 3
    fetched = len(hub.requests)

    hub.image_status.clear()
    again = await service.collage(images)
    assert again is not None
    if status == 404:  # permanent: the three-tile collage is cached
        assert again == preview and len(hub.requests) == fetched
    else:  # transient: nothing cached, the next call composes all four
        assert again.tiles == 4 and len(hub.requests) == fetched + 4


async def test_non_images_and_broken_images_are_skipped(hub: FakeHub, service: PreviewService) -> None:
    chosen = pick(hub, 4)
    hub.malformed(path=f"/{CDN}/{uuid_of(chosen[0]['url'])}/", kind="html")  # 200, application/json
    hub.malformed(path=f"/{CDN}/{uuid_of(chosen[3]['url'])}/", kind="truncated")  # 200, image/jpeg, cut off
    preview = await service.collage([as_preview(i) for i in chosen])
    assert preview is not None and preview.tiles == 2
    assert len(cdn_requests(hub)) == 4


async def test_all_failing_gives_none(hub: FakeHub, service: PreviewService) -> None:
    chosen = pick(hub, 2)
    for img in chosen:
        hub.image_status[uuid_of(img["url"])] = 404
    assert await service.collage([as_preview(i) for i in chosen]) is None


async def test_a_download_over_the_cap_is_refused(hub: FakeHub, db: Database) -> None:
    chosen = pick(hub, 2)
    svc = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"], max_download_bytes=1_000)
    try:
        assert await svc.collage([as_preview(i) for i in chosen]) is None
    finally:
        await svc.aclose()
    assert len(cdn_requests(hub)) == 2


class _Body(httpx.AsyncByteStream):
    """A response body that records how much of it was read; ``None`` = endless."""

    def __init__(self, total: int | None) -> None:
        self.total = total
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.total is None or self.sent < self.total:
            self.sent += 65536
            yield b"\xff" * 65536


async def test_content_length_too_large_is_refused_before_reading(db: Database) -> None:
    bodies: list[_Body] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = _Body(None)
        bodies.append(body)
        headers = {"Content-Type": "image/jpeg"}
        if request.url.path.endswith("/declared.jpeg"):
            headers["Content-Length"] = str(50 * 1024 * 1024)
        return httpx.Response(200, headers=headers, stream=body)

    svc = PreviewService(
        PreviewStore(db),
        image_hosts=["image.civitai.com"],
        max_download_bytes=1_000_000,
        transport=httpx.MockTransport(handler),
    )
    try:
        declared = PreviewImage(f"{CIVITAI_CDN}/a-b/width=450/declared.jpeg", 1, 1, None)
        assert await svc.collage([declared]) is None
        assert bodies[0].sent == 0  # refused from the header alone
        endless = PreviewImage(f"{CIVITAI_CDN}/c-d/width=450/endless.jpeg", 1, 1, None)
        assert await svc.collage([endless]) is None
        assert 1_000_000 < bodies[1].sent <= 1_000_000 + 2 * 65536  # stopped at the cap
    finally:
        await svc.aclose()


@pytest.fixture
async def redirector(hub: FakeHub) -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback server answering redirects: to the fake hub by IP (allowed), to the same fake hub
    by the name ``localhost`` (not allowed), relative, and in a loop."""
    seen: list[str] = []
    img = pick(hub, 1)[0]
    path = img["url"][len(hub.base_url) :]

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path)
        targets = {
            "/to-hub": f"{hub.base_url}{path}",
            "/to-localhost": f"http://localhost:{hub.port}{path}",
            "/relative": "/to-hub",
            "/loop": "/loop",
            "/no-location": "",
        }
        location = targets.get(request.path)
        if location is None:
            return web.Response(status=404)
        return web.Response(status=302, headers={"Location": location} if location else {})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_redirects_are_followed_only_to_allowed_hosts(
    hub: FakeHub, service: PreviewService, redirector: tuple[str, list[str]]
) -> None:
    base, seen = redirector
    refused = await service.collage([PreviewImage(f"{base}/to-localhost", None, None, None)])
    assert refused is None
    assert hub.requests == []  # the redirect target was never contacted

    for name in ("/loop", "/no-location"):
        seen.clear()
        assert await service.collage([PreviewImage(f"{base}{name}", None, None, None)]) is None
        assert len(seen) == (4 if name == "/loop" else 1)  # the first request and at most 3 redirects

    for name in ("/to-hub", "/relative"):
        preview = await service.collage([PreviewImage(f"{base}{name}", None, None, None)])
        assert preview is not None and preview.tiles == 1
    assert len(cdn_requests(hub)) == 2


async def test_a_slow_image_times_out_and_is_not_cached(hub: FakeHub, db: Database) -> None:
    images = [as_preview(i) for i in pick(hub, 2)]
    svc = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"], timeout=0.2)
    try:
        hub.delay = 1.0
        started = time.monotonic()
        assert await svc.collage(images) is None
        assert time.monotonic() - started < 0.9
        hub.delay = 0.0
    finally:
        await svc.aclose()
    # the failure was not cached: the same collage builds once the hub answers (a roomier deadline,
    # so a loaded machine does not turn this half into another timeout)
    patient = PreviewService(PreviewStore(db), image_hosts=["127.0.0.1"], timeout=5.0)
    try:
        preview = await patient.collage(images)
        assert preview is not None and preview.tiles == 2
    finally:
        await patient.aclose()


# ------------------------------------------------------------------------------------------------
# placeholders
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_image() -> dict[str, Any]:
    doc = json.loads((samples_path() / "models_list_limit10_2025-08.json").read_text(encoding="utf-8"))
    return doc["items"][0]["modelVersions"][0]["images"][0]


async def test_placeholder_from_a_real_blurhash(
    db: Database, service: PreviewService, sample_image: dict[str, Any]
) -> None:
    bh, w, h = sample_image["hash"], sample_image["width"], sample_image["height"]
    preview = await service.placeholder(bh, w, h)
    assert preview is not None
    assert (preview.placeholder, preview.tiles, preview.content_type) == (True, 1, "image/jpeg")
    picture = open_picture(preview)
    assert max(picture.size) == 512
    assert picture.width / picture.height == pytest.approx(w / h, rel=0.01)
    # it looks like the hash: the mean colour is close to the hash's average colour
    mean = picture.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert near(mean, blurhash.average_color(bh), 40)

    assert await service.placeholder(bh, w, h) == preview  # cached
    assert await db.fetchval("SELECT count(*) FROM previews WHERE placeholder = 1") == 1

    square = await service.placeholder(bh, None, None)
    assert square is not None and (square.width, square.height) == (512, 512)
    strip = await service.placeholder(bh, 100, 10_000)  # extreme ratios are clamped to 1:4
    assert strip is not None and (strip.width, strip.height) == (128, 512)


@pytest.mark.parametrize("bad", [None, "", "not a blurhash", "UAGtHoRs0dxUKH;^J8OG0z%N{goN0MwM$%V", "Ü" * 36])
async def test_malformed_blurhash_gives_none(service: PreviewService, bad: str | None) -> None:
    assert await service.placeholder(bad, 100, 100) is None


# ------------------------------------------------------------------------------------------------
# the cache
# ------------------------------------------------------------------------------------------------


def _picture(tag: int, size: int = 1000) -> StoredPicture:
    return StoredPicture(bytes([tag]) * size, "image/webp", 10, 20, tiles=3, placeholder=False)


async def test_store_round_trip_and_least_recently_used_pruning(db: Database) -> None:
    store = PreviewStore(db, max_bytes=2500)
    assert await store.get("a") is None
    await store.put("a", _picture(1))
    await store.put("b", _picture(2))
    assert await store.get("a") == _picture(1)  # round trip (tiles included); touches "a"
    await store.put("c", _picture(3))  # 3000 bytes > 2500: the least recently used ("b") goes
    assert await store.get("b") is None
    assert await store.get("a") == _picture(1) and await store.get("c") == _picture(3)
    assert await db.fetchval("SELECT SUM(length(data)) FROM previews") == 2000
    await store.put("c", _picture(4))  # replacing keeps one row
    assert await db.fetchval("SELECT count(*) FROM previews") == 2
    huge = PreviewStore(db, max_bytes=10)
    await huge.put("d", _picture(5))  # larger than the budget on its own: kept, everything else pruned
    assert [r["key"] for r in await db.fetchall("SELECT key FROM previews")] == ["d"]


# ------------------------------------------------------------------------------------------------
# URLs
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "width", "expected"),
    [
        (
            f"{CIVITAI_CDN}/4790674c-e16d/original=true/5706937.jpeg",
            450,
            f"{CIVITAI_CDN}/4790674c-e16d/width=450/5706937.jpeg",
        ),
        (
            f"{CIVITAI_CDN}/4790674c-e16d/width=1200/5706937.jpeg",
            450,
            f"{CIVITAI_CDN}/4790674c-e16d/width=450/5706937.jpeg",
        ),
        (
            f"{CIVITAI_CDN}/4790674c-e16d/width=450,optimized=true/1.jpeg",
            512,
            f"{CIVITAI_CDN}/4790674c-e16d/width=512/1.jpeg",
        ),
        (
            f"{CIVITAI_CDN}/4790674c-e16d/anim=false,width=96/1.jpeg?t=1",
            450,
            f"{CIVITAI_CDN}/4790674c-e16d/width=450/1.jpeg?t=1",
        ),
        (f"{CIVITAI_CDN}/4790674c-e16d/1.jpeg", 450, f"{CIVITAI_CDN}/4790674c-e16d/width=450/1.jpeg"),
        (
            "http://127.0.0.1:8081/xG1nkqKTMzGDvpLrqFT7WA/u-u/width=450/7.jpeg",
            300,
            "http://127.0.0.1:8081/xG1nkqKTMzGDvpLrqFT7WA/u-u/width=300/7.jpeg",
        ),
        ("https://example.com/a/width=1200/b.jpeg", 450, "https://example.com/a/width=1200/b.jpeg"),
        (
            "https://image.civitai.com/other/u/width=1200/b.jpeg",
            450,
            "https://image.civitai.com/other/u/width=1200/b.jpeg",
        ),
        (f"{CIVITAI_CDN}/u/not-params/x/b.jpeg", 450, f"{CIVITAI_CDN}/u/not-params/x/b.jpeg"),
        ("not a url", 450, "not a url"),
    ],
)
def test_thumbnail_url(url: str, width: int, expected: str) -> None:
    assert thumbnail_url(url, width) == expected


def test_thumbnail_url_default_width() -> None:
    assert thumbnail_url(f"{CIVITAI_CDN}/u/original=true/n.png") == f"{CIVITAI_CDN}/u/width=450/n.png"


HOSTS = ["image.civitai.com", "127.0.0.1:8081", "[::1]"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://image.civitai.com/x.jpeg", True),
        ("http://image.civitai.com/x.jpeg", True),
        ("https://IMAGE.Civitai.COM/x.jpeg", True),
        ("https://image.civitai.com:8443/x.jpeg", True),  # no port in the entry: any port
        ("http://127.0.0.1:8081/x.jpeg", True),
        ("http://127.0.0.1:8082/x.jpeg", False),  # the entry's port must match
        ("http://127.0.0.1/x.jpeg", False),
        ("http://[::1]:9000/x.jpeg", True),
        ("http://[0:0::1]/x.jpeg", True),  # the same address spelled differently
        ("https://image.civitai.com@evil.com/", False),
        ("https://user:pw@image.civitai.com/", False),
        ("https://evil.com\\@image.civitai.com/", False),
        ("https://evil.com#@image.civitai.com/", False),
        ("http://image.civitai.com.evil.com/x", False),
        ("http://evil.com/image.civitai.com", False),
        ("https://cdn.image.civitai.com/x", False),  # no implied subdomains
        ("ftp://image.civitai.com/x", False),
        ("file:///etc/passwd", False),
        ("//image.civitai.com/x", False),
        ("https://127.1:8081/x", False),  # IP literals only as listed
        ("https://2130706433:8081/x", False),
        ("https://image%2Ecivitai.com/x", False),
        ("https://image.civitai.com:99999/x", False),
        ("https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/u/width=450/ünïcode.jpeg", True),
        ("https://imagé.civitai.com/x", False),
        ("https://image.civitai.com\t.evil.com/x", False),
        ("", False),
    ],
)
def test_host_allowed(url: str, allowed: bool) -> None:
    assert host_allowed(url, HOSTS) is allowed


def test_host_allowed_with_an_exact_port_entry() -> None:
    assert host_allowed("https://image.civitai.com/x", ["Image.Civitai.com:443"])  # the scheme's default port
    assert not host_allowed("http://image.civitai.com/x", ["image.civitai.com:443"])
    assert not host_allowed("https://image.civitai.com/x", [])


def test_cdn_image_url_gives_bare_image_keys_the_cdn_prefix() -> None:
    # hub-api.md §7-§8: article covers may name their image by its key only; the CDN's form is
    # https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/<uuid>/<params>/<name>.jpeg
    key = "c2d06d11-1ddd-7457-1bff-542a728e7bfe"
    assert cdn_image_url(key, "https://image.civitai.com/", name=123) == \
        f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/{key}/width=450/123.jpeg"
    assert cdn_image_url(key, "https://image.civitai.com") == \
        f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/{key}/width=450/{key}.jpeg"
    full = f"https://image.civitai.com/xG1nkqKTMzGDvpLrqFT7WA/{key}/width=1200/9.jpeg"
    assert cdn_image_url(full, "https://elsewhere.example") == full  # a full URL is kept
    for bad in (None, "", "../../etc/passwd", "a b", "javascript:alert(1)", "short"):
        assert cdn_image_url(bad, "https://image.civitai.com") is None
