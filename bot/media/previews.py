"""Preview pictures: up to four hub images composed into one attachment, or a BlurHash placeholder.

The caller decides which images may be shown in the target channel (content rating, see
``bot.core.rating``); this service only fetches, decodes, composes, encodes and caches them. It has no
Discord imports: a cog turns a :class:`Preview` into a ``discord.File``.

Fetching
    One shared ``httpx.AsyncClient`` (timeouts, connection limits, ``trust_env=False``,
    ``Accept-Encoding: identity``, no automatic redirects). Every URL, and every redirect hop (at most
    :data:`MAX_REDIRECTS`), must pass :func:`host_allowed` against the operator's ``image_hosts``.
    Bodies are streamed raw and capped (Content-Length is checked first); the ``Content-Type`` must
    be ``image/*``; a per-image deadline covers the whole exchange. Hub CDN URLs are rewritten with
    :func:`thumbnail_url` to a width that suits the layout, so originals of many MB are never pulled.

Decoding (:func:`decode_image`, in a worker thread)
    The pixel count from the header is checked against ``max_pixels`` (never above Pillow's own
    ``Image.MAX_IMAGE_PIXELS``) before anything is decoded; Pillow's ``DecompressionBombError`` and
    ``DecompressionBombWarning`` (when warnings are errors) are refusals too. JPEGs are decoded at a
    reduced DCT scale when they are much larger than needed; EXIF orientation is applied;
    transparency is flattened onto the dark background; animations give their first frame.

Composition (:func:`collage_layout`, :func:`compose_collage`, :func:`encode_preview`)
    * 1 image: the image itself, scaled down to fit 1024x1024 (never scaled up).
    * 2 images: side by side; 3 images: one row of three; 4 images: a 2x2 grid.
    For 2-4 images all cells share one aspect ratio (the geometric mean of the images' ratios,
    clamped to 1:2..2:1); the picture's long side is 1024 px; cells are separated by a
    :data:`GAP`-pixel gap. Each image is scaled to fit inside its cell and centred; what is left is
    the dark :data:`BACKGROUND` (letterbox): never cropped, never stretched.
    Encoding: JPEG at quality 85, 75, 65, 50; when the JPEG of a step is over ``max_output_bytes``
    (by at most a quarter) a WebP of the same step is tried and kept if it is smaller and fits; when
    no quality fits, the picture is scaled down by 3/4 and the steps repeat. (A 1024 px collage of
    pure noise is about 720 kB as a JPEG at quality 85, so with the default 1 MB budget the first
    step always fits and WebP is only a fallback for smaller budgets.)

Caching
    :class:`~bot.store.previews.PreviewStore` keeps encoded pictures in SQLite (table ``previews``), least recently used
    rows pruned beyond ``max_bytes``. A collage is keyed by sha256 of :data:`LAYOUT_VERSION` and the
    image URLs in order; it is stored only when no image failed for a transient reason (timeout,
    network error, HTTP 5xx/408/429), so a passing hub hiccup does not pin a partial collage.
    Concurrent requests for the same collage share one build.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import ipaddress
import logging
import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from PIL import Image, ImageOps

from bot.media import blurhash as blurhash_codec
from bot.store.previews import PreviewStore, StoredPicture

__all__ = [
    "BACKGROUND",
    "GAP",
    "LAYOUT_VERSION",
    "MAX_REDIRECTS",
    "MAX_TILES",
    "CollageLayout",
    "EncodedPicture",
    "ImageRefused",
    "Preview",
    "PreviewImage",
    "PreviewService",
    "PreviewStore",
    "cdn_image_url",
    "collage_layout",
    "compose_collage",
    "decode_image",
    "encode_preview",
    "host_allowed",
    "thumbnail_url",
]

log = logging.getLogger(__name__)

#: Part of every collage cache key: bump it when the layout, sizes or encoding change.
LAYOUT_VERSION = "collage-v1"
PLACEHOLDER_VERSION = "placeholder-v1"
MAX_TILES = 4
MAX_REDIRECTS = 3
#: Long side of a collage (and the box a single image is fitted into).
CANVAS_SIDE = 1024
#: Long side of a BlurHash placeholder.
PLACEHOLDER_SIDE = 512
#: Pixels between cells.
GAP = 4
#: Letterbox, gap and transparency background: close to Discord's dark theme.
BACKGROUND = (30, 31, 34)
#: Width asked of the hub CDN per number of tiles (about the widest cell of that layout).
FETCH_WIDTH = {1: 1024, 2: 512, 3: 384, 4: 512}
JPEG_QUALITIES = (85, 75, 65, 50)
MIN_ENCODE_SIDE = 32
_ASPECT_MIN, _ASPECT_MAX = 0.5, 2.0
_PLACEHOLDER_ASPECT = 4.0  # placeholders keep the aspect, clamped to 1:4..4:1
_ACCEPT = "image/webp,image/jpeg,image/png;q=0.9,image/gif;q=0.8,image/*;q=0.5"
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_TRANSIENT_STATUSES = frozenset({408, 425, 429})

# The hub's image CDN: /{account hash}/{image uuid}/{params}/{name}, params "k=v,k=v".
_CDN_ACCOUNT = "xG1nkqKTMzGDvpLrqFT7WA"
_CDN_PARAMS = re.compile(r"^[A-Za-z_]+=[^/=,]*(?:,[A-Za-z_]+=[^/=,]*)*$")
_HOST_CHARS = re.compile(r"^[a-z0-9.-]+$")


# ================================================================================================
# public data
# ================================================================================================


@dataclass(frozen=True, slots=True)
class PreviewImage:
    """One image the caller has ALREADY decided may be shown in the target channel."""

    url: str
    width: int | None
    height: int | None
    blurhash: str | None


@dataclass(frozen=True, slots=True)
class Preview:
    """An encoded picture ready to attach (``filename`` is ``preview.jpg`` or ``preview.webp``)."""

    data: bytes
    content_type: str
    filename: str
    width: int
    height: int
    tiles: int
    """Images composed into it (1-4); 1 for a placeholder."""
    placeholder: bool
    """True when rendered from a BlurHash (no image was fetched)."""


@dataclass(frozen=True, slots=True)
class EncodedPicture:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def filename(self) -> str:
        return _filename(self.content_type)


class ImageRefused(Exception):
    """An image that will not be shown; ``transient`` when trying again later may succeed."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def _filename(content_type: str) -> str:
    return "preview.webp" if content_type == "image/webp" else "preview.jpg"


# ================================================================================================
# URLs
# ================================================================================================


def thumbnail_url(url: str, width: int = 450) -> str:
    """Rewrite a hub CDN image URL to ask for ``width`` pixels.

    ``.../xG1nkqKTMzGDvpLrqFT7WA/{uuid}/{params}/{name}`` with params such as ``original=true``,
    ``width=1200`` or ``width=450,optimized=true`` becomes ``.../{uuid}/width=450/{name}``; a CDN URL
    without a params segment gets one. Query and fragment are kept. Any other URL is returned unchanged.
    """
    if width <= 0:
        raise ValueError("width must be positive")
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https"):
        return url
    segments = parts.path.split("/")
    # ["", account, uuid, params, name] or ["", account, uuid, name]
    if len(segments) < 4 or segments[0] != "" or segments[1] != _CDN_ACCOUNT or not segments[2]:
        return url
    if len(segments) == 5 and segments[4] and _CDN_PARAMS.match(segments[3]):
        segments[3] = f"width={width}"
    elif len(segments) == 4 and segments[3] and "=" not in segments[3]:
        segments.insert(3, f"width={width}")
    else:
        return url
    return urlunsplit(parts._replace(path="/".join(segments)))


_IMAGE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{7,127}$")


def cdn_image_url(ref: str | None, cdn_base: str, *, name: str | int | None = None, width: int = 450) -> str | None:
    """A hub image reference as a URL: a full http(s) URL is kept; a bare image key (article covers
    name their image by its CDN key only, hub-api.md §7) becomes
    ``{cdn_base}/xG1nkqKTMzGDvpLrqFT7WA/{key}/width={width}/{name or key}.jpeg`` (§8). Anything else:
    None."""
    if not ref:
        return None
    text = ref.strip()
    if text.lower().startswith(("http://", "https://")):
        return text
    if not _IMAGE_KEY.match(text):
        return None
    return f"{cdn_base.rstrip('/')}/{_CDN_ACCOUNT}/{text}/width={width}/{name or text}.jpeg"


def _host_entry(entry: str) -> tuple[str, int | None] | None:
    """An ``image_hosts`` entry (``host``, ``host:port``, ``[v6]``, ``[v6]:port``) -> (host, port)."""
    text = entry.strip()
    if not text or any(c in text for c in "/@?#\\ "):
        return None
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(text)), None  # a bare IPv6 address such as ::1
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    normalized = _normalize_host(host)
    return (normalized, port) if normalized else None


def _normalize_host(host: str | None) -> str | None:
    """Lower-case ASCII host name or canonical IP literal; ``None`` when unusable."""
    if not host or not host.isascii():
        return None
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not _HOST_CHARS.match(host) or ".." in host or host.startswith((".", "-")):
        return None
    return host


def _url_target(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, effective port) when ``url`` is a plain http(s) URL without userinfo, parsed
    the same way by ``urllib`` and by ``httpx`` (no parser differentials); otherwise ``None``."""
    if not isinstance(url, str) or any(c in url for c in "\\\r\n\t ") or not url.isprintable():
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc.isascii() or any(c in parts.netloc for c in "@%"):
        return None
    host = _normalize_host(parts.hostname)
    if host is None:
        return None
    effective = port if port is not None else (443 if scheme == "https" else 80)
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        return None
    if parsed.userinfo or parsed.scheme != scheme:
        return None
    if _normalize_host(parsed.raw_host.decode("ascii", "replace")) != host:
        return None
    if (parsed.port if parsed.port is not None else effective) != effective:
        return None
    return scheme, host, effective


def host_allowed(url: str, hosts: Sequence[str]) -> bool:
    """True when ``url`` is http/https, has no userinfo and names a host in ``hosts``.

    Host names compare case-insensitively and exactly (``image.civitai.com.evil.com`` is not
    ``image.civitai.com``; subdomains are not implied). An entry without a port matches any port; an
    entry with a port matches only that port (the scheme's default port counts when the URL has
    none). IP literals match only an entry naming the same address.
    """
    target = _url_target(url)
    if target is None:
        return False
    _, host, port = target
    for entry in hosts:
        parsed = _host_entry(entry)
        if parsed is None:
            continue
        entry_host, entry_port = parsed
        if entry_host == host and (entry_port is None or entry_port == port):
            return True
    return False


def _loggable(url: str) -> str:
    """The URL without query, fragment or userinfo, for logs."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))[:300]
    except ValueError:
        return "<unparsable url>"


# ================================================================================================
# Pillow work (pure: bytes and images in, bytes and images out; run in worker threads)
# ================================================================================================


def decode_image(data: bytes, *, max_pixels: int, max_side: int = CANVAS_SIDE) -> Image.Image:
    """Decode ``data`` into an RGB image no larger than ``max_side`` on either side.

    Raises :class:`ImageRefused` for anything that is not a decodable picture or declares more than
    ``max_pixels`` (or Pillow's ``MAX_IMAGE_PIXELS``) pixels; the header is checked before any pixel
    is decoded.
    """
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise ImageRefused("empty image")
            if width * height > limit:
                raise ImageRefused(f"too many pixels ({width}x{height})")
            if getattr(im, "is_animated", False):
                im.seek(0)
            target = _fit((width, height), (max_side, max_side), upscale=False)
            im.draft(None, target)  # JPEG: decode at 1/2, 1/4 or 1/8 scale when that is enough
            try:
                picture = ImageOps.exif_transpose(im)
            except (Image.DecompressionBombError, Image.DecompressionBombWarning):
                raise
            except Exception:  # a malformed EXIF block: show the picture as stored
                im.load()
                picture = im.copy()
        picture = _to_rgb(picture)
        if picture.width > max_side or picture.height > max_side:
            picture.thumbnail((max_side, max_side), Image.Resampling.BICUBIC, reducing_gap=2.0)
        return picture
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(f"decompression bomb ({exc})") from None
    except MemoryError:
        raise ImageRefused("out of memory while decoding") from None
    except Exception as exc:  # UnidentifiedImageError, OSError (truncated), SyntaxError, ValueError...
        raise ImageRefused(f"not a decodable image ({type(exc).__name__}: {exc})") from None


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", im.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def _fit(size: tuple[int, int], box: tuple[int, int], *, upscale: bool = True) -> tuple[int, int]:
    """``size`` scaled to fit inside ``box``, aspect kept (at least 1x1)."""
    w, h = size
    scale = min(box[0] / w, box[1] / h)
    if not upscale:
        scale = min(scale, 1.0)
    return max(1, min(box[0], round(w * scale))), max(1, min(box[1], round(h * scale)))


@dataclass(frozen=True, slots=True)
class CollageLayout:
    """Where the tiles of a collage go: ``cells`` are the grid cells, ``tiles`` the rectangles the
    images are scaled into (aspect kept, centred in their cell), both as (x, y, width, height)."""

    width: int
    height: int
    cells: tuple[tuple[int, int, int, int], ...]
    tiles: tuple[tuple[int, int, int, int], ...]


_GRID = {1: (1, 1), 2: (2, 1), 3: (3, 1), 4: (2, 2)}


def collage_layout(sizes: Sequence[tuple[int, int]], *, side: int = CANVAS_SIDE, gap: int = GAP) -> CollageLayout:
    """The layout for 1-4 images of the given (width, height); see the module docstring."""
    n = len(sizes)
    if n not in _GRID:
        raise ValueError("a collage has 1 to 4 images")
    if any(w <= 0 or h <= 0 for w, h in sizes):
        raise ValueError("image sizes must be positive")
    if n == 1:
        w, h = _fit(sizes[0], (side, side), upscale=False)
        box = (0, 0, w, h)
        return CollageLayout(w, h, (box,), (box,))
    cols, rows = _GRID[n]
    aspect = math.exp(sum(math.log(w / h) for w, h in sizes) / n)
    aspect = min(_ASPECT_MAX, max(_ASPECT_MIN, aspect))
    if cols * aspect >= rows:  # wider than tall: the width is the long side
        cell_w = (side - (cols - 1) * gap) // cols
        cell_h = max(1, min((side - (rows - 1) * gap) // rows, round(cell_w / aspect)))
    else:
        cell_h = (side - (rows - 1) * gap) // rows
        cell_w = max(1, min((side - (cols - 1) * gap) // cols, round(cell_h * aspect)))
    width = cols * cell_w + (cols - 1) * gap
    height = rows * cell_h + (rows - 1) * gap
    # the long side is exactly `side`: the pixels left over by the integer division become a margin
    left = (side - width) // 2 if width >= height else 0
    top = (side - height) // 2 if height > width else 0
    width, height = (side, height) if width >= height else (width, side)
    cells = []
    tiles = []
    for index, size in enumerate(sizes):
        col, row = index % cols, index // cols
        x, y = left + col * (cell_w + gap), top + row * (cell_h + gap)
        tw, th = _fit(size, (cell_w, cell_h))
        cells.append((x, y, cell_w, cell_h))
        tiles.append((x + (cell_w - tw) // 2, y + (cell_h - th) // 2, tw, th))
    return CollageLayout(width, height, tuple(cells), tuple(tiles))


def compose_collage(images: Sequence[Image.Image]) -> Image.Image:
    """Compose 1-4 RGB images into one picture (see :func:`collage_layout`)."""
    layout = collage_layout([im.size for im in images])
    if len(images) == 1:
        (x, y, w, h), im = layout.tiles[0], images[0]
        return im if im.size == (w, h) else im.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=2.0)
    canvas = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    for im, (x, y, w, h) in zip(images, layout.tiles, strict=True):
        tile = im if im.size == (w, h) else im.resize((w, h), Image.Resampling.BICUBIC, reducing_gap=2.0)
        canvas.paste(tile, (x, y))
    return canvas


def _encode(im: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        im.save(buf, "JPEG", quality=quality, optimize=True)
    else:
        im.save(buf, "WEBP", quality=quality, method=4)
    return buf.getvalue()


def encode_preview(im: Image.Image, max_bytes: int) -> EncodedPicture | None:
    """Encode ``im`` as JPEG (or WebP when smaller) within ``max_bytes``: quality steps first, then
    scaling down by 3/4 per round; ``None`` if even a tiny picture does not fit."""
    current = im if im.mode == "RGB" else _to_rgb(im)
    while True:
        for quality in JPEG_QUALITIES:
            jpeg = _encode(current, "JPEG", quality)
            if len(jpeg) <= max_bytes:
                return EncodedPicture(jpeg, "image/jpeg", current.width, current.height)
            if len(jpeg) > max_bytes * 5 // 4:
                continue  # WebP (slow to encode) is rarely a quarter smaller than JPEG: not worth a try
            webp = _encode(current, "WEBP", quality)
            if len(webp) <= max_bytes and len(webp) < len(jpeg):
                return EncodedPicture(webp, "image/webp", current.width, current.height)
        if max(current.size) * 3 // 4 < MIN_ENCODE_SIDE:
            return None
        size = (max(1, current.width * 3 // 4), max(1, current.height * 3 // 4))
        current = current.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _placeholder_size(width: int | None, height: int | None) -> tuple[int, int]:
    aspect = 1.0
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        aspect = min(_PLACEHOLDER_ASPECT, max(1 / _PLACEHOLDER_ASPECT, width / height))
    if aspect >= 1:
        return PLACEHOLDER_SIDE, max(1, round(PLACEHOLDER_SIDE / aspect))
    return max(1, round(PLACEHOLDER_SIDE * aspect)), PLACEHOLDER_SIDE


def _render_placeholder(blurhash: str, width: int, height: int) -> bytes:
    """A BlurHash only holds a few low frequencies: decode small (cheap in pure Python), then scale."""
    small = 32
    if width >= height:
        sw, sh = small, max(1, round(small * height / width))
    else:
        sw, sh = max(1, round(small * width / height)), small
    im = blurhash_codec.decode(blurhash, sw, sh).resize((width, height), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80, optimize=True)
    return buf.getvalue()


def _render_collage(images: Sequence[Image.Image], max_bytes: int) -> EncodedPicture | None:
    return encode_preview(compose_collage(images), max_bytes)


# ================================================================================================
# cache
# ================================================================================================


def _collage_key(urls: Sequence[str]) -> str:
    return hashlib.sha256("\n".join([LAYOUT_VERSION, *urls]).encode("utf-8")).hexdigest()


def _placeholder_key(blurhash: str, width: int, height: int) -> str:
    return hashlib.sha256(f"{PLACEHOLDER_VERSION}\n{blurhash}\n{width}x{height}".encode()).hexdigest()


# ================================================================================================
# the service
# ================================================================================================


class PreviewService:
    """Fetches allowed images, composes and caches preview pictures. Close with :meth:`aclose`."""

    def __init__(
        self,
        store: PreviewStore,
        *,
        image_hosts: Sequence[str],
        timeout: float = 10.0,
        max_download_bytes: int = 8 * 1024 * 1024,
        max_pixels: int = 40_000_000,
        max_output_bytes: int = 1_000_000,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._store = store
        self._hosts = tuple(image_hosts)
        self._timeout = timeout
        self._max_download = max_download_bytes
        self._max_pixels = max_pixels
        self._max_output = max_output_bytes
        self._fetch_slots = asyncio.Semaphore(max_concurrency)
        self._decode_slots = asyncio.Semaphore(2)  # bounds the memory of decoded full-size images
        self._inflight: dict[str, asyncio.Task[Preview | None]] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            follow_redirects=False,
            trust_env=False,
            headers={"Accept": _ACCEPT, "Accept-Encoding": "identity", "User-Agent": "hub-community-bot/previews"},
            transport=transport,
        )

    # ---------------------------------------------------------------- public

    async def collage(self, images: Sequence[PreviewImage]) -> Preview | None:
        """One picture of up to :data:`MAX_TILES` images (duplicates and extras ignored); images that
        cannot be fetched or decoded are skipped (and logged); ``None`` when none could be."""
        urls: list[str] = []
        for image in images:
            url = getattr(image, "url", None)
            if isinstance(url, str) and url and url not in urls:
                urls.append(url)
            if len(urls) == MAX_TILES:
                break
        if not urls:
            return None
        key = _collage_key(urls)
        cached = await self._cache_get(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._build_collage(key, urls), name=f"preview-{key[:12]}")
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        try:
            return await asyncio.shield(task)
        except Exception:  # a bug, not a bad image: still no exception for the caller
            log.exception("preview: building a collage failed")
            return None

    async def placeholder(self, blurhash: str | None, width: int | None, height: int | None) -> Preview | None:
        """The BlurHash as a picture (~512 px on the long side, aspect of ``width``/``height`` kept,
        square when unknown); ``None`` when the hash is missing or malformed. No network."""
        if not isinstance(blurhash, str) or not blurhash_codec.is_valid(blurhash):
            return None
        pw, ph = _placeholder_size(width, height)
        key = _placeholder_key(blurhash, pw, ph)
        cached = await self._cache_get(key)
        if cached is not None:
            return cached
        try:
            data = await asyncio.to_thread(_render_placeholder, blurhash, pw, ph)
        except ValueError as exc:
            log.info("preview: BlurHash %r not rendered: %s", blurhash[:40], exc)
            return None
        preview = Preview(data, "image/jpeg", "preview.jpg", pw, ph, tiles=1, placeholder=True)
        await self._cache_put(key, preview)
        return preview

    async def aclose(self) -> None:
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()

    # ---------------------------------------------------------------- building

    def _forget(self, key: str, task: asyncio.Task[Preview | None]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    async def _build_collage(self, key: str, urls: list[str]) -> Preview | None:
        width = FETCH_WIDTH[len(urls)]
        results = await asyncio.gather(*(self._load(url, width) for url in urls))
        pictures = [r for r in results if isinstance(r, Image.Image)]
        refusals = [r for r in results if isinstance(r, ImageRefused)]
        if not pictures:
            log.info("preview: none of %d image(s) could be fetched", len(urls))
            return None
        try:
            encoded = await asyncio.to_thread(_render_collage, pictures, self._max_output)
        except Exception:
            log.exception("preview: composing %d image(s) failed", len(pictures))
            return None
        if encoded is None:
            log.warning("preview: collage does not fit in %d bytes", self._max_output)
            return None
        preview = Preview(
            data=encoded.data,
            content_type=encoded.content_type,
            filename=encoded.filename,
            width=encoded.width,
            height=encoded.height,
            tiles=len(pictures),
            placeholder=False,
        )
        if not any(r.transient for r in refusals):
            await self._cache_put(key, preview)
        return preview

    async def _load(self, url: str, width: int) -> Image.Image | ImageRefused:
        """Fetch and decode one image; every failure comes back as an ``ImageRefused`` (logged)."""
        try:
            data = await self._fetch(thumbnail_url(url, width))
            async with self._decode_slots:
                return await asyncio.to_thread(decode_image, data, max_pixels=self._max_pixels, max_side=CANVAS_SIDE)
        except ImageRefused as exc:
            refusal = exc
        except (TimeoutError, httpx.TimeoutException):
            refusal = ImageRefused("timed out", transient=True)
        except httpx.HTTPError as exc:
            refusal = ImageRefused(f"{type(exc).__name__}: {exc}", transient=True)
        except Exception as exc:  # never let one image break the collage
            log.exception("preview: unexpected error for %s", _loggable(url))
            refusal = ImageRefused(f"unexpected {type(exc).__name__}", transient=True)
        log.info("preview: skipped %s: %s", _loggable(url), refusal.reason)
        return refusal

    async def _fetch(self, url: str) -> bytes:
        async with self._fetch_slots, asyncio.timeout(self._timeout):
            current = url
            for _hop in range(MAX_REDIRECTS + 1):
                if not host_allowed(current, self._hosts):
                    raise ImageRefused("host not allowed" if _hop == 0 else "redirect to a host not allowed")
                async with self._client.stream("GET", current) as response:
                    status = response.status_code
                    if status in _REDIRECT_STATUSES:
                        location = response.headers.get("location")
                        if not location:
                            raise ImageRefused(f"HTTP {status} without Location")
                        try:
                            current = str(response.url.join(location))
                        except (httpx.InvalidURL, ValueError):
                            raise ImageRefused("redirect to an invalid URL") from None
                        continue
                    if status != 200:
                        raise ImageRefused(f"HTTP {status}", transient=status >= 500 or status in _TRANSIENT_STATUSES)
                    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
                    if not content_type.startswith("image/"):
                        raise ImageRefused(f"not an image (Content-Type {content_type or 'missing'!r})")
                    declared = response.headers.get("content-length", "").strip()
                    if declared.isdigit() and int(declared) > self._max_download:
                        raise ImageRefused(f"too large (Content-Length {declared})")
                    body = bytearray()
                    async for chunk in response.aiter_raw():
                        body += chunk
                        if len(body) > self._max_download:
                            raise ImageRefused(f"too large (over {self._max_download} bytes)")
                    return bytes(body)
            raise ImageRefused(f"more than {MAX_REDIRECTS} redirects")

    # ---------------------------------------------------------------- cache (best effort)

    async def _cache_get(self, key: str) -> Preview | None:
        try:
            row = await self._store.get(key)
        except (sqlite3.Error, ValueError):
            log.exception("preview: cache read failed")
            return None
        if row is None:
            return None
        return Preview(data=row.data, content_type=row.content_type, filename=_filename(row.content_type),
                       width=row.width, height=row.height, tiles=row.tiles, placeholder=row.placeholder)

    async def _cache_put(self, key: str, preview: Preview) -> None:
        try:
            await self._store.put(key, StoredPicture(
                data=preview.data, content_type=preview.content_type, width=preview.width, height=preview.height,
                tiles=preview.tiles, placeholder=preview.placeholder))
        except (sqlite3.Error, ValueError):
            log.exception("preview: cache write failed")
