"""A loopback fake of the Civitai public REST API (``/api/v1``) plus its image CDN.

Used by the test suite, the benchmarks and the offline demo::

    hub = FakeHub(generated=200, articles=30)
    await hub.start()            # binds 127.0.0.1:<free port>
    hub.base_url                 # "http://127.0.0.1:PORT" -> the bot's hub.base_url
    ...
    await hub.stop()

or ``async with FakeHub() as hub: ...``. Standalone: ``python -m tests.fakes.hub_server --port 8081
--generated 500``.

Behaviour follows the shared reference (hub-api.md): cursor/page paging and their limits, filters,
sorts, the default PG-only browsing level of ``/models`` (and its per-image filter), numeric vs
string ``nsfwLevel`` drift between ``/models`` and ``/images``, by-hash lookups, tags/creators page
paging, articles with list/detail stats drift, optional fixed-window rate limits (``articles_rate_limit``:
per IP, doubled per key; ``models_rate_limit``: per IP on /models* and /model-versions*), hub-like error
bodies and cache headers. Knobs emulate known API defects (``cursor_skip_bug`` = civitai#1372,
``empty_pages`` = civitai#1848) and failures (``fail``, ``malformed``, ``delay``, ``down``,
``huge_images``, ``image_status``). Every request is recorded in ``requests``.

Members and their personal keys (``add_user``, ``add_key``, ``revoke_key``) answer ``GET /api/v1/me``
and may post reviews through the internal tRPC procedure ``POST /api/trpc/resourceReview.upsert``
(hub-api.md §11: scope SocialWrite, one review per member per version, tRPC envelopes); what was
accepted is kept in ``reviews`` (current rows) and ``review_posts`` (every write, with its key).

The real captures are served where their directory exists (``$HUB_SAMPLES_DIR`` or
``../shared/hub-samples``); in a fresh clone without it, ``SAMPLE_STANDINS`` generated models stand
in and reading ``samples`` raises ``SamplesMissing`` (tests needing the captures then skip).

Stored models are the hub's ``/models`` list-item dicts (all versions, all images, unfiltered);
every response is built from them at request time, so tests can mutate the catalogue between polls
(``publish_model``, ``publish_version``, ``unpublish_version``, ``delete_model``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import math
import random
import time
from bisect import bisect_right
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import CIMultiDict
from PIL import Image

from tests.fakes import hub_data
from tests.fakes.hub_data import CDN_PREFIX, PLACEHOLDER_IMAGE_BASE, parse_iso

__all__ = ["FakeHub", "HubRequest", "level_to_string"]

log = logging.getLogger(__name__)

_JSON_KEY = web.RequestKey("fake_hub_json", object)

API = "/api/v1"
MAX_INT32 = 2_147_483_647
#: Without the samples directory, this many generated models stand in for the captured catalogue
#: (10 models of 2025, 3 of 2023 and model 1244), with ids from STANDIN_START_ID.
SAMPLE_STANDINS = 14
STANDIN_START_ID = 900_000
#: 404s (and empty name searches) answered while generated models stood in for missing samples
#: ("GET /api/v1/models/257749", "a search for 'pony'"), process-wide: a test that failed after one
#: most likely asked for a captured model by id, hash or name (``tests/conftest.py`` reports it as
#: skipped on a fresh clone).
STANDIN_MISSES: list[str] = []
CACHE_PUBLIC = "public, s-maxage=300, stale-while-revalidate=150"
CACHE_BY_HASH = "public, s-maxage=3600, stale-while-revalidate=1800"
CACHE_PRIVATE = "private, no-cache, no-store"
CACHE_NO_STORE = "no-store"
CACHE_CDN = "public, max-age=31536000, immutable"

# fmt: off
MODEL_SORTS = (
    "Highest Rated", "Most Downloaded", "Most Liked", "Most Discussed", "Most Collected", "Most Images",
    "Newest", "Oldest",
)
# fmt: on
PERIODS = {"AllTime": None, "Year": 365, "Month": 30, "Week": 7, "Day": 1}
IMAGE_SORTS = ("Most Reactions", "Most Comments", "Most Collected", "Newest", "Oldest", "Random")
ARTICLE_SORTS = ("Newest", "Recently Updated", "Most Reactions", "Most Comments", "Most Bookmarks", "Most Collected")
# fmt: off
ALL_MODEL_TYPES = (
    "Checkpoint", "TextualInversion", "Hypernetwork", "AestheticGradient", "LORA", "LoCon", "DoRA",
    "Controlnet", "Upscaler", "MotionModule", "VAE", "TextEncoder", "UNet", "CLIPVision", "Poses",
    "Wildcards", "Workflows", "ComfyWorkflows", "Detection", "VisionLanguage", "CLIP", "LLM", "Other",
)
# fmt: on
IMAGES_NSFW_PARAM = {"true": 60, "false": 1, "none": 1, "soft": 3, "mature": 7, "x": 31}
_STRING_LEVEL = {"None": 1, "Soft": 2, "Mature": 4, "X": 8, "Blocked": 32}
# fmt: off
_DEFAULT_ERRORS = {
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 408: "Request Timeout",
    429: "Rate limit exceeded. Please try again later.", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Server busy, please retry shortly.", 504: "Gateway Timeout",
}
# fmt: on


def level_to_string(level: int) -> str:
    """Numeric browsing level -> the legacy string ``/images`` reports (None/Soft/Mature/X/Blocked)."""
    if level >= 32:
        return "Blocked"
    if level >= 8:
        return "X"
    if level >= 4:
        return "Mature"
    if level >= 2:
        return "Soft"
    return "None"


def _image_level(image: dict[str, Any]) -> int:
    lvl = image.get("nsfwLevel")
    if isinstance(lvl, int) and not isinstance(lvl, bool):
        return lvl
    if isinstance(lvl, str):
        return _STRING_LEVEL.get(lvl, 1)
    return 4 if image.get("nsfw") else 1


def _model_level(model: dict[str, Any]) -> int:
    lvl = model.get("nsfwLevel")
    if isinstance(lvl, int) and not isinstance(lvl, bool):
        return lvl
    return 4 if model.get("nsfw") else 1  # 2023 shape: only the legacy bool


def _version_ms(version: dict[str, Any]) -> int:
    return parse_iso(version.get("publishedAt")) or parse_iso(version.get("createdAt")) or 0


def _uuid_of(url: str) -> str | None:
    parts = url.split("/")
    try:
        i = parts.index(CDN_PREFIX)
    except ValueError:
        return None
    return parts[i + 1] if i + 1 < len(parts) else None


def _image_id(image: dict[str, Any]) -> int:
    iid = image.get("id")
    if isinstance(iid, int):
        return iid
    name = str(image.get("url", "")).rsplit("/", 1)[-1].split(".", 1)[0]
    if name.isdigit():
        return int(name)
    return int(hashlib.md5(str(image.get("url")).encode()).hexdigest()[:8], 16)


TRPC = "/api/trpc"
#: Token scope bits (hub-api.md §1, ``token-scope.ts``). ``Full`` holds every bit.
# fmt: off
TOKEN_SCOPES = {
    "UserRead": 1, "ModelsRead": 4, "ModelsWrite": 8, "MediaRead": 32, "MediaWrite": 64,
    "ArticlesRead": 256, "ArticlesWrite": 512, "CollectionsRead": 131072, "SocialWrite": 524288,
    "Full": 33554431,
}
#: tRPC error codes: JSON-RPC number and HTTP status (``@trpc/server`` error shape).
TRPC_CODES = {
    "PARSE_ERROR": (-32700, 400), "BAD_REQUEST": (-32600, 400), "UNAUTHORIZED": (-32001, 401),
    "FORBIDDEN": (-32003, 403), "NOT_FOUND": (-32004, 404), "METHOD_NOT_SUPPORTED": (-32005, 405),
    "TIMEOUT": (-32008, 408), "CONFLICT": (-32009, 409), "PAYLOAD_TOO_LARGE": (-32013, 413),
    "TOO_MANY_REQUESTS": (-32029, 429), "INTERNAL_SERVER_ERROR": (-32603, 500),
    "BAD_GATEWAY": (-32603, 502), "SERVICE_UNAVAILABLE": (-32603, 503), "GATEWAY_TIMEOUT": (-32603, 504),
}
# fmt: on
_TRPC_CODE_OF_STATUS = {status: code for code, (_n, status) in TRPC_CODES.items()}
#: The messages the hub's tRPC middlewares throw (S1 ``src/server/trpc.ts``, the review handler).
TRPC_NO_TOKEN = "Please use the public API instead: https://developer.civitai.com/"
TRPC_NO_SCOPE = "Your API key does not have the required scope for this action"
TRPC_MUTED = "You cannot perform this action because your account has been restricted"
TRPC_NO_ACCESS = "You do not have access to this model version."


# ------------------------------------------------------------------------------------------------
# request log
# ------------------------------------------------------------------------------------------------


@dataclass
class HubRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    """Query parameters in order; repeated parameters are kept."""
    headers: CIMultiDict[str]
    """Case-insensitive copy of the request headers."""
    json: Any
    """Parsed JSON body (``None`` if absent or not JSON)."""
    time: float
    """``time.monotonic()`` at arrival."""
    status: int | None = None
    """Status answered (set once the response is ready)."""
    body: bytes = b""

    def param(self, name: str) -> str | None:
        """First value of query parameter ``name``."""
        return next((v for k, v in self.query if k == name), None)

    def params(self, name: str) -> list[str]:
        """All values of query parameter ``name`` (repeated parameters)."""
        return [v for k, v in self.query if k == name]


@dataclass
class _Fault:
    kind: str  # "status" | "malformed"
    remaining: int
    path: str | None
    status: int = 200
    retry_after: str | None = None
    body: bytes | None = None
    malformed_kind: str = "truncated"

    def matches(self, path: str, is_api: bool) -> bool:
        if self.path is None:
            return is_api
        return path.startswith(self.path)


class _ParamError(Exception):
    def __init__(self, issues: list[dict[str, Any]]) -> None:
        super().__init__(issues)
        self.issues = issues

    def body(self) -> dict[str, Any]:
        # what `res.status(400).json({ error: zodError })` serializes to
        return {"error": {"issues": self.issues, "name": "ZodError"}}


class _HttpError(Exception):
    def __init__(self, status: int, error: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error
        self.headers = headers or {}


class _TrpcError(Exception):
    """A TRPCError: answered as ``{"error": {"json": {message, code, data: {code, httpStatus, path}}}}``."""

    def __init__(self, code: str, message: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = code if message is None else message  # TRPCError's default message is its code
        self.headers = headers or {}


def _trpc_error_body(code: str, message: str, path: str | None, status: int | None = None) -> dict[str, Any]:
    number, http_status = TRPC_CODES[code]
    data: dict[str, Any] = {"code": code, "httpStatus": status or http_status}
    if path is not None:
        data["path"] = path
    return {"error": {"json": {"message": message, "code": number, "data": data}}}


# ------------------------------------------------------------------------------------------------
# query parameter parsing (zod-like errors)
# ------------------------------------------------------------------------------------------------


class _Params:
    def __init__(self, request: web.Request) -> None:
        self.q = request.query

    def has(self, name: str) -> bool:
        return name in self.q

    def str(self, name: str) -> str | None:
        v = self.q.get(name)
        return v if v not in (None, "") else None

    def list(self, name: str, *, comma: bool = True) -> list[str]:
        out: list[str] = []
        for v in self.q.getall(name, []):
            out.extend([p.strip() for p in v.split(",")] if comma else [v])
        return [v for v in out if v]

    def int(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int | None:
        raw = self.q.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = float(raw)
            if not value.is_integer():
                raise ValueError
            ivalue = int(value)
        except (ValueError, OverflowError):
            raise _ParamError(
                [_issue("invalid_type", [name], "Expected number, received nan", expected="number", received="nan")]
            ) from None
        if lo is not None and ivalue < lo:
            raise _ParamError(
                [
                    _issue(
                        "too_small",
                        [name],
                        f"Number must be greater than or equal to {lo}",
                        minimum=lo,
                        type="number",
                        inclusive=True,
                        exact=False,
                    )
                ]
            )
        if hi is not None and ivalue > hi:
            raise _ParamError(
                [
                    _issue(
                        "too_big",
                        [name],
                        f"Number must be less than or equal to {hi}",
                        maximum=hi,
                        type="number",
                        inclusive=True,
                        exact=False,
                    )
                ]
            )
        return ivalue

    def bool(self, name: str) -> bool | None:
        raw = self.q.get(name)
        if raw is None:
            return None
        low = raw.strip().lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0", ""):
            return False
        raise _ParamError(
            [_issue("invalid_type", [name], "Expected boolean, received string", expected="boolean", received="string")]
        )

    def enum(self, name: str, options: Iterable[str], default: str | None = None) -> str | None:
        raw = self.q.get(name)
        if raw is None or raw == "":
            return default
        opts = list(options)
        if raw not in opts:
            raise _enum_error(name, opts, raw)
        return raw

    def ints(self, name: str) -> list[int]:
        out = []
        for v in self.list(name):
            if not v.lstrip("-").isdigit():
                raise _ParamError(
                    [_issue("invalid_type", [name], "Expected number, received nan", expected="number", received="nan")]
                )
            out.append(int(v))
        return out


def _issue(code: str, path: list[Any], message: str, **extra: Any) -> dict[str, Any]:
    """One zod issue as the hub serializes it."""
    return {"code": code, **extra, "path": path, "message": message}


def _enum_error(name: str, options: list[str], received: str) -> _ParamError:
    expected = " | ".join(f"'{o}'" for o in options)
    return _ParamError(
        [
            _issue(
                "invalid_enum_value",
                [name],
                f"Invalid enum value. Expected {expected}, received '{received}'",
                received=received,
                options=options,
            )
        ]
    )


# ------------------------------------------------------------------------------------------------
# indexes
# ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _ModelRec:
    id: int
    level: int
    last_ms: int
    type: str
    bases: frozenset[str]
    tags_lc: tuple[str, ...]
    user_lc: str
    name_lc: str
    thumbs: int
    downloads: int
    comments: int
    collected: int
    n_images: int
    n_versions: int


@dataclass(slots=True)
class _ImageRec:
    id: int
    level: int
    created_ms: int
    post_id: int
    username: str | None
    model_id: int | None
    version_id: int | None
    base_model: str | None
    type: str
    stats: dict[str, int]
    image: dict[str, Any]
    meta: Any = None  # only for standalone images carrying their own meta

    @property
    def reactions(self) -> int:
        s = self.stats
        return s["likeCount"] + s["heartCount"] + s["laughCount"] + s["cryCount"]


def _image_stats(image_id: int) -> dict[str, int]:
    rng = random.Random(image_id * 40503)
    like = int(rng.lognormvariate(2.5, 1.3))
    return {
        "cryCount": int(like * 0.02 * rng.random()),
        "laughCount": int(like * 0.05 * rng.random()),
        "likeCount": like,
        "dislikeCount": int(like * 0.01 * rng.random()),
        "heartCount": int(like * 0.4 * rng.random()),
        "commentCount": int(like * 0.05 * rng.random()),
    }


_MODEL_SORT_KEYS: dict[str, tuple[str, ...]] = {
    # field names of _ModelRec, all DESC except Oldest; id always last
    "Highest Rated": ("thumbs", "downloads", "id"),
    "Most Liked": ("thumbs", "downloads", "id"),
    "Most Downloaded": ("downloads", "id"),
    "Most Discussed": ("comments", "id"),
    "Most Collected": ("collected", "id"),
    "Most Images": ("n_images", "id"),
    "Newest": ("last_ms", "id"),
    "Oldest": ("last_ms", "id"),
}


def _sort_key(values: tuple[int, ...], ascending: bool) -> tuple[int, ...]:
    return values if ascending else tuple(-v for v in values)


def _parse_cursor(cursor: str, n_fields: int, ascending: bool) -> tuple[int, ...]:
    parts = cursor.split("|")
    if len(parts) != n_fields:
        raise _HttpError(400, f"Invalid cursor: {cursor}")
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise _HttpError(400, f"Invalid cursor: {cursor}") from None
    return _sort_key(values, ascending)


def _format_cursor(key: tuple[int, ...], ascending: bool) -> str:
    return "|".join(str(v if ascending else -v) for v in key)


class _Order:
    """A sorted view: ``keys`` ascending-comparable tuples, ``ids`` parallel."""

    __slots__ = ("ascending", "ids", "keys")

    def __init__(self, pairs: list[tuple[tuple[int, ...], int]], ascending: bool) -> None:
        pairs.sort()
        self.keys = [k for k, _ in pairs]
        self.ids = [i for _, i in pairs]
        self.ascending = ascending


class _RateWindow:
    """A fixed window: ``limit`` requests, then 429 until the window that began with the first
    request ends."""

    __slots__ = ("count", "limit", "start", "window")

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self.start = -math.inf
        self.count = 0

    def hit(self, now: float) -> float | None:
        """Count a request; ``None`` if allowed, else the seconds until the window resets."""
        if now - self.start >= self.window:
            self.start, self.count = now, 0
        self.count += 1
        if self.count > self.limit:
            return self.start + self.window - now
        return None


# ------------------------------------------------------------------------------------------------
# the fake
# ------------------------------------------------------------------------------------------------


class FakeHub:
    """Loopback hub-compatible server. See the module docstring."""

    def __init__(
        self,
        *,
        samples: bool = True,
        generated: int = 0,
        seed: int = 0,
        models: list[dict[str, Any]] | None = None,
        articles: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        cursor_skip_bug: bool = False,
        empty_pages: bool = False,
        articles_rate_limit: int | None = 60,  # the hub's documented 60/min per IP (120 with a key)
        articles_rate_window: float = 60.0,
        articles_rate_limit_with_key: int | None = None,
        models_rate_limit: int | None = 600,  # no published number: generous, but a storm meets it
        models_rate_window: float = 60.0,
        reviews_rate_limit: int | None = None,  # no published number: off unless set
        reviews_rate_window: float = 60.0,
        local_sample_images: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.image_host = host
        self.base_url = ""
        self.seed = seed
        self.requests: list[HubRequest] = []
        self.models: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.article_contents: dict[int, str] = {}  # article id -> the detail's HTML, where a test gave it
        # knobs
        self.delay: float = 0.0
        self.down: bool = False
        self.down_retry_after: str = "2"
        self.cursor_skip_bug = cursor_skip_bug
        self.empty_pages = empty_pages
        # Rate limits (hub-api.md §3), fixed windows, one bucket per family and client:
        # articles: the hub's own limiter, 60 req/min per IP anonymous, 120 per key with one (the
        # keyed limit defaults to twice the anonymous one); models (/models*, /model-versions*):
        # Cloudflare's edge limit, per IP, with no published number. Off unless set.
        self.articles_rate_limit = articles_rate_limit
        self.articles_rate_window = articles_rate_window
        self.articles_rate_limit_with_key = articles_rate_limit_with_key
        self.models_rate_limit = models_rate_limit
        self.models_rate_window = models_rate_window
        # tRPC writes (/api/trpc/*): one bucket per key (per IP without one); 429 TOO_MANY_REQUESTS.
        self.reviews_rate_limit = reviews_rate_limit
        self.reviews_rate_window = reviews_rate_window
        # members and their personal API keys (add_user / add_key / revoke_key)
        self.users: dict[int, dict[str, Any]] = {}
        self.api_keys: dict[str, dict[str, Any]] = {}
        # reviews received through resourceReview.upsert: the current rows by review id, and every
        # accepted write in order (a snapshot each, with the key that sent it)
        self.reviews: dict[int, dict[str, Any]] = {}
        self.review_posts: list[dict[str, Any]] = []
        # tRPC code answered for an unknown model version or one not of that model. S1's handler
        # throws UNAUTHORIZED "You do not have access to this model version." from its access check;
        # set "UNAUTHORIZED" to reproduce that.
        self.review_access_error = "NOT_FOUND"
        self.huge_images: set[str] = set()
        self.image_status: dict[str, int] = {}
        self.local_sample_images = local_sample_images
        self.max_image_width = 450

        self._want_samples = samples
        self._want_generated = generated
        self._want_articles = articles
        self._initial_models = models
        self._rng = random.Random(seed ^ 0x5EED5)
        self._faults: list[_Fault] = []
        self._runner: web.AppRunner | None = None
        self._started = False
        self._samples: hub_data.Samples | None = None
        self.samples_missing = False
        # indexes
        self._recs: dict[int, _ModelRec] = {}
        self._versions: dict[int, tuple[int, dict[str, Any]]] = {}
        self._hashes: dict[str, list[tuple[int, int]]] = {}
        self._unpublished: dict[int, tuple[int, dict[str, Any]]] = {}
        self._indexed: dict[int, list[tuple[int, set[str]]]] = {}
        self._gen = 0
        self._orders: dict[tuple[str, int], _Order] = {}
        self._image_cache_gen: tuple[int, int] = (-1, -1)
        self._image_recs: dict[int, _ImageRec] = {}
        self._image_orders: dict[str, _Order] = {}
        self._uuid_index: dict[str, tuple[int, int, str | None]] = {}
        self._derived_gen = -1
        self._tags: list[tuple[str, int]] = []
        self._creators: list[tuple[str, int, str | None]] = []
        self._article_gen = 0
        self._article_orders: dict[tuple[str, int], _Order] = {}
        self._rate_windows: dict[tuple[str, str], _RateWindow] = {}
        self._jpeg_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._sample_images: list[dict[str, Any]] = []
        self._next_user_id = 7_000_001
        self._next_key_id = 1
        self._next_review_id = 40_000_001

    @property
    def samples(self) -> hub_data.Samples | None:
        """The real captures being served (``None`` with ``samples=False``). Where they were wanted
        but their directory does not exist (a fresh clone), reading this raises
        :class:`~tests.fakes.hub_data.SamplesMissing`: the test needs the real captures, and
        ``tests/conftest.py`` turns that into a skip saying how to provide them."""
        if self.samples_missing:
            raise hub_data.SamplesMissing(hub_data.samples_dir())
        return self._samples

    # -------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeHub:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind the server and load the catalogue (samples, generated models, articles)."""
        if self._started:
            return
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        self._add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addr = self._runner.addresses[0]
        self.port = int(addr[1])
        self.base_url = f"http://{self.host}:{self.port}"
        self._started = True

        pending = list(self.models.values())
        self.models.clear()
        self._reset_indexes()
        if self._want_samples:
            try:
                self._samples = hub_data.load_samples()
            except hub_data.SamplesMissing:
                # A fresh clone without ../shared: generated models stand in for the captures, so
                # tests that only need *a* realistic catalogue still run; ``samples`` raises.
                self.samples_missing = True
                for m in hub_data.generate_models(SAMPLE_STANDINS, seed=self.seed ^ 0x5A4D, start_id=STANDIN_START_ID,
                                                  image_base=self.base_url):
                    self.add_model(m, localize=False)
            else:
                for m in self._samples.all_models():
                    self.add_model(m)
            self._add_sample_image_recs()
        for m in self._initial_models or []:
            self.add_model(m)
        for m in pending:
            self.add_model(m)
        if self._want_generated:
            for m in hub_data.generate_models(self._want_generated, seed=self.seed, image_base=self.base_url):
                self.add_model(m, localize=False)
        if self._want_articles:
            for a in hub_data.generate_articles(self._want_articles, seed=self.seed, image_base=self.base_url):
                self.add_article(a)

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._started = False

    # -------------------------------------------------------------- catalogue mutation

    def add_model(self, model: dict[str, Any], *, localize: bool = True) -> None:
        """Store (or replace) a model dict as-is (no copy) and index it. Image URLs using
        :data:`~tests.fakes.hub_data.PLACEHOLDER_IMAGE_BASE` are rewritten to this server. After
        editing a stored model in place, call this again to re-index it."""
        if not self._started:
            self.models[int(model["id"])] = model
            return
        if localize:
            self._localize(model)
        mid = int(model["id"])
        if mid in self.models:
            self._unindex(mid)
        self.models[mid] = model
        self._index(model)

    def publish_model(self, **kw: Any) -> dict[str, Any]:
        """Generate a model whose newest version is published now (``generate_model`` keywords:
        ``type``, ``base_model``, ``creator``, ``tags``, ``image_levels``, ``n_versions``, ``name``,
        ``published_at``), add it and return the stored dict."""
        self._require_started()
        model_id = kw.pop("model_id", None) or max([*self.models, 999_999]) + 1
        kw.setdefault("published_at", datetime.now(UTC))
        kw.setdefault("n_versions", 1)
        model = hub_data.generate_model(self._rng, model_id, image_base=self.base_url, **kw)
        self.add_model(model, localize=False)
        return model

    def publish_version(self, model_id: int, **kw: Any) -> dict[str, Any]:
        """Add a new version (published now unless ``published_at``) at index 0 of an existing
        model; keywords of ``generate_version`` (``name``, ``base_model``, ``image_levels``,
        ``n_images``). Returns the version dict."""
        self._require_started()
        model = self.models[model_id]
        used = {v["id"] for v in model.get("modelVersions", [])} | set(self._versions) | set(self._unpublished)
        vid = next((model_id * 16 + k for k in range(16) if model_id * 16 + k not in used), None)
        if vid is None or vid > MAX_INT32:
            vid = 1_500_000_000 + len(used) + 1
            while vid in used:
                vid += 1
        kw.setdefault("published_at", datetime.now(UTC))
        version = hub_data.generate_version(self._rng, model, vid, index=0, image_base=self.base_url, **kw)
        self._unindex(model_id)
        for v in model.get("modelVersions", []):
            if isinstance(v.get("index"), int):
                v["index"] += 1
        model.setdefault("modelVersions", []).insert(0, version)
        if isinstance(model.get("nsfwLevel"), int):
            model["nsfwLevel"] |= version["nsfwLevel"]
        self._index(model)
        return version

    def unpublish_version(self, version_id: int) -> None:
        """Remove a version from every response (it 404s; its hashes stop resolving)."""
        model_id, version = self._versions[int(version_id)]
        model = self.models[model_id]
        self._unindex(model_id)
        model["modelVersions"] = [v for v in model["modelVersions"] if v.get("id") != version["id"]]
        for i, v in enumerate(model["modelVersions"]):
            if "index" in v:
                v["index"] = i
        if isinstance(model.get("nsfwLevel"), int) and model["modelVersions"]:
            level = 0
            for v in model["modelVersions"]:
                level |= int(v.get("nsfwLevel") or 0)
            model["nsfwLevel"] = level
        self._unpublished[int(version_id)] = (model_id, version)
        self._index(model)

    def delete_model(self, model_id: int) -> None:
        """Remove a model entirely (404 everywhere)."""
        self._unindex(int(model_id))
        del self.models[int(model_id)]

    def add_article(self, article: dict[str, Any]) -> None:
        """Store (or replace) an article in the list-item shape."""
        self.articles[int(article["id"])] = article
        self._article_gen += 1

    def publish_article(self, *, content: str | None = None, **kw: Any) -> dict[str, Any]:
        """Generate an article published now (``generate_article`` keywords: ``published_at``,
        ``nsfw_level``, ``cover_level``, ``stats``, ``tags``, ``title``, ``username``), add and return
        it. ``content``: the HTML body its detail serves (else a generated one)."""
        self._require_started()
        article_id = kw.pop("article_id", None) or max([*self.articles, 9_999]) + 1
        kw.setdefault("published_at", datetime.now(UTC))
        article = hub_data.generate_article(self._rng, article_id, image_base=self.base_url, **kw)
        if content is not None:
            self.article_contents[article_id] = content
        self.add_article(article)
        return article

    # -------------------------------------------------------------- members, keys, reviews

    def add_user(
        self,
        username: str,
        *,
        key: str | None = None,
        scopes: Iterable[str] | int | None = None,
        user_id: int | None = None,
        tier: str = "free",
        status: str = "active",
        subscriptions: Iterable[str] = (),
        is_moderator: bool = False,
    ) -> dict[str, Any]:
        """Add a hub member with one personal API key and return the stored user dict: ``id``,
        ``username``, ``tier``, ``status`` (``active``, ``muted`` or ``banned``), ``subscriptions``,
        ``isModerator`` and ``key`` (the key, generated as 32 hex digits unless given). ``scopes`` are
        scope names of hub-api.md §1 (``{"SocialWrite"}``) or a bitmask; ``None`` = ``Full`` (every
        scope). Works before ``start()`` too."""
        if any(u["username"].lower() == username.lower() for u in self.users.values()):
            raise ValueError(f"username {username!r} is taken")
        uid = int(user_id) if user_id is not None else self._next_user_id
        if uid in self.users:
            raise ValueError(f"user id {uid} is taken")
        if status not in ("active", "muted", "banned"):
            raise ValueError(f"unknown status {status!r}")
        self._next_user_id = max(self._next_user_id, uid + 1)
        user = {
            "id": uid,
            "username": username,
            "tier": tier,
            "status": status,
            "subscriptions": list(subscriptions),
            "isModerator": is_moderator,
            "key": "",
        }
        self.users[uid] = user
        user["key"] = self.add_key(uid, key=key, scopes=scopes)
        return user

    def add_key(self, user: int | str, *, key: str | None = None, scopes: Iterable[str] | int | None = None) -> str:
        """Give a member (id or username) another personal key; returns it."""
        uid = self._user_id(user)
        key = key if key is not None else self._rng.randbytes(16).hex()
        if not key or key in self.api_keys:
            raise ValueError("empty or duplicate API key")
        self.api_keys[key] = {"id": self._next_key_id, "userId": uid, "scope": _scope_mask(scopes)}
        self._next_key_id += 1
        return key

    def revoke_key(self, key: str) -> None:
        """Delete a key: it is unknown from then on (401 on ``/me`` and on tRPC calls)."""
        del self.api_keys[key]

    def user_of_key(self, key: str) -> dict[str, Any] | None:
        """The member a key belongs to (``None`` if unknown or revoked)."""
        entry = self.api_keys.get(key)
        return self.users.get(entry["userId"]) if entry else None

    def review_by(self, user: int | str, model_version_id: int) -> dict[str, Any] | None:
        """The member's current review of a model version (``None`` if none)."""
        uid = self._user_id(user)
        return next(
            (r for r in self.reviews.values() if r["userId"] == uid and r["modelVersionId"] == int(model_version_id)),
            None,
        )

    def _user_id(self, user: int | str) -> int:
        if isinstance(user, int):
            if user not in self.users:
                raise KeyError(f"no user {user}")
            return user
        for u in self.users.values():
            if u["username"].lower() == user.lower():
                return int(u["id"])
        raise KeyError(f"no user {user!r}")

    # -------------------------------------------------------------- fault injection

    def fail(
        self,
        status: int,
        *,
        times: int = 1,
        retry_after: str | None = None,
        path: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """The next ``times`` matching requests answer ``status`` (with ``Retry-After`` if given and
        a hub-like ``{"error": ...}`` body unless ``body``). ``path`` is a path prefix (any route,
        e.g. ``"/api/v1/models"`` or ``"/xG1nkqKTMzGDvpLrqFT7WA"``); ``None`` = any API request."""
        self._faults.append(_Fault("status", times, path, status=status, retry_after=retry_after, body=body))

    def malformed(self, *, times: int = 1, path: str | None = None, kind: str = "truncated") -> None:
        """The next ``times`` matching requests answer 200 with a broken body. ``kind``:
        ``truncated`` (the real body cut in half), ``html`` (an HTML error page), ``empty``,
        ``wrong_shape`` (valid JSON of the wrong shape), ``not_json`` (plain text)."""
        if kind not in ("truncated", "html", "empty", "wrong_shape", "not_json"):
            raise ValueError(f"unknown malformed kind {kind!r}")
        self._faults.append(_Fault("malformed", times, path, malformed_kind=kind))

    def clear_faults(self) -> None:
        """Drop pending ``fail``/``malformed`` rules and clear ``down`` and ``delay``."""
        self._faults.clear()
        self.down = False
        self.delay = 0.0

    # -------------------------------------------------------------- request log

    def requests_to(self, path_prefix: str) -> list[HubRequest]:
        """Recorded requests whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # -------------------------------------------------------------- helpers for tests

    def version(self, version_id: int) -> dict[str, Any] | None:
        """The stored version dict (published only)."""
        hit = self._versions.get(int(version_id))
        return hit[1] if hit else None

    def model_of_version(self, version_id: int) -> dict[str, Any] | None:
        hit = self._versions.get(int(version_id))
        return self.models.get(hit[0]) if hit else None

    def visible_model_ids(self, *, nsfw: bool = False) -> list[int]:
        """Ids ``/models`` would list (any order) with the given ``nsfw`` flag."""
        return [r.id for r in self._recs.values() if r.n_versions and (nsfw or r.level & 1)]

    # ================================================================ internals

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("FakeHub is not started")

    def _localize(self, model: dict[str, Any]) -> None:
        prefixes = [PLACEHOLDER_IMAGE_BASE]
        if self.local_sample_images:
            prefixes += ["https://image.civitai.com", "https://imagecache.civitai.com"]

        def fix(url: Any) -> Any:
            if isinstance(url, str):
                for p in prefixes:
                    if url.startswith(p):
                        return self.base_url + url[len(p) :]
            return url

        creator = model.get("creator")
        if isinstance(creator, dict) and creator.get("image"):
            creator["image"] = fix(creator["image"])
        for v in model.get("modelVersions") or []:
            for img in v.get("images") or []:
                if "url" in img:
                    img["url"] = fix(img["url"])

    def _reset_indexes(self) -> None:
        self._recs.clear()
        self._indexed.clear()
        self._versions.clear()
        self._hashes.clear()
        self._gen += 1

    def _index(self, model: dict[str, Any]) -> None:
        mid = int(model["id"])
        versions = [v for v in model.get("modelVersions") or [] if isinstance(v, dict)]
        stats = model.get("stats") or {}
        bases = frozenset(str(v.get("baseModel")) for v in versions if v.get("baseModel"))
        last_ms = max((_version_ms(v) for v in versions), default=0)
        thumbs = stats.get("thumbsUpCount")
        if thumbs is None:  # 2023 shape
            thumbs = stats.get("favoriteCount") or 0
        creator = model.get("creator") or {}
        self._recs[mid] = _ModelRec(
            id=mid,
            level=_model_level(model),
            last_ms=last_ms,
            type=str(model.get("type")),
            bases=bases,
            tags_lc=tuple(str(t).lower() for t in model.get("tags") or []),
            user_lc=str(creator.get("username") or "").lower(),
            name_lc=str(model.get("name") or "").lower(),
            thumbs=int(thumbs or 0),
            downloads=int(stats.get("downloadCount") or 0),
            comments=int(stats.get("commentCount") or 0),
            collected=int(stats.get("collectedCount") or (thumbs or 0) // 4),
            n_images=sum(len(v.get("images") or []) for v in versions),
            n_versions=len(versions),
        )
        indexed: list[tuple[int, set[str]]] = []
        for v in versions:
            vid = int(v["id"])
            self._versions[vid] = (mid, v)
            self._unpublished.pop(vid, None)
            pub = _version_ms(v)
            keys = {
                h.upper() for f in v.get("files") or [] for h in (f.get("hashes") or {}).values() if isinstance(h, str)
            }
            for h in keys:
                lst = self._hashes.setdefault(h, [])
                lst.append((pub, vid))
                lst.sort()
            indexed.append((vid, keys))
        self._indexed[mid] = indexed
        self._gen += 1

    def _unindex(self, model_id: int) -> None:
        """Drop what ``_index`` recorded for the model (even if its dict was edited in place since)."""
        self._recs.pop(model_id, None)
        for vid, keys in self._indexed.pop(model_id, []):
            if self._versions.get(vid, (None,))[0] == model_id:
                del self._versions[vid]
            for h in keys:
                lst = self._hashes.get(h)
                if lst:
                    lst[:] = [e for e in lst if e[1] != vid]
                    if not lst:
                        del self._hashes[h]
        self._gen += 1

    def _add_sample_image_recs(self) -> None:
        self._sample_images = list(self._samples.images_2023) if self._samples else []
        self._gen += 1

    # -------------------------------------------------------------- derived, lazily rebuilt

    def _model_order(self, sort: str) -> _Order:
        key = (sort, self._gen)
        order = self._orders.get(key)
        if order is None:
            self._orders = {k: v for k, v in self._orders.items() if k[1] == self._gen}
            fields = _MODEL_SORT_KEYS[sort]
            ascending = sort == "Oldest"
            pairs = [
                (_sort_key(tuple(getattr(r, f) for f in fields), ascending), r.id)
                for r in self._recs.values()
                if r.n_versions
            ]
            order = self._orders[key] = _Order(pairs, ascending)
        return order

    def _ensure_images(self) -> None:
        if self._image_cache_gen == (self._gen, self._article_gen):
            return
        recs: dict[int, _ImageRec] = {}
        uuids: dict[str, tuple[int, int, str | None]] = {}
        for mid, model in self.models.items():
            creator = (model.get("creator") or {}).get("username")
            for v in model.get("modelVersions") or []:
                vid = int(v["id"])
                pub = _version_ms(v)
                for k, img in enumerate(v.get("images") or []):
                    iid = _image_id(img)
                    url = str(img.get("url") or "")
                    u = _uuid_of(url)
                    if u:
                        uuids[u] = (int(img.get("width") or 512), int(img.get("height") or 512), img.get("hash"))
                    recs[iid] = _ImageRec(
                        id=iid,
                        level=_image_level(img),
                        created_ms=pub - 3_600_000 + (iid % 3_000_000) - k,
                        post_id=vid * 8 + 3,
                        username=creator,
                        model_id=mid,
                        version_id=vid,
                        base_model=v.get("baseModel"),
                        type=str(img.get("type") or "image"),
                        stats=_image_stats(iid),
                        image=img,
                        meta=img.get("meta") if "meta" in img else None,
                    )
            avatar = (model.get("creator") or {}).get("image")
            if isinstance(avatar, str):
                u = _uuid_of(avatar)
                if u:
                    uuids.setdefault(u, (96, 96, None))
        for img in self._sample_images:
            iid = _image_id(img)
            stats = img.get("stats") or {}
            recs[iid] = _ImageRec(
                id=iid,
                level=_image_level(img),
                created_ms=parse_iso(img.get("createdAt")) or 0,
                post_id=int(img.get("postId") or 0),
                username=img.get("username"),
                model_id=None,
                version_id=None,
                base_model=img.get("baseModel"),
                type=str(img.get("type") or "image"),
                stats={
                    k: int(stats.get(k) or 0)
                    for k in ("cryCount", "laughCount", "likeCount", "dislikeCount", "heartCount", "commentCount")
                },
                image=img,
                meta=img.get("meta"),
            )
            u = _uuid_of(str(img.get("url") or ""))
            if u:
                uuids[u] = (int(img.get("width") or 512), int(img.get("height") or 512), img.get("hash"))
        for a in self.articles.values():
            cover = a.get("coverImage") or {}
            if a.get("cover"):
                uuids.setdefault(
                    str(a["cover"]),
                    (int(cover.get("width") or 1024), int(cover.get("height") or 1024), cover.get("hash")),
                )
        self._image_recs = recs
        self._uuid_index = uuids
        self._image_orders = {}
        self._image_cache_gen = (self._gen, self._article_gen)

    def _image_order(self, sort: str) -> _Order:
        self._ensure_images()
        order = self._image_orders.get(sort)
        if order is None:
            recs = self._image_recs.values()
            if sort == "Most Reactions":
                pairs = [((-r.reactions, -r.id), r.id) for r in recs]
            elif sort == "Most Comments":
                pairs = [((-r.stats["commentCount"], -r.id), r.id) for r in recs]
            elif sort == "Most Collected":
                pairs = [((-(r.stats["heartCount"] // 2), -r.id), r.id) for r in recs]
            elif sort == "Newest":
                pairs = [((-r.created_ms, -r.id), r.id) for r in recs]
            elif sort == "Oldest":
                pairs = [((r.created_ms, r.id), r.id) for r in recs]
            else:  # Random: a fixed shuffle so cursors stay valid
                pairs = [((-((r.id * 2654435761) % 1_000_003), -r.id), r.id) for r in recs]
            order = self._image_orders[sort] = _Order(pairs, sort == "Oldest")
        return order

    def _ensure_tags_creators(self) -> None:
        if self._derived_gen == self._gen:
            return
        tag_counts: Counter[str] = Counter()
        tag_names: dict[str, str] = {}
        creators: dict[str, list[Any]] = {}
        for mid, model in self.models.items():
            rec = self._recs.get(mid)
            if rec is None or not rec.n_versions:
                continue
            for t in model.get("tags") or []:
                low = str(t).lower()
                tag_names.setdefault(low, str(t))
                tag_counts[low] += 1
            creator = model.get("creator") or {}
            uname = creator.get("username")
            if uname:
                entry = creators.setdefault(uname.lower(), [uname, 0, creator.get("image")])
                entry[1] += 1
        self._tags = sorted(((tag_names[k], c) for k, c in tag_counts.items()), key=lambda x: (-x[1], x[0]))
        self._creators = sorted(((e[0], e[1], e[2]) for e in creators.values()), key=lambda x: (-x[1], x[0]))
        self._derived_gen = self._gen

    # -------------------------------------------------------------- HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get(f"{API}/models", self._h_models)
        r.add_get(f"{API}/models/{{id}}", self._h_model)
        r.add_post(f"{API}/model-versions/by-hash/ids", self._h_by_hash_ids)
        r.add_post(f"{API}/model-versions/by-hash", self._h_by_hash_bulk)
        r.add_get(f"{API}/model-versions/by-hash/{{hash}}", self._h_by_hash)
        r.add_get(f"{API}/model-versions/{{id}}", self._h_version)
        r.add_get(f"{API}/images", self._h_images)
        r.add_get(f"{API}/tags", self._h_tags)
        r.add_get(f"{API}/creators", self._h_creators)
        r.add_get(f"{API}/articles", self._h_articles)
        r.add_get(f"{API}/articles/{{id}}", self._h_article)
        r.add_route("*", f"{API}/me", self._h_me)
        r.add_route("*", f"{TRPC}/{{proc}}", self._h_trpc)
        r.add_get(f"/{CDN_PREFIX}/{{uuid}}/{{params}}/{{name}}", self._h_cdn)
        r.add_get(f"/{CDN_PREFIX}/{{uuid}}/{{name}}", self._h_cdn)
        r.add_route("*", "/{tail:.*}", self._h_unknown)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        arrived = time.monotonic()
        body = await request.read() if request.can_read_body else b""
        parsed: Any = None
        if body:
            with contextlib.suppress(ValueError):
                parsed = json.loads(body)
        rec = HubRequest(
            method=request.method,
            path=request.path,
            query=list(request.query.items()),
            headers=CIMultiDict(request.headers),
            json=parsed,
            time=arrived,
            body=body,
        )
        self.requests.append(rec)
        request[_JSON_KEY] = parsed
        try:
            resp = await self._dispatch(request, handler)
        except _ParamError as e:
            resp = self._json(400, e.body(), request=request)
        except _HttpError as e:
            resp = self._json(e.status, {"error": e.error}, request=request, headers=e.headers)
        except _TrpcError as e:
            body = _trpc_error_body(e.code, e.message, request.match_info.get("proc"))
            status = TRPC_CODES[e.code][1]
            resp = self._json(status, body, request=request, cache=CACHE_NO_STORE, headers=e.headers)
        except web.HTTPException as e:
            resp = self._json(e.status, {"error": e.reason}, request=request)
        except Exception:  # pragma: no cover - a bug in the fake
            log.exception("fake hub handler failed")
            resp = self._json(500, {"error": "Internal Server Error"}, request=request)
        rec.status = resp.status
        if self.samples_missing:
            self._note_standin_miss(request, resp)
        return resp

    def _note_standin_miss(self, request: web.Request, resp: web.StreamResponse) -> None:
        """Record what a test may have expected from the missing captures: a 404 on the API, or a
        name search (``/models?query=``) that no stand-in matches, whatever it was answered (an
        outage, too: the test may mean to find it in the bot's cache)."""
        if not request.path.startswith(API):
            return
        if resp.status == 404:
            STANDIN_MISSES.append(f"{request.method} {request.path}")
            return
        query = (request.query.get("query") or "").lower()
        if request.path == f"{API}/models" and query and not any(
            r.n_versions and (query in r.name_lc or query in r.user_lc or any(query in t for t in r.tags_lc))
            for r in self._recs.values()
        ):
            STANDIN_MISSES.append(f"a search for {request.query['query']!r}")

    async def _dispatch(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        path = request.path
        is_api = path.startswith("/api/")
        if is_api and self.down:
            return self._error(503, _DEFAULT_ERRORS[503], retry_after=self.down_retry_after, path=path)
        fault = self._take_fault(path, is_api)
        if fault is not None and fault.kind == "status":
            if fault.body is not None:
                resp = self._raw(fault.status, fault.body, cache=CACHE_NO_STORE)
                if fault.retry_after is not None:
                    resp.headers["Retry-After"] = fault.retry_after
                return resp
            message = _DEFAULT_ERRORS.get(fault.status, "Error")
            return self._error(fault.status, message, retry_after=fault.retry_after, path=path)
        if is_api:
            limited = self._rate_limited(request)
            if limited is not None:
                return limited
        resp = await handler(request)
        if fault is not None:  # malformed
            return self._malform(resp, fault.malformed_kind)
        return resp

    def _take_fault(self, path: str, is_api: bool) -> _Fault | None:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(path, is_api):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _rate_limited(self, request: web.Request) -> web.Response | None:
        """429 with ``Retry-After`` (whole seconds to the end of the window) once a client has used
        its family's budget: articles per key (``Authorization: Bearer`` or ``token=``) or per IP
        without one, models per IP. Each family and client has its own window."""
        path = request.path
        client = request.remote or "?"
        if path.startswith(f"{API}/articles"):
            if not self.articles_rate_limit:
                return None
            key = self._api_key(request)
            limit = self.articles_rate_limit
            if key:
                limit = self.articles_rate_limit_with_key or 2 * self.articles_rate_limit
            bucket, window, message = ("articles", f"key:{key}" if key else f"ip:{client}"), \
                self.articles_rate_window, "Rate limit exceeded"
        elif path.startswith((f"{API}/models", f"{API}/model-versions")):
            if not self.models_rate_limit:
                return None
            limit, window = self.models_rate_limit, self.models_rate_window
            bucket, message = ("models", f"ip:{client}"), _DEFAULT_ERRORS[429]
        elif path.startswith(f"{TRPC}/"):
            if not self.reviews_rate_limit:
                return None
            key = self._api_key(request)
            limit, window = self.reviews_rate_limit, self.reviews_rate_window
            bucket, message = ("trpc", f"key:{key}" if key else f"ip:{client}"), _DEFAULT_ERRORS[429]
        else:
            return None
        state = self._rate_windows.get(bucket)
        if state is None or state.limit != limit or state.window != window:
            state = self._rate_windows[bucket] = _RateWindow(limit, window)
        wait = state.hit(time.monotonic())
        if wait is None:
            return None
        return self._error(429, message, retry_after=str(max(1, math.ceil(wait))), path=path)

    @staticmethod
    def _api_key(request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.query.get("token", "")

    def _malform(self, resp: web.StreamResponse, kind: str) -> web.Response:
        body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b"{}"
        if kind == "truncated":
            data = body[: max(1, len(body) // 2)]
            if resp.content_type == "image/jpeg":  # a cut-off picture from the CDN
                return web.Response(body=data, headers={"Content-Type": "image/jpeg", "Cache-Control": CACHE_CDN})
        elif kind == "html":
            data = (
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
                b"<center><h1>502 Bad Gateway</h1></center><hr><center>cloudflare</center></body></html>"
            )
        elif kind == "empty":
            data = b""
        elif kind == "not_json":
            data = b"Internal error: upstream returned an unexpected response"
        else:  # wrong_shape
            try:
                original = json.loads(body)
            except ValueError:
                original = None
            if isinstance(original, dict) and "items" in original:
                shape: Any = {"items": {"0": None}, "metadata": "nextCursor=1"}
            elif isinstance(original, list):
                shape = {"error": None, "items": original[:0]}
            else:
                shape = ["unexpected", 42, None, {"id": "not-a-number"}]
            data = json.dumps(shape).encode()
        return self._raw(200, data, cache=CACHE_NO_STORE)

    def _cache_header(self, request: web.Request | None, default: str) -> str:
        if request is not None and ("Authorization" in request.headers or "token" in request.query):
            return CACHE_PRIVATE
        return default

    def _json(
        self,
        status: int,
        obj: Any,
        *,
        request: web.Request | None = None,
        cache: str = CACHE_PUBLIC,
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        resp = self._raw(status, data, cache=self._cache_header(request, cache))
        for k, v in (headers or {}).items():
            resp.headers[k] = v
        return resp

    @staticmethod
    def _raw(status: int, data: bytes, *, cache: str) -> web.Response:
        resp = web.Response(status=status, body=data)
        resp.headers["Content-Type"] = "application/json; charset=utf-8"
        resp.headers["Cache-Control"] = cache
        return resp

    def _error(
        self, status: int, message: str, *, retry_after: str | None = None, path: str | None = None
    ) -> web.Response:
        """A hub-like error: ``{"error": message}``, or a tRPC error envelope under ``/api/trpc/``."""
        headers = {"Retry-After": retry_after} if retry_after is not None else None
        if path is not None and path.startswith(f"{TRPC}/"):
            code = _TRPC_CODE_OF_STATUS.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "BAD_REQUEST")
            proc = path[len(TRPC) + 1 :]
            return self._json(status, _trpc_error_body(code, message, proc, status), cache=CACHE_NO_STORE,
                              headers=headers)
        cache = CACHE_NO_STORE if status >= 429 else CACHE_PUBLIC
        return self._json(status, {"error": message}, cache=cache, headers=headers)

    def _next_url(self, request: web.Request, **replace: Any) -> str:
        pairs = [(k, v) for k, v in request.query.items() if k not in replace]
        pairs += [(k, str(v)) for k, v in replace.items() if v is not None]
        return f"{self.base_url}{request.path}?{urlencode(pairs)}"

    # -------------------------------------------------------------- serializers

    def _list_model(self, model: dict[str, Any], *, nsfw: bool, primary_only: bool) -> dict[str, Any]:
        mode = model.get("mode")
        out = dict(model)
        versions = []
        for v in model.get("modelVersions") or []:
            nv = dict(v)
            files = v.get("files") or []
            if primary_only:
                files = [f for f in files if f.get("primary")] or files[:1]
            if mode in ("Archived", "TakenDown"):
                nv["files"] = []
                nv.pop("downloadUrl", None)
            else:
                nv["files"] = files
            if mode == "TakenDown":
                nv["images"] = []
            else:
                imgs = v.get("images") or []
                if not nsfw:
                    imgs = [i for i in imgs if _image_level(i) & 1]
                nv["images"] = imgs[:10]
            versions.append(nv)
        out["modelVersions"] = versions
        return out

    def _detail_model(self, model: dict[str, Any]) -> dict[str, Any]:
        out = dict(model)
        versions = []
        for v in model.get("modelVersions") or []:
            if "publishedAt" not in v:  # 2023 shape: as stored
                versions.append(v)
                continue
            nv: dict[str, Any] = {}
            for k, val in v.items():
                if k == "supportsGeneration":
                    nv["covered"] = val
                    continue
                if k == "images":
                    nv["images"] = [{ik: iv for ik, iv in img.items() if ik != "id"} for img in val or []]
                    continue
                if k == "publishedAt":
                    nv["createdAt"] = self._created_at(v)
                nv[k] = val
                if k == "publishedAt":
                    nv["status"] = "Published"
            if model.get("mode") in ("Archived", "TakenDown"):
                nv["files"] = []
                nv.pop("downloadUrl", None)
            if model.get("mode") == "TakenDown":
                nv["images"] = []
            versions.append(nv)
        out["modelVersions"] = versions
        return out

    @staticmethod
    def _created_at(version: dict[str, Any]) -> str:
        pub = _version_ms(version)
        return hub_data.iso_ms(max(0, pub - 600_000 - (int(version.get("id", 0)) % 7_200_000)))

    def _version_detail(self, model: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": model.get("name"),
            "type": model.get("type"),
            "nsfw": model.get("nsfw", False),
            "poi": model.get("poi", False),
        }
        if model.get("mode"):
            info["mode"] = model["mode"]
        if "publishedAt" not in version:  # 2023 shape (e.g. the captured version 1318)
            out: dict[str, Any] = {}
            for k, val in version.items():
                out[k] = val
                if k == "stats":
                    out["model"] = info
            out.setdefault("model", info)
            out.setdefault("modelId", model.get("id"))
            return out
        primary = next((f for f in version.get("files") or [] if f.get("primary")), None)
        if primary is None:
            raise _HttpError(404, "Missing model file")
        stats = version.get("stats") or {}
        vid = int(version["id"])
        images = []
        for img in (version.get("images") or [])[:10]:
            ni = {k: v for k, v in img.items() if k != "id"}
            ni["meta"] = (
                hub_data.image_meta(_image_id(img), model=model, version_id=vid, size=_size(img))
                if img.get("hasMeta")
                else None
            )
            images.append(ni)
        files = []
        for f in version.get("files") or []:
            nf = {k: v for k, v in f.items() if k != "primary"}
            nf["primary"] = f is primary
            files.append(nf)
        created = self._created_at(version)
        detail: dict[str, Any] = {
            "id": vid,
            "modelId": model.get("id"),
            "name": version.get("name"),
            "nsfwLevel": version.get("nsfwLevel"),
            "createdAt": created,
            "updatedAt": version.get("publishedAt"),
            "status": "Published",
            "availability": version.get("availability", "Public"),
            "publishedAt": version.get("publishedAt"),
            "trainedWords": version.get("trainedWords", []),
            "trainingStatus": None,
            "trainingDetails": None,
            "baseModel": version.get("baseModel"),
            "baseModelType": version.get("baseModelType"),
            "earlyAccessEndsAt": None,
            "earlyAccessConfig": None,
            "description": version.get("description"),
            "uploadType": "Created",
            "usageControl": "Download",
            "air": _air(model, version),
            "paidAccess": None,
            "stats": {"downloadCount": stats.get("downloadCount"), "thumbsUpCount": stats.get("thumbsUpCount", 0)},
            "model": info,
            "files": files,
            "images": images,
            "downloadUrl": version.get("downloadUrl", f"https://civitai.com/api/download/models/{vid}"),
        }
        if model.get("mode") in ("Archived", "TakenDown"):
            detail["files"] = []
            detail.pop("downloadUrl")
        return detail

    # -------------------------------------------------------------- /models

    async def _h_models(self, request: web.Request) -> web.Response:
        p = _Params(request)
        if any(k in request.query for k in ("favorites", "hidden")) and "Authorization" not in request.headers:
            raise _HttpError(401, "Unauthorized")
        limit = p.int("limit", 100, lo=0, hi=100)
        assert limit is not None
        page = p.int("page", None, lo=1)
        cursor = p.str("cursor")
        query = p.str("query")
        nsfw = bool(p.bool("nsfw"))
        primary_only = bool(p.bool("primaryFileOnly"))
        sort = p.enum("sort", MODEL_SORTS, "Highest Rated") or "Highest Rated"
        period = p.enum("period", PERIODS, "AllTime") or "AllTime"
        types = p.list("types")
        for t in types:
            if t not in ALL_MODEL_TYPES:
                raise _enum_error("types", list(ALL_MODEL_TYPES), t)
        bases = set(p.list("baseModels"))
        tag = (p.str("tag") or "").lower() or None
        username = (p.str("username") or "").lower() or None
        ids = set(p.ints("ids"))
        version_ids = set(p.ints("modelVersionIds"))
        using_paging = bool(page) and not cursor
        if using_paging and page is not None and page * limit > 1000:
            raise _HttpError(429, "You've requested too many pages, please use cursors instead")
        if query and page:
            raise _HttpError(400, "Cannot use page param with query search. Use cursor-based pagination.")

        min_ms = None
        if PERIODS[period]:
            min_ms = int((time.time() - PERIODS[period] * 86400) * 1000)
        type_set = set(types)
        q_lc = query.lower() if query else None
        versions = self._versions

        def match(r: _ModelRec) -> bool:
            if not r.n_versions:
                return False
            if not nsfw and not (r.level & 1):
                return False
            if type_set and r.type not in type_set:
                return False
            if bases and not (r.bases & bases):
                return False
            if tag is not None and tag not in r.tags_lc:
                return False
            if username is not None and r.user_lc != username:
                return False
            if ids and not query and r.id not in ids:
                return False
            if version_ids and not any(versions.get(v, (None,))[0] == r.id for v in version_ids):
                return False
            if min_ms is not None and r.last_ms < min_ms:
                return False
            return not (
                q_lc is not None and not (q_lc in r.name_lc or q_lc in r.user_lc or any(q_lc in t for t in r.tags_lc))
            )

        items: list[_ModelRec]
        metadata: dict[str, Any] = {}
        if q_lc is not None:
            offset = 0
            if cursor:
                with contextlib.suppress(ValueError):
                    offset = max(0, int(cursor))
            order = self._model_order(sort)
            hits = [self._recs[i] for i in order.ids if match(self._recs[i])]
            hits.sort(key=lambda r: _relevance(r, q_lc))  # stable: keeps `sort` order within a bucket
            items = hits[offset : offset + limit] if limit else []
            if limit and len(hits) > offset + limit:
                metadata["nextCursor"] = str(offset + limit)
        else:
            order = self._model_order(sort)
            start = 0
            if cursor:
                start = bisect_right(order.keys, _parse_cursor(cursor, len(_MODEL_SORT_KEYS[sort]), order.ascending))
            items, next_key = self._page(
                order,
                self._recs,
                start,
                limit,
                lambda i: match(self._recs[i]),
                skip=(page - 1) * limit if using_paging and page else 0,
                skip_first=self.cursor_skip_bug and bool(cursor),
                filter_after_paging=self.empty_pages,
            )
            if next_key is not None:
                metadata["nextCursor"] = _format_cursor(next_key, order.ascending)
        if metadata.get("nextCursor") is not None:
            if using_paging:
                metadata["nextPage"] = self._next_url(request, page=(page or 1) + 1)
            else:
                metadata["nextPage"] = self._next_url(request, cursor=metadata["nextCursor"])
        if using_paging:
            metadata["currentPage"] = page
            metadata["pageSize"] = limit
        body = {
            "items": [self._list_model(self.models[r.id], nsfw=nsfw, primary_only=primary_only) for r in items],
            "metadata": metadata,
        }
        return self._json(200, body, request=request)

    def _page(
        self,
        order: _Order,
        recs: dict[int, Any],
        start: int,
        limit: int,
        pred: Callable[[int], bool],
        *,
        skip: int = 0,
        skip_first: bool = False,
        filter_after_paging: bool = False,
    ) -> tuple[list[Any], tuple[int, ...] | None]:
        """Keyset page from ``start``: up to ``limit`` matching records and the key to continue
        after, or ``None`` at the end."""
        ids, keys = order.ids, order.keys
        n = len(ids)
        if limit == 0:
            return [], None
        if filter_after_paging:
            # civitai#1848: filters applied after taking the page; pages may be empty
            i = min(n, start + skip)
            window = range(i, min(n, i + limit))
            got = [recs[ids[j]] for j in window if pred(ids[j])]
            if skip_first and got:
                got = got[1:]
            end = i + limit
            return got, (keys[end - 1] if end < n else None)
        out: list[Any] = []
        i = start
        skipped = 0
        dropped_first = not skip_first
        last = -1
        while i < n:
            if pred(ids[i]):
                if not dropped_first:
                    dropped_first = True  # civitai#1372: the first item after the cursor is lost
                elif skipped < skip:
                    skipped += 1
                elif len(out) < limit:
                    out.append(recs[ids[i]])
                    last = i
                else:
                    return out, keys[last]  # another match exists
            i += 1
        return out, None

    async def _h_model(self, request: web.Request) -> web.Response:
        mid = _path_id(request.match_info["id"])
        model = self.models.get(mid)
        if model is None:
            raise _HttpError(404, f"No model with id {mid}")
        return self._json(200, self._detail_model(model), request=request)

    # -------------------------------------------------------------- /model-versions

    async def _h_version(self, request: web.Request) -> web.Response:
        vid = _path_id(request.match_info["id"])
        hit = self._versions.get(vid)
        if hit is None or hit[0] not in self.models:
            raise _HttpError(404, "Model not found")
        return self._json(200, self._version_detail(self.models[hit[0]], hit[1]), request=request)

    def _lookup_hash(self, h: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        for _pub, vid in self._hashes.get(h.strip().upper(), []):
            hit = self._versions.get(vid)
            if hit and hit[0] in self.models:
                return self.models[hit[0]], hit[1]
        return None

    async def _h_by_hash(self, request: web.Request) -> web.Response:
        found = self._lookup_hash(request.match_info["hash"])
        if found is None:
            raise _HttpError(404, "Model not found")
        return self._json(200, self._version_detail(*found), request=request, cache=CACHE_BY_HASH)

    def _hash_body(self, request: web.Request, maximum: int) -> list[str]:
        body = request.get(_JSON_KEY)
        if not isinstance(body, list) or not all(isinstance(h, str) for h in body):
            raise _ParamError(
                [
                    _issue(
                        "invalid_type", [], "Expected array of strings", expected="array", received=type(body).__name__
                    )
                ]
            )
        if len(body) > maximum:
            raise _ParamError(
                [
                    _issue(
                        "too_big",
                        [],
                        f"Array must contain at most {maximum} element(s)",
                        maximum=maximum,
                        type="array",
                        inclusive=True,
                        exact=False,
                    )
                ]
            )
        return body

    async def _h_by_hash_bulk(self, request: web.Request) -> web.Response:
        hashes = self._hash_body(request, 100)
        out, seen = [], set()
        for h in hashes:
            found = self._lookup_hash(h)
            if found and found[1]["id"] not in seen:
                seen.add(found[1]["id"])
                with contextlib.suppress(_HttpError):
                    out.append(self._version_detail(*found))
        return self._json(200, out, request=request, cache=CACHE_NO_STORE)

    async def _h_by_hash_ids(self, request: web.Request) -> web.Response:
        hashes = self._hash_body(request, 10_000)
        out = []
        for h in hashes:
            found = self._lookup_hash(h)
            if found:
                out.append({"modelVersionId": found[1]["id"], "modelId": found[0]["id"], "hash": h.strip().upper()})
        return self._json(200, out, request=request, cache=CACHE_NO_STORE)

    # -------------------------------------------------------------- /images

    async def _h_images(self, request: web.Request) -> web.Response:
        p = _Params(request)
        limit = p.int("limit", 100, lo=0, hi=200)
        assert limit is not None
        page = p.int("page", None, lo=1)
        cursor = p.str("cursor")
        sort = p.enum("sort", IMAGE_SORTS, "Most Reactions") or "Most Reactions"
        period = p.enum("period", PERIODS, "AllTime") or "AllTime"
        browsing = p.int("browsingLevel", None, lo=0, hi=63)
        nsfw_raw = p.str("nsfw")
        if browsing is None:
            if nsfw_raw is None:
                browsing = 1
            elif nsfw_raw.lower() in IMAGES_NSFW_PARAM:
                browsing = IMAGES_NSFW_PARAM[nsfw_raw.lower()]
            else:
                raise _enum_error("nsfw", ["None", "Soft", "Mature", "X", "true", "false"], nsfw_raw)
        with_meta = bool(p.bool("withMeta"))
        version_id = p.int("modelVersionId", None)
        model_id = p.int("modelId", None)
        post_id = p.int("postId", None)
        image_id = p.int("imageId", None)
        username = (p.str("username") or "").lower() or None
        itype = p.str("type")
        bases = set(p.list("baseModels"))
        using_paging = bool(page) and not cursor
        if using_paging and page is not None and page * limit > 1000:
            raise _HttpError(429, "You've requested too many pages, please use cursors instead")
        if model_id is not None and version_id is None and sort not in ("Newest", "Oldest"):
            sort = "Newest"  # legacy modelId path: engagement sorts collapse to newest
        min_ms = int((time.time() - PERIODS[period] * 86400) * 1000) if PERIODS[period] else None

        order = self._image_order(sort)
        recs = self._image_recs

        def match(iid: int) -> bool:
            r = recs[iid]
            if not (r.level & browsing):
                return False
            if version_id is not None and r.version_id != version_id:
                return False
            if model_id is not None and r.model_id != model_id:
                return False
            if post_id is not None and r.post_id != post_id:
                return False
            if image_id is not None and r.id != image_id:
                return False
            if username is not None and (r.username or "").lower() != username:
                return False
            if itype is not None and r.type != itype:
                return False
            if bases and r.base_model not in bases:
                return False
            return not (min_ms is not None and r.created_ms < min_ms)

        start = 0
        if cursor:
            start = bisect_right(order.keys, _parse_cursor(cursor, 2, order.ascending))
        items, next_key = self._page(
            order, recs, start, limit, match, skip=(page - 1) * limit if using_paging and page else 0
        )
        metadata: dict[str, Any] = {}
        if next_key is not None:
            metadata["nextCursor"] = _format_cursor(next_key, order.ascending)
            metadata["nextPage"] = (
                self._next_url(request, page=(page or 1) + 1)
                if using_paging
                else self._next_url(request, cursor=metadata["nextCursor"])
            )
        if using_paging:
            metadata["currentPage"] = page
            metadata["pageSize"] = limit
        body = {"items": [self._image_item(r, with_meta) for r in items], "metadata": metadata}
        return self._json(200, body, request=request)

    def _image_item(self, r: _ImageRec, with_meta: bool) -> dict[str, Any]:
        img = r.image
        meta = None
        if with_meta:
            if r.meta is not None:
                meta = r.meta
            elif img.get("hasMeta") and r.model_id is not None:
                meta = hub_data.image_meta(
                    r.id, model=self.models.get(r.model_id), version_id=r.version_id, size=_size(img)
                )
        return {
            "id": r.id,
            "url": img.get("url"),
            "hash": img.get("hash"),
            "width": img.get("width"),
            "height": img.get("height"),
            "type": r.type,
            "createdAt": hub_data.iso_ms(r.created_ms),
            "postId": r.post_id,
            "nsfwLevel": level_to_string(r.level),
            "nsfw": r.level >= 4,
            "browsingLevel": r.level,
            "stats": dict(r.stats),
            "meta": meta,
            "username": r.username,
            "baseModel": r.base_model,
            "modelVersionIds": [r.version_id] if r.version_id is not None else [],
        }

    # -------------------------------------------------------------- /tags, /creators

    def _page_meta(self, request: web.Request, total: int, page: int, limit: int) -> dict[str, Any]:
        pages = math.ceil(total / limit) if limit else 0
        meta: dict[str, Any] = {"totalItems": total, "currentPage": page, "pageSize": limit, "totalPages": pages}
        if page < pages:
            meta["nextPage"] = self._next_url(request, page=page + 1, limit=limit)
        if page > 1:
            meta["prevPage"] = self._next_url(request, page=page - 1, limit=limit)
        return meta

    async def _h_tags(self, request: web.Request) -> web.Response:
        p = _Params(request)
        limit = p.int("limit", 20, lo=1, hi=200) or 20
        page = p.int("page", 1, lo=1) or 1
        q = (p.str("query") or "").lower()
        self._ensure_tags_creators()
        tags = [t for t in self._tags if q in t[0].lower()] if q else self._tags
        chunk = tags[(page - 1) * limit : page * limit]
        items = [{"name": name, "link": f"{self.base_url}{API}/models?tag={name}"} for name, _c in chunk]
        return self._json(
            200, {"items": items, "metadata": self._page_meta(request, len(tags), page, limit)}, request=request
        )

    async def _h_creators(self, request: web.Request) -> web.Response:
        p = _Params(request)
        limit = p.int("limit", 20, lo=1, hi=200) or 20
        page = p.int("page", 1, lo=1) or 1
        q = (p.str("query") or "").lower()
        self._ensure_tags_creators()
        creators = [c for c in self._creators if q in c[0].lower()] if q else self._creators
        chunk = creators[(page - 1) * limit : page * limit]
        items = []
        for name, count, image in chunk:
            item: dict[str, Any] = {"username": name}
            if count:
                item["modelCount"] = count
            item["link"] = f"{self.base_url}{API}/models?username={name}"
            if image:
                item["image"] = image
            items.append(item)
        return self._json(
            200, {"items": items, "metadata": self._page_meta(request, len(creators), page, limit)}, request=request
        )

    # -------------------------------------------------------------- /articles

    def _article_order(self, sort: str) -> _Order:
        key = (sort, self._article_gen)
        order = self._article_orders.get(key)
        if order is None:
            pairs = []
            for a in self.articles.values():
                s = a.get("stats") or {}
                if sort == "Newest":
                    v = (parse_iso(a.get("publishedAt")) or 0) // 1000
                elif sort == "Recently Updated":
                    v = (parse_iso(a.get("updatedAt")) or 0) // 1000
                elif sort == "Most Reactions":
                    v = sum(int(s.get(k) or 0) for k in ("likeCount", "heartCount", "laughCount", "cryCount"))
                elif sort == "Most Comments":
                    v = int(s.get("commentCount") or 0)
                elif sort == "Most Bookmarks":
                    v = int(s.get("favoriteCount") or 0)
                else:
                    v = int(s.get("collectedCount") or 0)
                pairs.append(((-v, -int(a["id"])), int(a["id"])))
            order = _Order(pairs, False)
            self._article_orders = {key: order}
        return order

    async def _h_articles(self, request: web.Request) -> web.Response:
        p = _Params(request)
        limit = p.int("limit", 100, lo=1, hi=100) or 100
        cursor = p.str("cursor")
        query = (p.str("query") or "").lower() or None
        tag_ids = set(p.ints("tags"))
        username = (p.str("username") or "").lower() or None
        sort = p.enum("sort", ARTICLE_SORTS, "Newest") or "Newest"
        nsfw = bool(p.bool("nsfw"))
        order = self._article_order(sort)
        start = bisect_right(order.keys, _parse_cursor(cursor, 2, False)) if cursor else 0
        out: list[dict[str, Any]] = []
        next_key = None
        last = -1
        for i in range(start, len(order.ids)):
            a = self.articles[order.ids[i]]
            if not nsfw and a.get("nsfwLevel") != 1:
                continue
            if query and query not in str(a.get("title", "")).lower():
                continue
            if tag_ids and not tag_ids & {t.get("id") for t in a.get("tags") or []}:
                continue
            if username and str((a.get("user") or {}).get("username", "")).lower() != username:
                continue
            if len(out) == limit:
                next_key = order.keys[last]
                break
            out.append(a)
            last = i
        metadata: dict[str, Any] = {}
        if next_key is not None:
            metadata["nextCursor"] = _format_cursor(next_key, False)
            metadata["nextPage"] = self._next_url(request, cursor=metadata["nextCursor"])
        return self._json(200, {"items": out, "metadata": metadata}, request=request)

    async def _h_article(self, request: web.Request) -> web.Response:
        aid = _path_id(request.match_info["id"])
        article = self.articles.get(aid)
        if article is None:
            raise _HttpError(404, f"No article with id {aid}")
        detail = hub_data.article_detail(article, image_base=self.base_url, content=self.article_contents.get(aid))
        if int(article.get("nsfwLevel") or 1) > 1:  # the cover is dropped above the public level
            detail.pop("cover", None)
            detail.pop("coverImage", None)
        return self._json(200, detail, request=request)

    # -------------------------------------------------------------- CDN

    async def _h_cdn(self, request: web.Request) -> web.Response:
        uuid = request.match_info["uuid"]
        status = self.image_status.get(uuid)
        if status is not None and status != 200:
            return self._json(status, {"error": _DEFAULT_ERRORS.get(status, "Error")}, cache=CACHE_NO_STORE)
        if uuid in self.huge_images:
            data = _bomb_jpeg()
            return web.Response(body=data, headers={"Content-Type": "image/jpeg", "Cache-Control": CACHE_CDN})
        self._ensure_images()
        width_param = None
        for part in request.match_info.get("params", "").split(","):
            if part.startswith("width="):
                with contextlib.suppress(ValueError):
                    width_param = int(part[6:])
        known = self._uuid_index.get(uuid)
        w0, h0, bh = known if known else (512, 512, None)
        serve_w = max(1, min(w0, width_param or self.max_image_width, self.max_image_width))
        serve_h = max(1, round(serve_w * h0 / w0))
        data = self._render_jpeg(uuid, serve_w, serve_h, bh)
        return web.Response(body=data, headers={"Content-Type": "image/jpeg", "Cache-Control": CACHE_CDN})

    def _render_jpeg(self, uuid: str, w: int, h: int, blurhash: str | None) -> bytes:
        key = (uuid, w, h)
        cached = self._jpeg_cache.get(key)
        if cached is not None:
            self._jpeg_cache.move_to_end(key)
            return cached
        img = None
        if blurhash:
            from bot.media.blurhash import decode

            try:
                sw = 32
                sh = max(1, min(96, round(32 * h / w)))
                img = decode(blurhash, sw, sh).resize((w, h), Image.Resampling.BICUBIC)
            except ValueError:
                img = None
        if img is None:
            digest = hashlib.md5(uuid.encode()).digest()
            c1 = tuple(digest[0:3])
            c2 = tuple(digest[3:6])
            img = Image.linear_gradient("L").resize((w, h))
            img = Image.composite(Image.new("RGB", (w, h), c1), Image.new("RGB", (w, h), c2), img)  # type: ignore[arg-type]
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=82)
        data = buf.getvalue()
        self._jpeg_cache[key] = data
        if len(self._jpeg_cache) > 512:
            self._jpeg_cache.popitem(last=False)
        return data

    # -------------------------------------------------------------- /me and tRPC writes

    def _session(self, request: web.Request) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """(key, key entry, user) for the request's key; ``None`` without one, for an unknown or
        revoked key, or for a banned member (hub-api.md §1: banned users get no session)."""
        key = self._api_key(request)
        entry = self.api_keys.get(key) if key else None
        user = self.users.get(entry["userId"]) if entry else None
        if entry is None or user is None or user["status"] == "banned":
            return None
        return key, entry, user

    async def _h_me(self, request: web.Request) -> web.Response:
        # S1 AuthedEndpoint: the method is checked first, then the session
        if request.method != "GET":
            raise _HttpError(405, "Method not allowed")
        session = self._session(request)
        if session is None:
            return self._json(401, {"error": "Unauthorized"}, request=request, cache=CACHE_NO_STORE)
        _key, entry, user = session
        tier = user["tier"]
        body: dict[str, Any] = {
            "id": user["id"],
            "username": user["username"],
            "tier": tier,
            "status": user["status"],
            "isMember": bool(tier) and tier != "free",
            "subscriptions": list(user["subscriptions"]),
        }
        if _has_scope(entry["scope"], TOKEN_SCOPES["UserRead"]):
            body["isModerator"] = bool(user["isModerator"])
        body["tokenScope"] = entry["scope"]
        body["buzzLimit"] = None
        return self._json(200, body, request=request, cache=CACHE_PRIVATE)

    async def _h_trpc(self, request: web.Request) -> web.Response:
        proc = request.match_info["proc"]
        if proc != "resourceReview.upsert":
            kind = "query" if request.method == "GET" else "mutation"
            raise _TrpcError("NOT_FOUND", f'No "{kind}"-procedure on path "{proc}"')
        if request.method != "POST":
            message = f'Unsupported {request.method}-request to mutation procedure at path "{proc}"'
            raise _TrpcError("METHOD_NOT_SUPPORTED", message)
        # middlewares in S1's order: origin (a Bearer key), token scope, authed, muted; then the input
        if not self._api_key(request):
            raise _TrpcError("UNAUTHORIZED", TRPC_NO_TOKEN)
        session = self._session(request)
        if session is None:
            raise _TrpcError("UNAUTHORIZED")
        key, entry, user = session
        if not _has_scope(entry["scope"], TOKEN_SCOPES["SocialWrite"]):
            raise _TrpcError("FORBIDDEN", TRPC_NO_SCOPE)
        if user["status"] == "muted":
            raise _TrpcError("FORBIDDEN", TRPC_MUTED)
        raw = await request.read()
        try:
            envelope = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise _TrpcError("PARSE_ERROR", f"Unexpected token in JSON: {e.msg}") from None
        data = envelope.get("json") if isinstance(envelope, dict) else None
        review_id, model_id, version_id, rating, recommended, details = _review_input(data)
        if review_id is not None:
            owner = self.reviews.get(review_id)
            if owner is None or owner["userId"] != user["id"]:
                raise _TrpcError("UNAUTHORIZED", "You are not authorized to perform this action")
        hit = self._versions.get(version_id)
        if hit is None or hit[0] not in self.models or hit[0] != model_id:
            code = self.review_access_error
            message = TRPC_NO_ACCESS if code != "NOT_FOUND" else f"No model version {version_id} of model {model_id}"
            raise _TrpcError(code, message)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        row = self.review_by(user["id"], version_id)
        action = "updated" if row is not None else "created"
        if row is None:
            row = {
                "id": self._next_review_id,
                "modelId": model_id,
                "modelVersionId": version_id,
                "rating": rating,
                "recommended": recommended,
                "details": details,
                "userId": user["id"],
                "createdAt": now,
                "updatedAt": now,
                "exclude": False,
                "nsfw": False,
                "tosViolation": False,
                "metadata": None,
            }
            self._next_review_id += 1
            self.reviews[row["id"]] = row
        else:
            row.update(modelId=model_id, rating=rating, recommended=recommended, details=details, updatedAt=now)
        self.review_posts.append({**row, "action": action, "username": user["username"], "apiKey": key})
        # superjson: dates go as ISO strings, with meta saying which fields were Dates
        meta = {"values": {"createdAt": ["Date"], "updatedAt": ["Date"]}}
        body = {"result": {"data": {"json": dict(row), "meta": meta}}}
        return self._json(200, body, request=request, cache=CACHE_NO_STORE)

    async def _h_unknown(self, request: web.Request) -> web.Response:
        return self._json(404, {"error": "Not found"}, request=request, cache=CACHE_NO_STORE)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _path_id(raw: str) -> int:
    try:
        value = float(raw)
        if not value.is_integer():
            raise ValueError
        ivalue = int(value)
    except (ValueError, OverflowError):
        raise _ParamError(
            [_issue("invalid_type", ["id"], "Expected number, received nan", expected="number", received="nan")]
        ) from None
    if ivalue < 1 or ivalue > MAX_INT32:
        raise _ParamError(
            [
                _issue(
                    "too_big" if ivalue > 0 else "too_small",
                    ["id"],
                    "Number must be between 1 and 2147483647",
                    type="number",
                    inclusive=True,
                    exact=False,
                    **{"maximum" if ivalue > 0 else "minimum": MAX_INT32 if ivalue > 0 else 1},
                )
            ]
        )
    return ivalue


def _zod_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _review_input(
    data: Any,
) -> tuple[int | None, int, int, int, bool, str | None]:
    """Validate ``resourceReview.upsert``'s input as its zod schema would (hub-api.md §11:
    ``{id?, modelId, modelVersionId, rating:int, recommended:bool, details?: HTML}``), plus the
    thumbs rule the hub's UI keeps: ``rating`` 5 with ``recommended`` true, 1 with false. Raises a
    BAD_REQUEST whose message is the zod issues as JSON, as tRPC answers an input error."""
    issues: list[dict[str, Any]] = []
    if not isinstance(data, dict):
        received = "undefined" if data is None else _zod_type(data)
        message = "Required" if data is None else f"Expected object, received {received}"
        issues.append(_issue("invalid_type", [], message, expected="object", received=received))
        raise _TrpcError("BAD_REQUEST", json.dumps(issues, indent=2))

    def field(name: str, expected: str, *, optional: bool = False, nullable: bool = False) -> Any:
        if name not in data:
            if not optional:
                issues.append(_issue("invalid_type", [name], "Required", expected=expected, received="undefined"))
            return None
        value = data[name]
        if value is None and nullable:
            return None
        got = _zod_type(value)
        if got != expected:
            issues.append(_issue("invalid_type", [name], f"Expected {expected}, received {got}",
                                 expected=expected, received=got))
            return None
        if expected == "number" and not float(value).is_integer():
            issues.append(_issue("invalid_type", [name], "Expected integer, received float",
                                 expected="integer", received="float"))
            return None
        return value

    review_id = field("id", "number", optional=True)
    model_id = field("modelId", "number")
    version_id = field("modelVersionId", "number")
    rating = field("rating", "number")
    recommended = field("recommended", "boolean")
    details = field("details", "string", optional=True, nullable=True)
    if not issues and (rating, recommended) not in ((5, True), (1, False)):
        issues.append(_issue("custom", ["rating"], "rating is 5 with recommended true, 1 with recommended false"))
    if issues:
        raise _TrpcError("BAD_REQUEST", json.dumps(issues, indent=2))
    return (
        None if review_id is None else int(review_id),
        int(model_id),
        int(version_id),
        int(rating),
        bool(recommended),
        details,
    )


def _scope_mask(scopes: Iterable[str] | int | None) -> int:
    if scopes is None:
        return TOKEN_SCOPES["Full"]
    if isinstance(scopes, int):
        return scopes
    if isinstance(scopes, str):
        scopes = [scopes]
    mask = 0
    for name in scopes:
        if name not in TOKEN_SCOPES:
            raise ValueError(f"unknown scope {name!r} (one of {', '.join(TOKEN_SCOPES)})")
        mask |= TOKEN_SCOPES[name]
    return mask


def _has_scope(mask: int, required: int) -> bool:
    """The hub's check: a Full key passes everything, else every required bit must be set."""
    return mask == TOKEN_SCOPES["Full"] or mask & required == required


def _size(image: dict[str, Any]) -> tuple[int, int] | None:
    w, h = image.get("width"), image.get("height")
    return (w, h) if isinstance(w, int) and isinstance(h, int) else None


def _relevance(r: _ModelRec, q: str) -> int:
    if r.name_lc == q:
        return 0
    if r.name_lc.startswith(q):
        return 1
    if q in r.name_lc:
        return 2
    if q in r.tags_lc:
        return 3
    if any(q in t for t in r.tags_lc):
        return 4
    return 5


# fmt: off
_AIR_ECO = {
    "SD 1.5": "sd1", "SD 1.4": "sd1", "SD 2.1": "sd2", "SDXL 1.0": "sdxl", "Pony": "sdxl",
    "Illustrious": "sdxl", "NoobAI": "sdxl", "SDXL Lightning": "sdxl", "SDXL Turbo": "sdxl",
    "Flux.1 D": "flux1", "Flux.1 S": "flux1", "SD 3.5": "sd3", "Hunyuan Video": "hyv1",
    "Wan Video": "wanvideo",
}
# fmt: on
_AIR_TYPE = {"TextualInversion": "embedding", "LoCon": "lycoris", "DoRA": "lycoris"}


def _air(model: dict[str, Any], version: dict[str, Any]) -> str:
    eco = _AIR_ECO.get(str(version.get("baseModel")), "other")
    mtype = _AIR_TYPE.get(str(model.get("type")), str(model.get("type", "other")).lower())
    return f"urn:air:{eco}:{mtype}:civitai:{model.get('id')}@{version.get('id')}"


_BOMB: bytes | None = None


def _bomb_jpeg() -> bytes:
    """A small JPEG whose SOF header declares 65000x65000 pixels (a decompression bomb)."""
    global _BOMB
    if _BOMB is None:
        buf = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 40, 40)).save(buf, "JPEG", quality=50)
        data = bytearray(buf.getvalue())
        i = 2
        while i < len(data) - 9:
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            seg_len = (data[i + 2] << 8) | data[i + 3]
            if marker in (0xC0, 0xC1, 0xC2):
                data[i + 5 : i + 7] = (65000).to_bytes(2, "big")  # height
                data[i + 7 : i + 9] = (65000).to_bytes(2, "big")  # width
                break
            i += 2 + seg_len
        _BOMB = bytes(data)
    return _BOMB


# ------------------------------------------------------------------------------------------------
# standalone
# ------------------------------------------------------------------------------------------------


async def _serve(args: Any) -> None:
    hub = FakeHub(
        samples=not args.no_samples,
        generated=args.generated,
        seed=args.seed,
        articles=args.articles,
        host=args.host,
        port=args.port,
        local_sample_images=True,
    )
    hub.delay = args.delay
    await hub.start()
    print(
        f"fake hub listening on {hub.base_url}  (API: {hub.base_url}{API}; "
        f"{len(hub.models)} models, {len(hub.articles)} articles) -- Ctrl-C to stop",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await hub.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.hub_server --port 8081 --generated 500``"""
    import argparse

    parser = argparse.ArgumentParser(description="Run the fake Civitai hub on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--generated", type=int, default=500, help="generated models (2025 shape)")
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    parser.add_argument("--no-samples", action="store_true", help="leave out the captured real responses")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
