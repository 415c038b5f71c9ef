"""The guarded fetcher: reads files from allowed hosts by link, and nothing else (no discord here).

Every request, and every redirect hop, passes the same checks before any connection is made:

- the scheme is ``https`` (``http`` only when ``intake.allow_private_networks`` is on: local tests);
- no credentials in the URL (``https://user:pass@host/``);
- the host is in ``intake.allowed_hosts`` (an entry matches the host and its subdomains, any port);
- a host written as an IP address (``https://[::1]/``, ``https://2130706433/``) is checked as below.

Then, at connection time, a custom httpcore network backend (``GuardedBackend``) resolves the name
once, refuses the host if **any** of its addresses is forbidden (``bot.intake.addresses``), and
connects to the checked address: no second DNS lookup, so no DNS-rebinding window. httpcore still
starts TLS with the URL's host name (SNI and certificate checks unchanged; intake.md §7).

Redirects are followed by hand (at most 5), each hop re-checked; their targets (GitHub's and the
hub's signed 300-second URLs) are used once and never stored: every call starts from the link the
member gave. Bodies are read raw (``Accept-Encoding: identity``), capped in size (declared and while
streaming), in total time and in idle time. A web page (``text/html``, e.g. a login wall) where a
file was expected is an error of its own.

Errors (all ``FetchError``, a ``UserError``: their message is meant for the member):

- ``FetchRefused(reason, kind=...)``: a rule refused the link; nothing was fetched past the rule.
  ``NotAFile`` (a web page instead of a file) is one of them.
- ``FetchFailed(reason, status=...)``: the network or the server failed (DNS, connect, TLS, timeouts,
  HTTP error statuses).

Use::

    async with GuardedFetcher(settings.intake) as fetcher:
        info = await fetcher.probe(url)                     # FileInfo: size, name, sha256 (HF), ...
        head = await fetcher.read_range(url, 0, 99_999)     # RangeRead: data, honoured, total, info
        async with fetcher.stream(url, max_bytes=info.size, on_progress=report) as body:
            async for chunk in body:                        # raw bytes, capped
                ...
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
import time
import unicodedata
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote

import httpcore
import httpx

from bot.config import IntakeSettings
from bot.core.errors import UserError
from bot.intake.addresses import IPAddress, forbidden_reason, parse_ip_literal

__all__ = [
    "FetchError",
    "FetchFailed",
    "FetchLimits",
    "FetchRefused",
    "FileInfo",
    "GuardedBackend",
    "GuardedFetcher",
    "NotAFile",
    "Progress",
    "RangeRead",
    "Resolver",
    "StreamBody",
    "system_resolver",
]

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolver(host, port)`` -> the host's addresses as strings (tests inject a table)."""

ProgressHook = Callable[["Progress"], Awaitable[None] | None]

REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_CONTENT_RANGE: Final = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)", re.IGNORECASE)
_DISPOSITION_EXT: Final = re.compile(r"(?:^|;)\s*filename\*\s*=\s*([A-Za-z0-9!#$&+^_`{}~-]*)'[^']*'([^;\s]+)",
                                     re.IGNORECASE)
_DISPOSITION: Final = re.compile(r'(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))', re.IGNORECASE)
USER_AGENT: Final = "hubbot-intake/0.1 (+https://github.com/hubbot)"


# --------------------------------------------------------------------------------------------- errors


class FetchError(UserError):
    """The link could not be read. ``reason`` (= the message) says why, in words."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.url = _redact(url) if url is not None else None
        """The link or hop concerned, for logs: without credentials or query (signed URLs' secrets)."""


class FetchRefused(FetchError):
    """A rule refused the link or a hop of it. ``kind``: ``scheme``, ``credentials``, ``host``,
    ``address``, ``redirects``, ``size``, ``encoding``, ``not-a-file``, ``range``."""

    def __init__(self, reason: str, *, kind: str, url: str | None = None) -> None:
        super().__init__(reason, url=url)
        self.kind = kind


class NotAFile(FetchRefused):
    """The link answered with a web page (often a login wall) where a file was expected."""

    def __init__(self, reason: str, *, url: str | None = None) -> None:
        super().__init__(reason, kind="not-a-file", url=url)


class FetchFailed(FetchError):
    """The network or the server failed: DNS, connect, TLS, timeouts, or an HTTP error ``status``."""

    def __init__(self, reason: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(reason, url=url)
        self.status = status


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps and timeouts. ``idle_timeout``: the longest wait for the next bytes (read, write);
    ``*_deadline``: the whole call, connection and redirects included."""

    max_redirects: int = 5
    connect_timeout: float = 15.0
    idle_timeout: float = 30.0
    probe_deadline: float = 60.0
    download_deadline: float = 4 * 3600.0
    max_range_bytes: int = 32 * 1024 * 1024
    progress_interval: float = 1.0


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the host says about the file, from the headers of the final answer (and of the hops)."""

    url: str
    """The link asked for (what to store and to fetch again)."""
    final_url: str
    """Where the redirects ended, without its query: for logs only (signed targets expire; the next
    call starts again from ``url``)."""
    redirects: tuple[str, ...]
    """Each redirect target in order, without queries (for logs)."""
    status: int
    size: int | None
    """Total size in bytes: ``Content-Range`` total, else ``Content-Length`` of a 200, else
    Hugging Face's ``X-Linked-Size``; ``None`` when the host does not say."""
    file_name: str | None
    """From ``Content-Disposition`` (any hop, the final one first), else the link's last path segment."""
    content_type: str | None
    """The media type, lower case, without parameters."""
    sha256: str | None
    """Hugging Face's ``X-Linked-Etag`` when it is an LFS SHA-256 (64 hex digits, lower case)."""
    ranges: bool
    """The final host answered a Range request with 206."""
    etag: str | None = None


@dataclass(frozen=True, slots=True)
class RangeRead:
    """``read_range``'s answer. ``data`` is the asked slice (shorter at the end of the file; empty on a
    416). ``honoured``: the server answered 206; on a 200 only the needed prefix was read."""

    data: bytes
    start: int
    honoured: bool
    total: int | None
    info: FileInfo


@dataclass(frozen=True, slots=True)
class Progress:
    """A download's progress: ``bytes_per_second`` over the last few seconds; ``done`` on the last call."""

    received: int
    total: int | None
    elapsed: float
    bytes_per_second: float
    done: bool = False


@dataclass(slots=True)
class _Hop:
    url: httpx.URL
    status: int
    headers: httpx.Headers


@dataclass(slots=True)
class _Opened:
    response: httpx.Response
    hops: list[_Hop] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- policy


def _host_matches(host: str, entry: str) -> bool:
    return host == entry or host.endswith("." + entry)


def _normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return host


class _Policy:
    """The rules of ``IntakeSettings`` plus the test-only ``trusted_addresses``."""

    def __init__(self, settings: IntakeSettings, trusted: Iterable[str]) -> None:
        self.allow_private = settings.allow_private_networks
        self.allowed_hosts = tuple(_normalise_host(h) for h in settings.allowed_hosts if h.strip())
        self.trusted: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in trusted)

    def address_reason(self, ip: IPAddress) -> str | None:
        if ip in self.trusted:
            return None
        return forbidden_reason(ip, allow_private=self.allow_private)

    def check_url(self, url: httpx.URL, *, what: str) -> None:
        """Refuse ``url`` (``what``: "the link", "redirect 2") before any connection."""
        shown = _show(url)
        if url.userinfo:
            raise FetchRefused(f"{what} carries credentials (user:password@); links with credentials are "
                               "not accepted", kind="credentials", url=shown)
        if url.scheme not in ("http", "https"):
            raise FetchRefused(f"{what} uses {url.scheme or 'no'} scheme; only https links are accepted",
                               kind="scheme", url=shown)
        host = url.raw_host.decode("ascii", "replace").lower().rstrip(".")
        if not host:
            raise FetchRefused(f"{what} has no host", kind="host", url=shown)
        try:
            literal = parse_ip_literal(host)
        except ValueError:
            raise FetchRefused(f"{what} names the host {host!r}, which is neither a name nor a valid address",
                               kind="host", url=shown) from None
        if literal is not None:
            reason = self.address_reason(literal)
            if reason:
                raise FetchRefused(f"{what} points at {literal}, {reason}", kind="address", url=shown)
        if url.scheme == "http" and not self.allow_private:
            raise FetchRefused(f"{what} uses plain http; only https links are accepted", kind="scheme", url=shown)
        if not any(host == entry if literal is not None else _host_matches(host, entry)
                   for entry in self.allowed_hosts):
            allowed = ", ".join(self.allowed_hosts) or "none"
            raise FetchRefused(f"{what} is on {host}, which is not an allowed host (allowed: {allowed})",
                               kind="host", url=shown)


def _show(url: httpx.URL) -> str:
    """The URL for messages and logs: no credentials, no query (signed URLs carry secrets there)."""
    try:
        return str(url.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, ValueError, TypeError):
        return "(an invalid URL)"


def _redact(url: str) -> str:
    try:
        return _show(httpx.URL(url))
    except (httpx.InvalidURL, ValueError, TypeError):
        return "(an invalid URL)"


# ------------------------------------------------------------------------------------------ network


async def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver (``getaddrinfo``), every address of ``host`` for TCP, in order."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in out:
            out.append(address)
    return out


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, checked: resolve once, refuse the host if any address is forbidden,
    connect to a checked address. ``inner`` opens the sockets (httpcore's anyio backend; tests may
    record). Raises ``FetchRefused`` (kind ``address``) or ``FetchFailed`` (could not resolve)."""

    def __init__(self, policy: _Policy, resolver: Resolver, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._resolver = resolver
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore's)
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, port, timeout)
        last: Exception | None = None
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def _addresses(self, host: str, port: int, limit: float | None) -> list[IPAddress]:
        try:
            literal = parse_ip_literal(host)
        except ValueError:
            raise FetchRefused(f"{host!r} is neither a host name nor a valid address", kind="host") from None
        if literal is not None:
            found: list[IPAddress] = [literal]
        else:
            try:
                async with asyncio.timeout(limit):
                    names = await self._resolver(host, port)
                found = [ipaddress.ip_address(a) for a in names]
            except TimeoutError:
                raise FetchFailed(f"could not resolve {host} in time") from None
            except (OSError, ValueError) as exc:
                raise FetchFailed(f"could not resolve {host}: {exc}") from None
            if not found:
                raise FetchFailed(f"could not resolve {host}: no address")
        for ip in found:
            reason = self._policy.address_reason(ip)
            if reason:
                raise FetchRefused(f"{host} resolves to {ip}, {reason}", kind="address")
        return found

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("unix sockets are not allowed", kind="address")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# ------------------------------------------------------------------------------------------ fetcher


class GuardedFetcher:
    """Reads files by link under the intake's rules. One instance per bot (it pools connections);
    ``async with`` it, or call ``aclose()``.

    ``resolver``, ``verify``, ``network_backend`` and ``trusted_addresses`` exist for tests:
    a name->address table instead of DNS, the loopback server's CA, a backend that records
    connections, and addresses allowed although not global (a loopback test server with
    ``allow_private_networks`` off). Production passes only ``settings``.
    """

    def __init__(self, settings: IntakeSettings, *, limits: FetchLimits | None = None,
                 resolver: Resolver | None = None, verify: ssl.SSLContext | bool = True,
                 network_backend: httpcore.AsyncNetworkBackend | None = None,
                 trusted_addresses: Iterable[str] = (), clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.limits = limits or FetchLimits()
        self._policy = _Policy(settings, trusted_addresses)
        self._clock = clock
        backend = GuardedBackend(self._policy, resolver or system_resolver,
                                 network_backend or httpcore.AnyIOBackend())
        ssl_context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(
            verify=verify, trust_env=False)
        transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False, retries=0)
        # intake.md §7: httpx has no public hook for the network backend; replace the pool it built
        # (httpx 0.28 / httpcore 1.0). Fail closed if that private attribute ever changes shape.
        if not isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx internals changed: cannot install the guarded network backend")
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context, max_connections=20, max_keepalive_connections=5, keepalive_expiry=5.0,
            http1=True, http2=False, retries=0, network_backend=backend)
        self._client = httpx.AsyncClient(
            transport=transport, trust_env=False, follow_redirects=False,
            timeout=httpx.Timeout(connect=self.limits.connect_timeout, read=self.limits.idle_timeout,
                                  write=self.limits.idle_timeout, pool=self.limits.connect_timeout),
            headers={"Accept-Encoding": "identity", "User-Agent": USER_AGENT})

    async def __aenter__(self) -> GuardedFetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    def check_url(self, url: str) -> None:
        """Refuse a link on its face (scheme, credentials, host, literal address) without any I/O."""
        self._policy.check_url(_parse(url), what="the link")

    # ------------------------------------------------------------------------------------ public

    async def probe(self, url: str) -> FileInfo:
        """Size, name, type and (Hugging Face) SHA-256 of the file at ``url``, reading no body: a GET
        for the first byte (``Range: bytes=0-0``; signed storage URLs often refuse HEAD), closed at
        once. Refuses a declared size above ``intake.max_file_bytes``."""
        async with self._deadline(self.limits.probe_deadline, url):
            opened = await self._open(url, {"Range": "bytes=0-0"}, allow={416})  # 416: an empty file
            try:
                info = self._file_info(url, opened)
                self._check_size(info.size, self.settings.max_file_bytes, url)
                return info
            finally:
                await opened.response.aclose()

    async def read_range(self, url: str, start: int, end: int) -> RangeRead:
        """Bytes ``start..end`` (inclusive, as in HTTP) of the file: one Range GET. A server that ignores
        Range (200) is read only up to ``end`` and closed. At most ``limits.max_range_bytes``."""
        if start < 0 or end < start:
            raise ValueError(f"bad range {start}-{end}")
        want = end - start + 1
        if want > self.limits.max_range_bytes:
            raise FetchRefused(f"a range of {want:,} bytes is over the limit of {self.limits.max_range_bytes:,}",
                               kind="range", url=url)
        async with self._deadline(self.limits.probe_deadline, url):
            opened = await self._open(url, {"Range": f"bytes={start}-{end}"}, allow={416})
            response = opened.response
            try:
                info = self._file_info(url, opened)
                if response.status_code == 416:
                    return RangeRead(b"", start, True, info.size, info)
                self._check_size(info.size, self.settings.max_file_bytes, url)
                if response.status_code == 206:
                    first = _content_range(response.headers.get("content-range"))[0]
                    if first != start:
                        raise FetchFailed(f"the server answered the range from byte {first}, not {start}",
                                          status=206, url=url)
                    data = await self._read_prefix(response, want)
                    return RangeRead(data, start, True, info.size, info)
                if end + 1 > self.limits.max_range_bytes:
                    raise FetchRefused(f"the server does not answer Range requests, and reaching byte {end:,} would "
                                       "mean downloading too much of the file", kind="range", url=url)
                data = await self._read_prefix(response, end + 1)
                return RangeRead(data[start:], start, False, info.size, info)
            finally:
                await response.aclose()

    @contextlib.asynccontextmanager
    async def stream(self, url: str, *, max_bytes: int | None = None, deadline: float | None = None,
                     on_progress: ProgressHook | None = None) -> AsyncIterator[StreamBody]:
        """The whole file: ``async with fetcher.stream(url) as body: async for chunk in body``.

        ``body.info`` (a ``FileInfo``) is known before the first chunk. At most ``max_bytes`` (default
        ``intake.max_file_bytes``), refused from the declared length and while streaming; the whole
        download within ``deadline`` seconds (default ``limits.download_deadline``), each read
        within ``limits.idle_timeout``. ``on_progress(Progress)`` is called (sync or async) every
        ``limits.progress_interval`` seconds and once at the end. Leaving the block closes the
        connection, whether or not the body was read.
        """
        cap = self.settings.max_file_bytes if max_bytes is None else max_bytes
        seconds = self.limits.download_deadline if deadline is None else deadline
        until = asyncio.get_running_loop().time() + seconds
        try:
            async with asyncio.timeout_at(until):
                opened = await self._open(url, {})
        except TimeoutError:
            raise self._too_slow(url, seconds) from None
        response = opened.response
        body: StreamBody | None = None
        try:
            info = self._file_info(url, opened)
            self._check_size(info.size, cap, url)
            body = StreamBody(self, response, info, cap, until, seconds, on_progress)
            yield body
        finally:
            if body is not None:
                await body.aclose()
            await response.aclose()

    # ----------------------------------------------------------------------------------- internals

    @contextlib.asynccontextmanager
    async def _deadline(self, seconds: float, url: str) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(seconds):
                yield
        except TimeoutError:
            raise self._too_slow(url, seconds) from None

    def _too_slow(self, url: str, seconds: float) -> FetchFailed:
        return FetchFailed(f"the server took too long (over {seconds:g} s in all)", url=url)

    async def _open(self, url: str, headers: dict[str, str], *, allow: frozenset[int] | set[int] = frozenset()
                    ) -> _Opened:
        """GET ``url`` following redirects by hand; the final response is streamed (not read) and
        must be closed by the caller. Refuses a web page, a compressed body, an error status."""
        current = _parse(url)
        self._policy.check_url(current, what="the link")
        hops: list[_Hop] = []
        while True:
            request = self._client.build_request("GET", current, headers=headers)
            try:
                response = await self._client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise _transport_error(exc, current, self.limits) from None
            if response.status_code not in REDIRECT_STATUSES:
                break
            hops.append(_Hop(current, response.status_code, response.headers))
            location = response.headers.get("location")
            await response.aclose()
            if not location:
                raise FetchFailed(f"the server answered {response.status_code} without a Location",
                                  status=response.status_code, url=_show(current))
            if len(hops) > self.limits.max_redirects:
                raise FetchRefused(f"too many redirects (more than {self.limits.max_redirects})",
                                   kind="redirects", url=url)
            try:
                current = current.join(location)
            except (httpx.InvalidURL, ValueError):
                raise FetchRefused(f"redirect {len(hops)} goes to an invalid address", kind="redirects",
                                   url=_show(current)) from None
            self._policy.check_url(current, what=f"redirect {len(hops)} (to {_show(current)})")
        try:
            _check_response(response, url, allow)
        except BaseException:
            await response.aclose()
            raise
        return _Opened(response, hops)

    def _file_info(self, url: str, opened: _Opened) -> FileInfo:
        response = opened.response
        headers = response.headers
        every = [*(hop.headers for hop in opened.hops), headers]
        linked_size = _first_int(h.get("x-linked-size") for h in every)
        size: int | None = None
        ranges = response.status_code in (206, 416)
        if ranges:
            size = _content_range(headers.get("content-range"))[2]
        elif response.status_code == 200:
            size = _int(headers.get("content-length"))
        if size is None:
            size = linked_size
        sha256 = None
        for h in every:
            tag = _etag_value(h.get("x-linked-etag"))
            if tag and _SHA256.fullmatch(tag):
                sha256 = tag
        name = None
        for h in reversed(every):
            name = _disposition_name(h.get("content-disposition"))
            if name:
                break
        if not name:
            name = _url_name(_parse(url)) or _url_name(response.request.url)
        final = response.request.url
        redirects = [_show(hop.url) for hop in opened.hops[1:]]
        if opened.hops:
            redirects.append(_show(final))
        return FileInfo(
            url=url, final_url=_show(final), redirects=tuple(redirects),
            status=response.status_code, size=size, file_name=name,
            content_type=_media_type(headers.get("content-type")), sha256=sha256, ranges=ranges,
            etag=_etag_value(headers.get("etag")))

    def _check_size(self, size: int | None, cap: int, url: str) -> None:
        if size is not None and size > cap:
            raise FetchRefused(f"the file is {_bytes(size)}, over the limit of {_bytes(cap)}", kind="size", url=url)

    async def _read_prefix(self, response: httpx.Response, want: int) -> bytes:
        buf = bytearray()
        try:
            async with contextlib.aclosing(response.aiter_raw()) as chunks:
                async for chunk in chunks:
                    buf += chunk
                    if len(buf) >= want:
                        break
        except httpx.HTTPError as exc:
            raise _transport_error(exc, response.request.url, self.limits) from None
        return bytes(buf[:want])


class StreamBody:
    """The body of ``GuardedFetcher.stream``: ``info``, then ``async for chunk in body``. ``received``
    counts the bytes handed out."""

    def __init__(self, fetcher: GuardedFetcher, response: httpx.Response, info: FileInfo, cap: int,
                 until: float, seconds: float, on_progress: ProgressHook | None) -> None:
        self.info = info
        self.received = 0
        self._fetcher = fetcher
        self._response = response
        self._cap = cap
        self._until = until
        self._seconds = seconds
        self._on_progress = on_progress
        self._chunks: AsyncGenerator[bytes, None] | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._chunks is not None:
            raise RuntimeError("a stream body can be read once")
        self._chunks = self._read()
        return self._chunks

    async def aclose(self) -> None:
        if self._chunks is not None:
            await self._chunks.aclose()

    async def _read(self) -> AsyncGenerator[bytes, None]:
        fetcher, url = self._fetcher, self.info.url
        clock, interval = fetcher._clock, fetcher.limits.progress_interval
        started = last_report = clock()
        window: deque[tuple[float, int]] = deque([(started, 0)])
        chunks = self._response.aiter_raw().__aiter__()
        while True:
            try:
                async with asyncio.timeout_at(self._until):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise fetcher._too_slow(url, self._seconds) from None
            except httpx.HTTPError as exc:
                raise _transport_error(exc, self._response.request.url, fetcher.limits) from None
            self.received += len(chunk)
            if self.received > self._cap:
                raise FetchRefused(f"the file is over the limit of {_bytes(self._cap)} (still coming after "
                                   f"{_bytes(self.received)})", kind="size", url=url)
            yield chunk
            now = clock()
            if self._on_progress is not None and now - last_report >= interval:
                last_report = now
                await self._report(now, started, window, done=False)
        if self._on_progress is not None:
            await self._report(clock(), started, window, done=True)

    async def _report(self, now: float, started: float, window: deque[tuple[float, int]], *, done: bool) -> None:
        window.append((now, self.received))
        while len(window) > 2 and now - window[0][0] > 5.0:
            window.popleft()
        span = now - window[0][0]
        rate = (self.received - window[0][1]) / span if span > 0 else 0.0
        assert self._on_progress is not None
        result = self._on_progress(Progress(self.received, self.info.size, now - started, rate, done))
        if result is not None:
            await result


# ---------------------------------------------------------------------------------------- helpers


def _parse(url: str | httpx.URL) -> httpx.URL:
    if isinstance(url, httpx.URL):
        return url
    try:
        return httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError):
        raise FetchRefused("the link is not a valid URL", kind="scheme", url=url[:200]) from None


def _check_response(response: httpx.Response, url: str, allow: frozenset[int] | set[int]) -> None:
    status = response.status_code
    if status not in allow and not 200 <= status < 300:
        if status in (401, 403):
            why = "the server refused access; the file may need a login, or the link has expired"
        elif status in (404, 410):
            why = "there is no file at this link"
        elif status == 429:
            why = "the server is rate limiting us; try again later"
        else:
            why = "the server answered with an error"
        raise FetchFailed(f"{why} (HTTP {status})", status=status, url=url)
    media = _media_type(response.headers.get("content-type"))
    if media in HTML_TYPES:
        raise NotAFile("the link leads to a web page (text/html), not to a file: a login page, or a page "
                       "about the file rather than its download link", url=url)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise FetchRefused(f"the server compressed the file ({encoding}) although asked not to", kind="encoding",
                           url=url)


def _transport_error(exc: httpx.HTTPError, url: httpx.URL, limits: FetchLimits) -> FetchError:
    host = url.host
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, FetchError):
            return cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchFailed(f"could not connect to {host} within {limits.connect_timeout:g} s", url=_show(url))
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return FetchFailed(f"{host} sent nothing for {limits.idle_timeout:g} s", url=_show(url))
    if isinstance(exc, httpx.PoolTimeout):
        return FetchFailed("too many downloads at once; try again", url=_show(url))
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text.lower():
            return FetchFailed(f"{host}'s TLS certificate could not be verified ({text})", url=_show(url))
        return FetchFailed(f"could not connect to {host}: {text}", url=_show(url))
    return FetchFailed(f"the connection to {host} failed: {text}", url=_show(url))


def _media_type(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())


def _first_int(values: Iterable[str | None]) -> int | None:
    for value in values:
        number = _int(value)
        if number is not None:
            return number
    return None


def _content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes 0-99/1234`` -> (0, 99, 1234); ``bytes */1234`` -> (None, None, 1234) (RFC 9110 §14.4)."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if not match:
        return None, None, None
    first, last, total = match.groups()
    return (int(first) if first else None, int(last) if last else None,
            int(total) if total and total != "*" else None)


def _etag_value(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"').lower() or None


def _disposition_name(value: str | None) -> str | None:
    """The file name of a ``Content-Disposition`` header: ``filename*`` (RFC 6266 §4.3, RFC 8187
    ``charset'lang'pct-encoded``) before ``filename`` (quoted string or token)."""
    if not value:
        return None
    extended = _DISPOSITION_EXT.search(value)
    if extended:
        charset, encoded = extended.groups()
        try:
            name = unquote(encoded, encoding=charset or "utf-8", errors="strict")
        except (LookupError, UnicodeDecodeError):
            name = ""
        if _clean_name(name):
            return _clean_name(name)
    plain = _DISPOSITION.search(value)
    if not plain:
        return None
    quoted, token = plain.groups()
    name = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
    return _clean_name(name)


def _url_name(url: httpx.URL) -> str | None:
    return _clean_name(unquote(url.path.rsplit("/", 1)[-1]))


def _clean_name(name: str) -> str | None:
    """A file name safe to show and to use as a suffix: the last path part, no control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    return name[:255] or None


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n:,} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n:,} bytes"  # pragma: no cover

