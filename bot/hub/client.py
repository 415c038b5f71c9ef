"""The hub's public REST API, over one shared httpx client.

* retries 5xx and transport errors with exponential backoff and jitter; never retries
  400/401/403/404/410;
* one rate gate per rate-limit family (articles and collections share a bucket at the hub, /images
  has its own bulkhead, the rest share the edge limits): a 429 or a 503 closes it until
  ``Retry-After`` (seconds or an HTTP date; at least a growing backoff) for every caller. Inside
  the window no request is sent; callers wait for the gate if it opens within a few seconds, else
  fail at once with ``HubRateLimited``/``HubUnavailable`` and serve their cache;
* caps concurrent requests (``hub.max_concurrency``) and sets timeouts;
* names the bot in ``User-Agent`` and sends ``Authorization: Bearer`` when a key is set;
* turns failures into the typed errors of ``bot.hub.errors``;
* keeps a small health record (last success, last error) for ``/status``.

The API key is never put in a URL, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot import __version__
from bot.hub.errors import (
    HubBadResponse,
    HubError,
    HubNotFound,
    HubRateLimited,
    HubRequestRejected,
    HubUnavailable,
)
from bot.hub.models import (
    Article,
    Creator,
    HubAccount,
    Image,
    Model,
    ModelVersion,
    Page,
    Tag,
    as_int,
    is_hash_like,
    normalize_hash,
    parse_items,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
TRPC_REVIEW_UPSERT = "/api/trpc/resourceReview.upsert"  # internal, not a stable contract (hub-api.md §11)
USER_AGENT = f"hubbot/{__version__} (Discord community bot; +https://github.com/)"
MAX_MODEL_ID = 2_147_483_647
MODEL_SORTS = ("Highest Rated", "Most Downloaded", "Most Liked", "Most Discussed", "Most Collected",
               "Most Images", "Newest", "Oldest")
PERIODS = ("AllTime", "Year", "Month", "Week", "Day")
ARTICLE_SORTS = ("Newest", "Recently Updated", "Most Reactions", "Most Comments", "Most Bookmarks",
                 "Most Collected")
Params = list[tuple[str, str]]
THREAD_DECODE_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class ModelQuery:
    """The filters of one ``GET /models`` request, hashable so that equal queries coalesce.

    ``key()`` is a canonical text form: two subscriptions with the same filters (in any order)
    produce the same key, so the feed poller asks the hub once for both."""

    query: str | None = None
    types: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    tag: str | None = None
    username: str | None = None
    sort: str | None = None
    period: str | None = None
    nsfw: bool | None = None
    ids: tuple[int, ...] = ()
    primary_file_only: bool | None = None

    def normalized(self) -> ModelQuery:
        return ModelQuery(
            query=(self.query or "").strip() or None,
            types=tuple(sorted(set(self.types))),
            base_models=tuple(sorted(set(self.base_models))),
            tag=(self.tag or "").strip() or None,
            username=(self.username or "").strip() or None,
            sort=self.sort,
            period=self.period,
            nsfw=self.nsfw,
            ids=tuple(sorted(set(self.ids))),
            primary_file_only=self.primary_file_only,
        )

    def params(self, *, cursor: str | None = None, limit: int = 100) -> Params:
        q = self.normalized()
        if q.sort is not None and q.sort not in MODEL_SORTS:
            raise ValueError(f"unknown sort {q.sort!r}")
        if q.period is not None and q.period not in PERIODS:
            raise ValueError(f"unknown period {q.period!r}")
        params: Params = [("limit", str(max(1, min(100, limit))))]
        if q.query:
            params.append(("query", q.query))
        params += [("types", t) for t in q.types]  # repeated: the hub does not split commas
        params += [("baseModels", b) for b in q.base_models]
        if q.tag:
            params.append(("tag", q.tag))
        if q.username:
            params.append(("username", q.username))
        if q.sort:
            params.append(("sort", q.sort))
        if q.period:
            params.append(("period", q.period))
        if q.nsfw is not None:
            params.append(("nsfw", "true" if q.nsfw else "false"))
        if q.ids:
            params.append(("ids", ",".join(str(i) for i in q.ids)))
        if q.primary_file_only is not None:
            params.append(("primaryFileOnly", "true" if q.primary_file_only else "false"))
        if cursor:
            params.append(("cursor", cursor))
        return params

    def key(self) -> str:
        return json.dumps(self.params(limit=100), separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class HubHealth:
    """What ``/status`` reports about the hub."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_success_at: float | None = None  # wall-clock seconds
    last_error: str | None = None
    last_error_at: float | None = None
    last_latency_ms: float | None = None
    recent_statuses: list[int] = field(default_factory=list)

    def record_success(self, latency: float) -> None:
        self.last_success_at = time.time()
        self.consecutive_failures = 0
        self.last_latency_ms = latency * 1000

    def record_failure(self, message: str) -> None:
        self.failures += 1
        self.consecutive_failures += 1
        self.last_error = message
        self.last_error_at = time.time()

    @property
    def healthy(self) -> bool:
        return self.consecutive_failures == 0


#: Rate-limit families: the articles endpoints have their own bucket at the hub (60 requests a minute
#: per IP without a key, 120 with one; hub-api.md §7); everything else shares the hub's edge limits.
ARTICLES_FAMILY = "articles"  # also /collections: one fixed-window bucket per family at the hub
IMAGES_FAMILY = "images"  # /images has its own bulkhead (503 + Retry-After when full)
DEFAULT_FAMILY = "hub"


def limit_family(path: str) -> str:
    """The rate-limit family of an API path (relative to ``/api/v1``): a 429 or 503 there pauses the
    callers of that family only."""
    head = "/" + path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
    if head in ("/articles", "/collections"):
        return ARTICLES_FAMILY
    if head == "/images":
        return IMAGES_FAMILY
    return DEFAULT_FAMILY


@dataclass(slots=True)
class RateGate:
    """A not-before time shared by every caller of one family: while it is closed, requests fail
    fast (callers serve the cache) or, if it opens within ``max_wait``, wait for it together."""

    not_before: float = 0.0  # monotonic seconds
    error: HubError | None = None
    trips: int = 0  # closures in a row without a success in between (for Retry-After-less 429s)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds to wait: a number of seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds == float("inf"):  # NaN / inf
        return None
    return max(0.0, seconds)


class HubClient:
    """Async client for the hub's REST API. One instance per process; close it with ``aclose``."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str = "",
        timeout: float = 20.0,
        max_concurrency: int = 4,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_gate_wait: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``sleep`` and ``clock`` are for tests: fake them together (a fake ``sleep`` that does not
        move ``clock`` lets a caller that waited for a gate go while the gate is still closed)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + API_PREFIX,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            transport=transport,
            follow_redirects=False,
        )
        self._api_key = api_key
        self._root = base_url.rstrip("/")
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._max_attempts = max(1, max_attempts)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_gate_wait = max_gate_wait
        self._clock = clock
        self._gates: dict[str, RateGate] = {}
        self._sleep = sleep
        self._jitter = jitter
        self.health = HubHealth()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> HubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ transport with retries

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: base * 2^(attempt-1), capped, times 0.5..1."""
        delay = min(self._backoff_cap, self._backoff_base * (2 ** (attempt - 1)))
        return delay * (0.5 + 0.5 * self._jitter())

    def _scrub(self, text: str, bearer: str | None = None) -> str:
        """The hub's own words, without our key or a member's (a hub that echoes one must not put it
        in /status, a log line or a reply)."""
        for secret in (self._api_key, bearer):
            if secret:
                text = text.replace(secret, "********")
        return text

    def gate(self, family: str) -> RateGate:
        gate = self._gates.get(family)
        if gate is None:
            gate = self._gates[family] = RateGate()
        return gate

    def paused_for(self, path: str) -> tuple[float, HubError | None]:
        """Seconds until requests to ``path`` may reach the hub again (0: open now), and why."""
        return self._paused((limit_family(path),))

    def _paused(self, families: Sequence[str]) -> tuple[float, HubError | None]:
        """The longest pause among these families' gates, and its error."""
        remaining, error = 0.0, None
        for family in families:
            gate = self.gate(family)
            left = gate.not_before - self._clock()
            if left > remaining:
                remaining, error = left, gate.error
        return remaining, error

    @property
    def max_gate_wait(self) -> float:
        """A closed gate that opens within this many seconds is waited for; a longer one fails fast."""
        return self._max_gate_wait

    def _close_gate(self, family: str, seconds: float, error: HubError) -> None:
        gate = self.gate(family)
        until = self._clock() + seconds
        if until > gate.not_before:
            gate.not_before = until
            gate.error = error
        gate.trips += 1
        log.warning("hub: %s; every %r request waits %.1fs", error, family, seconds)

    async def _through_gate(self, method: str, path: str, families: Sequence[str], last_error: HubError | None) -> bool:
        """True when a request to ``path`` may go now (after waiting for gates that open within
        ``max_gate_wait``). A gate closed for longer: False when this caller's own last answer closed
        it (it ends with that error), else the gate's error is raised without a request."""
        remaining, gate_error = self._paused(families)
        if remaining <= 0:
            return True
        if remaining <= self._max_gate_wait:
            await self._sleep(remaining)
            return True
        if last_error is not None:  # our own answer closed the gate for longer than we wait
            log.warning("hub: %s; not waiting %.0fs for it", last_error, remaining)
            return False
        note = f"{method} {path}: not sent, the hub asked to wait {remaining:.0f}s more"
        if isinstance(gate_error, HubRateLimited):
            raise HubRateLimited(note, retry_after=remaining)
        raise HubUnavailable(note)

    async def request(self, method: str, path: str, *, params: Params | None = None,
                      json_body: Any = None, bearer: str | None = None) -> Any:
        """Send one API request (``path`` relative to ``/api/v1``, or from the site's root when it
        starts with ``/api/``, as tRPC procedures do) and return the decoded JSON.

        ``bearer``: a member's own key, sent instead of the bot's for this request only (and removed
        from every error text). Such a request waits for the bot's gates but closes only a gate of
        its own (a member's 429 pauses that member, not the bot), and stays out of ``health`` (a
        member's bad key is not the hub failing, and /status is public).

        A 429 or a 503 closes the gate of its rate-limit family until ``Retry-After``: every caller
        of that family then waits together if the gate opens within ``max_gate_wait`` seconds, else
        fails at once with the gate's error, without a request."""
        if bearer is not None and not bearer:
            raise ValueError("an empty member key would send the bot's own key")
        family = limit_family(path)
        families: tuple[str, ...] = (family,)
        health = self.health
        if bearer:
            family = "member " + hashlib.sha256(bearer.encode()).hexdigest()[:12]
            families = (families[0], family)
            health = HubHealth()  # not the bot's: kept out of /status
        url = f"{self._root}{path}" if path.startswith("/api/") else path
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else None
        last_error: HubError | None = None
        for attempt in range(1, self._max_attempts + 1):
            if not await self._through_gate(method, path, families, last_error):
                break
            started = time.monotonic()
            try:
                async with self._semaphore:
                    # queued callers look again: a 429 may have closed the gate while they waited
                    if not await self._through_gate(method, path, families, last_error):
                        break
                    health.requests += 1
                    response = await self._http.request(method, url, params=params, json=json_body,
                                                        headers=headers)
                    body = await response.aread()
            except httpx.TimeoutException:
                last_error = HubUnavailable(f"{method} {path}: timed out")
            except httpx.DecodingError as exc:  # e.g. a body that claims gzip and is not
                error = HubBadResponse(f"{method} {path}: undecodable body ({type(exc).__name__})")
                health.record_failure(str(error))
                raise error from None
            except httpx.HTTPError as exc:  # every other transport-level failure
                last_error = HubUnavailable(f"{method} {path}: {type(exc).__name__}")
            else:
                status = response.status_code
                if health is self.health:
                    self._note_status(status)
                if 200 <= status < 300:
                    try:
                        # a page of 100 models can be megabytes: decode it off the event loop
                        payload = json.loads(body) if len(body) < THREAD_DECODE_BYTES else \
                            await asyncio.to_thread(json.loads, body)
                    except (ValueError, UnicodeDecodeError, RecursionError):
                        error = HubBadResponse(f"{method} {path}: malformed JSON ({len(body)} bytes)")
                        health.record_failure(str(error))
                        raise error from None
                    health.record_success(time.monotonic() - started)
                    self.gate(family).trips = 0
                    return payload
                detail, code = _error_detail(body)
                detail = self._scrub(detail, bearer)[:120]  # cut after scrubbing: no half key survives
                message = f"{method} {path}: HTTP {status}" + (f" ({detail})" if detail else "")
                if status in (404, 410):
                    health.record_success(time.monotonic() - started)  # the hub is up
                    raise HubNotFound(message)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if status in (429, 503):
                    # the hub asks this family's callers to stay away: at least Retry-After, and at
                    # least a backoff that grows while the family keeps tripping (Retry-After: 0 or
                    # none must not turn into a burst of immediate retries)
                    pause = max(retry_after or 0.0, self._backoff(self.gate(family).trips + 1))
                    last_error = HubRateLimited(message, retry_after=pause) if status == 429 else \
                        HubUnavailable(message)
                    self._close_gate(family, pause, last_error)
                    health.retries += attempt < self._max_attempts
                    continue
                if status >= 500:
                    last_error = HubUnavailable(message)
                else:
                    health.record_failure(message)
                    raise HubRequestRejected(message, status=status, detail=detail, code=code)

            if attempt == self._max_attempts:
                break
            delay = self._backoff(attempt)
            health.retries += 1
            log.warning("hub: %s; retry %d/%d in %.2fs", last_error, attempt, self._max_attempts - 1, delay)
            await self._sleep(delay)

        assert last_error is not None
        health.record_failure(str(last_error))
        if isinstance(last_error, HubRateLimited):  # how long the family is really closed
            last_error.retry_after = max(last_error.retry_after or 0.0, self._paused(families)[0])
        raise last_error

    def _note_status(self, status: int) -> None:
        recent = self.health.recent_statuses
        recent.append(status)
        del recent[:-20]

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params=params)

    # ------------------------------------------------------------------ endpoints

    async def list_models(self, query: ModelQuery | None = None, *, cursor: str | None = None,
                          limit: int = 100) -> Page[Model]:
        """``GET /models``: one page (cursor paging; ``limit`` 1..100)."""
        payload = await self.get("/models", (query or ModelQuery()).params(cursor=cursor, limit=limit))
        return _page(payload, Model.from_json, "/models")

    async def iter_model_pages(self, query: ModelQuery | None = None, *, limit: int = 100,
                               max_pages: int = 10, cursor: str | None = None) -> AsyncIterator[Page[Model]]:
        """Follow ``nextCursor`` for up to ``max_pages`` pages. Empty pages that still carry a cursor
        (a known hub defect) are followed too, within the page cap."""
        for _ in range(max_pages):
            page = await self.list_models(query, cursor=cursor, limit=limit)
            yield page
            if not page.next_cursor or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    async def get_model(self, model_id: int) -> Model:
        if not 1 <= model_id <= MAX_MODEL_ID:
            raise HubNotFound(f"no model with id {model_id}")
        payload = await self.get(f"/models/{model_id}")
        return _one(payload, Model.from_json, "/models/{id}")

    async def get_model_version(self, version_id: int) -> ModelVersion:
        if not 1 <= version_id <= MAX_MODEL_ID:
            raise HubNotFound(f"no model version with id {version_id}")
        payload = await self.get(f"/model-versions/{version_id}")
        return _one(payload, ModelVersion.from_json, "/model-versions/{id}")

    async def get_version_by_hash(self, value: str) -> ModelVersion:
        """``GET /model-versions/by-hash/{hash}``; any hash kind, any case. ``ValueError`` if the text
        cannot be a hub hash."""
        if not is_hash_like(value):
            raise ValueError("not a hash: expected 8, 10, 12 or 64 hexadecimal characters")
        payload = await self.get(f"/model-versions/by-hash/{normalize_hash(value)}")
        return _one(payload, ModelVersion.from_json, "/model-versions/by-hash")

    async def get_versions_by_hashes(self, sha256s: Iterable[str]) -> list[ModelVersion]:
        """Bulk ``POST /model-versions/by-hash`` (SHA256 values, sent 100 at a time)."""
        values = [normalize_hash(h) for h in sha256s]
        out: list[ModelVersion] = []
        for start in range(0, len(values), 100):
            payload = await self.request("POST", "/model-versions/by-hash", json_body=values[start:start + 100])
            if not isinstance(payload, list):
                raise HubBadResponse("/model-versions/by-hash: expected a JSON array")
            out += parse_items(payload, ModelVersion.from_json)
        return out

    async def list_images(self, *, browsing_level: int, model_version_id: int | None = None,
                          model_id: int | None = None, post_id: int | None = None,
                          username: str | None = None, limit: int = 100, cursor: str | None = None,
                          sort: str | None = None, with_meta: bool = False) -> Page[Image]:
        """``GET /images``. ``browsing_level`` is required: the hub's default differs by parameter,
        so the bot always states the levels it wants."""
        if browsing_level <= 0:
            raise ValueError("browsing_level must be a positive level mask")
        params: Params = [("browsingLevel", str(browsing_level)), ("limit", str(max(1, min(200, limit))))]
        for name, value in (("modelVersionId", model_version_id), ("modelId", model_id),
                            ("postId", post_id), ("username", username), ("sort", sort), ("cursor", cursor)):
            if value is not None:
                params.append((name, str(value)))
        if with_meta:
            params.append(("withMeta", "true"))
        return _page(await self.get("/images", params), Image.from_json, "/images")

    async def list_tags(self, *, query: str | None = None, limit: int = 20, page: int = 1) -> Page[Tag]:
        return _page(await self.get("/tags", _paged(query, limit, page)), Tag.from_json, "/tags")

    async def list_creators(self, *, query: str | None = None, limit: int = 20,
                            page: int = 1) -> Page[Creator]:
        return _page(await self.get("/creators", _paged(query, limit, page)), _creator, "/creators")

    async def list_articles(self, *, query: str | None = None, sort: str = "Newest",
                            cursor: str | None = None, limit: int = 100, nsfw: bool = False,
                            tag_ids: Sequence[int] = (), username: str | None = None) -> Page[Article]:
        if sort not in ARTICLE_SORTS:
            raise ValueError(f"unknown article sort {sort!r}")
        params: Params = [("limit", str(max(1, min(100, limit)))), ("sort", sort),
                          ("nsfw", "true" if nsfw else "false")]
        if query:
            params.append(("query", query))
        if tag_ids:
            params.append(("tags", ",".join(str(t) for t in tag_ids)))
        if username:
            params.append(("username", username))
        if cursor:
            params.append(("cursor", cursor))
        return _page(await self.get("/articles", params), Article.from_json, "/articles")

    async def get_article(self, article_id: int) -> Article:
        if not 1 <= article_id <= MAX_MODEL_ID:
            raise HubNotFound(f"no article with id {article_id}")
        return _one(await self.get(f"/articles/{article_id}"), Article.from_json, "/articles/{id}")

    # ------------------------------------------------------------------ as a member (their own key)

    async def me(self, key: str) -> HubAccount:
        """``GET /me`` with a member's personal key: whose key it is. 401: not a valid key."""
        return _one(await self.request("GET", "/me", bearer=key), HubAccount.from_json, "/me")

    async def upsert_review(self, key: str, *, model_id: int, model_version_id: int, recommended: bool,
                            details_html: str | None) -> int | None:
        """Create or update the key owner's review of a version through the hub's internal
        ``resourceReview.upsert`` procedure (hub-api.md §11; one review per member per version, thumbs
        stored as rating 5 or 1). Returns the hub's review id when the answer has one.

        Refusals come as ``HubRequestRejected`` with the tRPC ``code``: 401 UNAUTHORIZED (unknown or
        revoked key, but also a version the member may not see), 403 FORBIDDEN (no SocialWrite scope,
        or a restricted account), 400 BAD_REQUEST."""
        review: dict[str, Any] = {"modelId": model_id, "modelVersionId": model_version_id,
                                  "rating": 5 if recommended else 1, "recommended": recommended}
        if details_html:
            review["details"] = details_html
        payload = await self.request("POST", TRPC_REVIEW_UPSERT, json_body={"json": review}, bearer=key)
        result = payload.get("result") if isinstance(payload, dict) else None
        data = result.get("data") if isinstance(result, dict) else None
        row = data.get("json") if isinstance(data, dict) else None
        return as_int(row.get("id")) if isinstance(row, dict) else None


def _paged(query: str | None, limit: int, page: int) -> Params:
    params: Params = [("limit", str(max(1, min(200, limit)))), ("page", str(max(1, page)))]
    if query:
        params.append(("query", query))
    return params


def _creator(obj: Any) -> Creator:
    creator = Creator.from_json(obj)
    if creator is None or not creator.username:
        raise ValueError("creator without a username")
    return creator


def _page(payload: Any, parse: Callable[[Any], Any], where: str) -> Page[Any]:
    try:
        return Page.parse(payload, parse)
    except ValueError as exc:
        raise HubBadResponse(f"{where}: {exc}") from None


def _one(payload: Any, parse: Callable[[Any], Any], where: str) -> Any:
    try:
        return parse(payload)
    except (ValueError, TypeError) as exc:
        raise HubBadResponse(f"{where}: {exc}") from None


def _error_detail(body: bytes) -> tuple[str, str]:
    """(the hub's error message, uncut: scrub it before cutting; its tRPC code) from an error body: REST's
    ``{"error": ...}`` or ``{"message": ...}``, or tRPC's ``{"error": {"json": {"message", "code",
    "data": {"code"}}}}``. Empty strings where the body says nothing readable."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    error = payload.get("error")
    if isinstance(error, dict):  # tRPC
        inner = error.get("json") if isinstance(error.get("json"), dict) else error
        data = inner.get("data") if isinstance(inner.get("data"), dict) else {}
        message, code = inner.get("message"), data.get("code")
        return (message if isinstance(message, str) else "", code if isinstance(code, str) else "")
    detail = error or payload.get("message")
    return (detail if isinstance(detail, str) else ""), ""
