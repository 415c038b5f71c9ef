"""A loopback file server for the intake tests: files with HTTP Range support, redirects (Hugging
Face and GitHub style), a login wall, slow and endless bodies, and a log of every request.

Use::

    async with FileServer() as files:                     # http://127.0.0.1:PORT
        files.add_file("/m/lora.safetensors", data)       # bytes, or a Path (streamed from disk)
        url = files.url("/m/lora.safetensors")
        ...
        assert files.requests[0].range == "bytes=0-99999"

    async with FileServer(tls=True, hostnames=("files.example",)) as files:
        files.url("/m/x.bin", host="files.example")       # https://files.example:PORT/m/x.bin
        files.client_ssl_context()                        # trusts the fake's own CA (GuardedFetcher(verify=...))

The server binds 127.0.0.1 only; a name such as ``files.example`` reaches it through the resolver the
test gives the fetcher (a name -> address table), never through DNS. With ``tls=True`` it serves
HTTPS with a certificate for ``hostnames`` (plus ``localhost`` and 127.0.0.1) issued by a throwaway
CA made at first use (``cryptography``); ``client_ssl_context()`` trusts that CA and nothing else.

Routes (``path`` is the URL path, without the query; a query is accepted and ignored, like a
signed URL's):

- ``add_file(path, data, content_type=..., filename=None, headers=None, ignore_range=False)``: the bytes,
  or the file (a ``Path``, read from disk slice by slice); ``filename`` adds ``Content-Disposition:
  attachment; filename="..."; filename*=UTF-8''...``; ``headers`` are added as given.
- ``add_huggingface(path, data, filename=None, cdn_path=None, cdn_base="") -> sha256``: Hugging Face's
  ``/resolve/`` for an LFS file (intake.md §8): 302 with ``X-Linked-Etag`` (the quoted SHA-256),
  ``X-Linked-Size``, ``X-Repo-Commit`` and ``ETag``, to the file at ``cdn_base + cdn_path`` (default
  ``/cdn-lfs/<sha256>`` with a signed-URL-like query), served with its ``Content-Disposition``.
- ``add_redirect(path, location, status=302, headers=None)``: a redirect to ``location`` as given
  (relative, absolute, to another host or port, to a private address); chains are redirects to redirects.
- ``add_html(path, body=LOGIN_PAGE, status=200)``: a web page (``text/html``), a login wall.
- ``add_stream(path, chunk=..., interval=0.0, total=None, content_length=None, stall_after=None)``: a
  generated body, ``chunk`` every ``interval`` seconds; ``total=None`` is endless; ``content_length``
  is what the header declares (None: chunked); after ``stall_after`` bytes it goes silent, connection
  open (until the client leaves, at most 60 s).
- ``add_status(path, status, body=b"", headers=None)``: any status, e.g. 401 or 404.

Anything else answers 404. ``HEAD`` answers the headers of ``GET``.

Range (RFC 9110 §14): one range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` answers 206 with
``Content-Range: bytes a-b/size`` (``b`` past the end is clamped); a range starting at or past the end
(or ``-0``) answers 416 with ``Content-Range: bytes */size``; several ranges, or a header that does not
parse, are ignored (200, the whole file), which RFC 9110 allows. ``files.ignore_range = True`` (all
files) or ``ignore_range=True`` (one file) makes the server ignore Range altogether (200, no
``Accept-Ranges``), like some storage hosts. Bodies are never compressed.

``files.requests`` lists every request as ``FileRequest(method, path, query, range, headers, status,
sent)`` in arrival order (``status`` set when the answer starts; ``sent`` counts the body bytes
written, so a client that read only a prefix and hung up shows a short count). ``files.full_gets(path)`` are the GETs of
a path without a Range header, ``files.ranged_gets(path)`` those with one (paths are matched and
logged decoded: ``/m/my%20model.ckpt`` is ``/m/my model.ckpt``): "the Range read happened
before any full GET" is ``files.requests.index(ranged[0]) < files.requests.index(full[0])``.
``await files.wait_idle()`` waits until no answer is in progress (e.g. before reading ``sent`` of a
body the client abandoned).

Not modelled: ``If-Range`` and other conditional requests, multipart/byteranges answers, HTTP/2,
keep-alive limits, ``Content-Encoding``s (a test can still send the header through ``headers=``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import re
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

__all__ = ["LOGIN_PAGE", "FileRequest", "FileServer"]

LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Log in</title></head><body><form method=post action=/login>"
              b"<input name=user><input name=password type=password><button>Log in</button></form></body></html>")
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_CHUNK = 256 * 1024


@dataclass
class FileRequest:
    """One request as the server saw it."""

    method: str
    path: str
    query: str
    range: str | None
    headers: dict[str, str]
    status: int | None = None
    sent: int = 0
    """Body bytes written to the connection (a client that stops reading early leaves this short)."""


@dataclass
class _File:
    data: bytes | Path
    content_type: str
    filename: str | None
    headers: dict[str, str]
    ignore_range: bool

    @property
    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else self.data.stat().st_size


@dataclass
class _Stream:
    chunk: bytes
    interval: float
    total: int | None
    content_length: int | None
    stall_after: int | None
    content_type: str


@dataclass
class _Fixed:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class FileServer:
    """See the module docstring."""

    def __init__(self, *, tls: bool = False, hostnames: Sequence[str] = ("files.example",),
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.tls = tls
        self.hostnames = tuple(hostnames)
        self.host = host
        self.port = port
        self.ignore_range = False
        self.requests: list[FileRequest] = []
        self._routes: dict[str, _File | _Stream | _Fixed] = {}
        self._runner: web.AppRunner | None = None
        self._ca_pem: bytes | None = None
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FileServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        server_ssl = None
        if self.tls:
            server_ssl, self._ca_pem = _server_tls(self.hostnames)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=server_ssl)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, path: str, *, host: str | None = None) -> str:
        """The URL of ``path`` on this server, named ``host`` (default 127.0.0.1)."""
        name = host or self.host
        if ":" in name and not name.startswith("["):
            name = f"[{name}]"
        return f"{self.scheme}://{name}:{self.port}{path}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's CA (only it); ``tls=True`` servers only."""
        if self._ca_pem is None:
            raise RuntimeError("start a tls=True server first")
        return ssl.create_default_context(cadata=self._ca_pem.decode("ascii"))

    # ----------------------------------------------------------------------------------- routes

    def add_file(self, path: str, data: bytes | Path, *, content_type: str = "application/octet-stream",
                 filename: str | None = None, headers: dict[str, str] | None = None,
                 ignore_range: bool = False) -> None:
        self._routes[path] = _File(data, content_type, filename, dict(headers or {}), ignore_range)

    def add_huggingface(self, path: str, data: bytes, *, filename: str | None = None, cdn_path: str | None = None,
                        cdn_base: str = "") -> str:
        """An LFS file behind Hugging Face's ``/resolve/`` redirect; returns its SHA-256 (lower-case hex)."""
        sha = hashlib.sha256(data).hexdigest()
        cdn_path = cdn_path or f"/cdn-lfs/{sha}"
        name = filename or path.rsplit("/", 1)[-1]
        self.add_file(cdn_path, data, filename=name, headers={"ETag": f'"{sha}"'})
        self.add_redirect(path, f"{cdn_base}{cdn_path}?X-Amz-Expires=3600&X-Amz-Signature=deadbeef", status=302,
                          headers={"X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                                   "X-Repo-Commit": "0" * 40, "ETag": f'"{sha}"'})
        return sha

    def add_redirect(self, path: str, location: str, *, status: int = 302, headers: dict[str, str] | None = None
                     ) -> None:
        self._routes[path] = _Fixed(status, b"", {**(headers or {}), "Location": location})

    def add_html(self, path: str, body: bytes = LOGIN_PAGE, *, status: int = 200) -> None:
        self._routes[path] = _Fixed(status, body, {"Content-Type": "text/html; charset=utf-8"})

    def add_stream(self, path: str, *, chunk: bytes = b"\0" * 65536, interval: float = 0.0, total: int | None = None,
                   content_length: int | None = None, stall_after: int | None = None,
                   content_type: str = "application/octet-stream") -> None:
        self._routes[path] = _Stream(chunk, interval, total, content_length, stall_after, content_type)

    def add_status(self, path: str, status: int, body: bytes = b"", *, headers: dict[str, str] | None = None) -> None:
        self._routes[path] = _Fixed(status, body, dict(headers or {}))

    # --------------------------------------------------------------------------------- requests

    def full_gets(self, path: str | None = None) -> list[FileRequest]:
        return [r for r in self.requests if r.method == "GET" and r.range is None and path in (None, r.path)]

    def ranged_gets(self, path: str | None = None) -> list[FileRequest]:
        return [r for r in self.requests if r.method == "GET" and r.range is not None and path in (None, r.path)]

    # ---------------------------------------------------------------------------------- serving

    async def wait_idle(self) -> None:
        """Wait until no request is being answered (a body the client abandoned has stopped)."""
        await self._idle.wait()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._active += 1
        self._idle.clear()
        try:
            return await self._answer(request)
        finally:
            self._active -= 1
            if not self._active:
                self._idle.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        record = FileRequest(request.method, request.path, request.query_string, request.headers.get("Range"),
                             dict(request.headers))
        self.requests.append(record)
        route = self._routes.get(request.path)
        if route is None:
            response: web.StreamResponse = web.Response(status=404, text="Not found")
        elif request.method not in ("GET", "HEAD"):
            response = web.Response(status=405, text="Method not allowed", headers={"Allow": "GET, HEAD"})
        elif isinstance(route, _Fixed):
            response = web.Response(status=route.status, body=route.body, headers=route.headers)
        elif isinstance(route, _Stream):
            record.status = 200
            return await self._serve_stream(request, route, record)
        else:
            record.status, response = await self._serve_file(request, route, record)
            return response
        record.status = response.status
        return response

    async def _serve_file(self, request: web.Request, file: _File, record: FileRequest
                          ) -> tuple[int, web.StreamResponse]:
        size = file.size
        ignore = self.ignore_range or file.ignore_range
        headers: dict[str, Any] = {"Content-Type": file.content_type, **file.headers}
        if not ignore:
            headers["Accept-Ranges"] = "bytes"
        if file.filename:
            headers["Content-Disposition"] = (f'attachment; filename="{_ascii(file.filename)}"; '
                                              f"filename*=UTF-8''{quote(file.filename)}")
        start, end, status = 0, size - 1, 200
        wanted = None if ignore else _parse_range(record.range, size)
        if wanted == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            return 416, web.Response(status=416, headers=headers)
        if isinstance(wanted, tuple):
            start, end = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        record.status = status
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start + 1
        await response.prepare(request)
        if request.method == "GET":
            with contextlib.suppress(ConnectionError):
                await self._write_slice(response, file.data, start, end + 1, record)
        return status, response

    async def _write_slice(self, response: web.StreamResponse, data: bytes | Path, start: int, stop: int,
                           record: FileRequest) -> None:
        if isinstance(data, bytes):
            for pos in range(start, stop, _CHUNK):
                block = data[pos:min(stop, pos + _CHUNK)]
                await response.write(block)
                record.sent += len(block)
        else:
            with data.open("rb") as handle:
                handle.seek(start)
                pos = start
                while pos < stop:
                    block = handle.read(min(_CHUNK, stop - pos))
                    if not block:
                        break
                    await response.write(block)
                    record.sent += len(block)
                    pos += len(block)
        await response.write_eof()

    async def _serve_stream(self, request: web.Request, route: _Stream, record: FileRequest) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": route.content_type})
        if route.content_length is not None:
            response.content_length = route.content_length
        await response.prepare(request)
        if request.method != "GET":
            return response
        sent = 0
        try:
            while route.total is None or sent < route.total:
                if route.stall_after is not None and sent >= route.stall_after:
                    await _idle_until_closed(request)
                    return response
                piece = route.chunk
                if route.total is not None:
                    piece = piece[:route.total - sent]
                await response.write(piece)
                sent += len(piece)
                record.sent = sent
                await asyncio.sleep(route.interval)
            await response.write_eof()
        except ConnectionError:
            pass
        return response


async def _idle_until_closed(request: web.Request, limit: float = 60.0) -> None:
    """Send nothing, keeping the connection open, until the client goes (or ``limit`` seconds)."""
    for _ in range(int(limit / 0.02)):
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(0.02)


def _parse_range(value: str | None, size: int) -> tuple[int, int] | str | None:
    """RFC 9110 §14.1.2 for one range: (first, last), "unsatisfiable", or None (no Range, or ignored)."""
    if value is None or "," in value:
        return None
    match = _RANGE.fullmatch(value)
    if not match or match.group(1) == match.group(2) == "":
        return None
    first_text, last_text = match.groups()
    if first_text == "":  # suffix: the last n bytes
        n = int(last_text)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last < first:
        return None  # invalid: ignored, RFC 9110 §14.1.1
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode("ascii").replace('"', "'").replace("\\", "/")


# ------------------------------------------------------------------------------------------------ TLS

_TLS_CACHE: dict[tuple[str, ...], tuple[bytes, bytes, bytes]] = {}


def _server_tls(hostnames: Sequence[str]) -> tuple[ssl.SSLContext, bytes]:
    """(server context, CA certificate PEM) for a certificate naming ``hostnames``, localhost, 127.0.0.1."""
    names = tuple(sorted({*hostnames, "localhost"}))
    if names not in _TLS_CACHE:
        _TLS_CACHE[names] = _issue(names)
    ca_pem, cert_pem, key_pem = _TLS_CACHE[names]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        context.load_cert_chain(cert_file, key_file)
    return context, ca_pem


def _issue(names: Sequence[str]) -> tuple[bytes, bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hubbot test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
          .not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(pem), cert.public_bytes(pem), key_pem
