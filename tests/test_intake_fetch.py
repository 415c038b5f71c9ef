"""The guarded fetcher (issue 12, point 2) against the loopback file server, over real sockets.

Names such as ``files.example`` reach the server through a resolver table given to the fetcher (no
DNS); the server speaks HTTPS with a certificate for ``files.example`` from its own CA, so the
fetcher runs as in production (https only, ``allow_private_networks`` off), with 127.0.0.1 trusted
explicitly (``trusted_addresses``, a test-only parameter). A recording network backend under the
guard lists every TCP connection the fetcher opened: "refused without any connection" is an empty list.

Expected values come from the documents: the IANA special-purpose address registries (RFC 6890 and
the RFCs of each block), RFC 1918, RFC 6052 (NAT64), RFC 9110 (Range, Content-Range, redirects),
RFC 6266 (Content-Disposition), the shared reference intake.md §3, §7 and §8.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from bot.config import IntakeSettings
from bot.intake.addresses import forbidden_reason, parse_ip_literal
from bot.intake.fetch import (
    FetchFailed,
    FetchLimits,
    FetchRefused,
    GuardedFetcher,
    NotAFile,
    Progress,
)
from tests.fakes.file_server import FileServer

HOSTS = ("files.example", "cdn.files.example", "other.example")
"""Names on the test certificate, resolving to the server (127.0.0.1)."""
ALLOWED = (*HOSTS, "internal.example", "nowhere.invalid")


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """httpcore's own backend, with a list of every (host, port) it was asked to connect to. It opens
    connections to 127.0.0.1 only, so that even a broken guard never lets a test leave the machine."""

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.connects: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
                          local_address: str | None = None, socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        self.connects.append((host, port))
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"the test backend connects to 127.0.0.1 only, not {host}")
        return await self.inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                            socket_options=socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class Table:
    """A resolver: name -> addresses, recording each lookup; unknown names fail like getaddrinfo."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


class World:
    def __init__(self, server: FileServer, fetcher: GuardedFetcher, backend: RecordingBackend, table: Table) -> None:
        self.server = server
        self.fetcher = fetcher
        self.backend = backend
        self.table = table

    def url(self, path: str, host: str = "files.example") -> str:
        return self.server.url(path, host=host)


def make_fetcher(server: FileServer | None, *, table: dict[str, list[str]] | None = None,
                 trusted: Iterable[str] = ("127.0.0.1",), allowed: Iterable[str] = ALLOWED,
                 allow_private: bool = False, limits: FetchLimits | None = None,
                 max_file_bytes: int = 8 * 1024**3) -> tuple[GuardedFetcher, RecordingBackend, Table]:
    backend = RecordingBackend()
    resolver = Table(table if table is not None else {h: ["127.0.0.1"] for h in HOSTS})
    settings = IntakeSettings(allowed_hosts=tuple(allowed), allow_private_networks=allow_private,
                              max_file_bytes=max_file_bytes)
    verify = server.client_ssl_context() if server is not None and server.tls else True
    fetcher = GuardedFetcher(settings, limits=limits, resolver=resolver, verify=verify, network_backend=backend,
                             trusted_addresses=trusted)
    return fetcher, backend, resolver


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with FileServer(tls=True, hostnames=HOSTS) as server:
        fetcher, backend, table = make_fetcher(server)
        async with fetcher:
            yield World(server, fetcher, backend, table)


async def refused(fetcher: GuardedFetcher, url: str) -> list[FetchRefused]:
    """The refusal of each entry point (probe, read_range, stream) for ``url``."""
    errors: list[FetchRefused] = []
    with pytest.raises(FetchRefused) as probe:
        await fetcher.probe(url)
    errors.append(probe.value)
    with pytest.raises(FetchRefused) as ranged:
        await fetcher.read_range(url, 0, 99_999)
    errors.append(ranged.value)
    with pytest.raises(FetchRefused) as streamed:
        async with fetcher.stream(url) as body:
            async for _ in body:
                pass
    errors.append(streamed.value)
    return errors


# ------------------------------------------------------------------------------- address classes


@pytest.mark.parametrize(("address", "words"), [
    ("127.0.0.1", "loopback"),                  # RFC 1122 §3.2.1.3
    ("127.255.0.9", "loopback"),
    ("10.0.0.1", "private"),                    # RFC 1918
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "shared"),                   # RFC 6598
    ("100.127.255.254", "shared"),
    ("169.254.169.254", "link-local"),          # RFC 3927, cloud metadata
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "this network"),                # RFC 791
    ("192.0.0.8", "IETF protocol assignment"),  # RFC 6890 (is_global says True on 3.11)
    ("192.0.2.1", "documentation"),             # RFC 5737 TEST-NET-1
    ("198.51.100.7", "documentation"),          # TEST-NET-2
    ("203.0.113.9", "documentation"),           # TEST-NET-3
    ("198.18.0.1", "benchmarking"),             # RFC 2544
    ("198.19.255.1", "benchmarking"),
    ("224.0.0.1", "multicast"),                 # RFC 5771 (is_global says True on 3.11)
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),                  # RFC 1112
    ("255.255.255.255", "broadcast"),           # RFC 919
    ("::", "unspecified"),                      # RFC 4291
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),           # IPv4-mapped, RFC 4291 §2.5.5.2
    ("::ffff:10.1.2.3", "private"),
    ("64:ff9b::a00:1", "private"),              # NAT64 of 10.0.0.1, RFC 6052
    ("64:ff9b::7f00:1", "loopback"),            # NAT64 of 127.0.0.1 (is_global says True on 3.11)
    ("64:ff9b:1::1", "NAT64"),                  # local-use NAT64, RFC 8215
    ("2002:7f00:1::1", "6to4"),                 # RFC 3056 (is_global says True on 3.11)
    ("2002:808:808::1", "6to4"),                # 6to4 of a global address: still refused
    ("2001::1", "Teredo"),                      # RFC 4380
    ("2001:2::1", "benchmarking"),              # RFC 5180
    ("2001:db8::1", "documentation"),           # RFC 3849
    ("3fff::1", "documentation"),               # RFC 9637
    ("100::1", "discard"),                      # RFC 6666
    ("fc00::1", "private"),                     # unique local, RFC 4193
    ("fd12:3456::1", "private"),
    ("fe80::1", "link-local"),
    ("fec0::1", "site-local"),                  # RFC 3879
    ("ff02::1", "multicast"),                   # (is_global says True on 3.11)
    ("4000::1", "reserved"),                    # outside 2000::/3, unallocated
])
def test_special_addresses_are_refused_in_words(address: str, words: str) -> None:
    reason = forbidden_reason(address)
    assert reason is not None, f"{address} should be refused"
    assert words.lower() in reason.lower()


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001::1",
    "::ffff:8.8.8.8",          # mapped global
    "64:ff9b::808:808",        # NAT64 of 8.8.8.8: how an IPv6-only network reaches it (RFC 6052)
])
def test_global_unicast_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(address) is None


def test_allow_private_networks_opens_private_and_loopback_only() -> None:
    for address in ("10.0.0.1", "192.168.0.1", "127.0.0.1", "::1", "::ffff:127.0.0.1", "100.64.0.1", "fd00::1"):
        assert forbidden_reason(address, allow_private=True) is None, address
    for address in ("169.254.169.254", "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "2002:7f00:1::1"):
        assert forbidden_reason(address, allow_private=True) is not None, address


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "017700000001", "127.1", "127.0.1", "0x7f.1"])
def test_numeric_host_forms_are_read_as_the_c_library_reads_them(host: str) -> None:
    assert parse_ip_literal(host) == ipaddress.IPv4Address(socket.inet_aton(host))
    assert parse_ip_literal(host) == ipaddress.IPv4Address("127.0.0.1")


def test_host_names_are_not_addresses() -> None:
    for host in ("files.example", "cafe", "0xcafe.example", "1.2.3.example"):
        assert parse_ip_literal(host) is None, host


# ------------------------------------------------------------------ refused without any connection


@pytest.mark.parametrize(("url", "words"), [
    ("http://169.254.169.254/", "link-local"),
    ("https://127.0.0.1/", "loopback"),
    ("https://[::1]/", "loopback"),
    ("https://[::ffff:127.0.0.1]/", "loopback"),
    ("https://[64:ff9b::a00:1]/", "private"),
    ("https://2130706433/", "loopback"),
    ("https://0x7f000001:8443/x", "loopback"),
])
async def test_the_acceptance_urls_are_refused_without_any_connection(url: str, words: str) -> None:
    # every one of them on the allow list, so that it is the address rule that refuses
    allowed = ("169.254.169.254", "127.0.0.1", "::1", "::ffff:127.0.0.1", "64:ff9b::a00:1", "2130706433",
               "0x7f000001")
    fetcher, backend, table = make_fetcher(None, allowed=allowed, trusted=())
    async with fetcher:
        for error in await refused(fetcher, url):
            assert error.kind == "address"
            assert words in str(error)
    assert backend.connects == [] and table.lookups == []


async def test_a_host_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    fetcher, backend, table = make_fetcher(None, table={"files.example": ["10.0.0.1"]}, trusted=())
    async with fetcher:
        for error in await refused(fetcher, "https://files.example/model.safetensors"):
            assert error.kind == "address"
            assert "files.example resolves to 10.0.0.1" in str(error) and "private" in str(error)
    assert table.lookups and backend.connects == []


async def test_one_bad_address_among_good_ones_refuses_the_host() -> None:
    # DNS answers two addresses; a client could be sent to either, so both must pass
    fetcher, backend, _ = make_fetcher(None, table={"files.example": ["127.0.0.1", "169.254.169.254"]})
    async with fetcher:
        with pytest.raises(FetchRefused, match=re.escape("169.254.169.254, a link-local address")):
            await fetcher.probe("https://files.example/x.bin")
    assert backend.connects == []


async def test_a_redirect_to_a_private_address_is_refused_before_connecting(world: World) -> None:
    world.table.table["internal.example"] = ["10.0.0.1"]  # allowed by name: its address must refuse it
    world.server.add_redirect("/start", f"https://internal.example:{world.server.port}/secret")
    with pytest.raises(FetchRefused) as caught:
        await world.fetcher.probe(world.url("/start"))
    assert caught.value.kind == "address"
    assert "internal.example resolves to 10.0.0.1, a private address" in str(caught.value)
    # the first hop was served; nothing ever connected anywhere but to the checked loopback server
    assert [r.path for r in world.server.requests] == ["/start"]
    assert {host for host, _ in world.backend.connects} == {"127.0.0.1"}


@pytest.mark.parametrize(("location", "kind", "words"), [
    ("https://10.0.0.1/secret", "address", "a private address"),
    ("https://[::1]/secret", "address", "loopback"),
    ("https://[::ffff:169.254.169.254]/latest/meta-data/", "address", "link-local"),
    ("http://2130706434/", "address", "loopback"),                 # decimal 127.0.0.2 (intake.md §7)
    ("file:///etc/passwd", "scheme", "file scheme"),
    ("http://files.example/x", "scheme", "plain http"),
    ("https://evil.example/x", "host", "not an allowed host"),
    ("https://user:secret@files.example/x", "credentials", "credentials"),
])
async def test_every_redirect_hop_is_checked(world: World, location: str, kind: str, words: str) -> None:
    world.server.add_redirect("/start", location, status=307)
    with pytest.raises(FetchRefused) as caught:
        await world.fetcher.probe(world.url("/start"))
    assert caught.value.kind == kind and words in str(caught.value)
    assert "redirect 1" in str(caught.value)
    assert [r.path for r in world.server.requests] == ["/start"]
    assert len(world.backend.connects) == 1


async def test_the_checked_address_is_the_one_connected_to(world: World) -> None:
    world.server.add_file("/f.bin", b"x" * 100)
    await world.fetcher.probe(world.url("/f.bin"))
    # one DNS lookup, then a connection to the address itself, not to the name (no second lookup)
    assert world.table.lookups == ["files.example"]
    assert world.backend.connects == [("127.0.0.1", world.server.port)]


async def test_tls_still_verifies_the_host_name_while_connecting_to_the_address() -> None:
    async with FileServer(tls=True, hostnames=("files.example",)) as server:
        server.add_file("/f.bin", b"x" * 100)
        fetcher, backend, _ = make_fetcher(server, table={"files.example": ["127.0.0.1"],
                                                          "other.example": ["127.0.0.1"]})
        async with fetcher:
            assert (await fetcher.probe(server.url("/f.bin", host="files.example"))).size == 100
            # same address, but the certificate does not name other.example
            with pytest.raises(FetchFailed, match="certificate"):
                await fetcher.probe(server.url("/f.bin", host="other.example"))
        assert [host for host, _ in backend.connects] == ["127.0.0.1", "127.0.0.1"]


# ------------------------------------------------------------------------------------- the rules


async def test_plain_http_is_refused_unless_private_networks_are_allowed() -> None:
    async with FileServer() as server:
        server.add_file("/f.bin", b"abc")
        fetcher, backend, _ = make_fetcher(server, allowed=("127.0.0.1",))
        async with fetcher:
            with pytest.raises(FetchRefused, match="plain http") as caught:
                await fetcher.probe(server.url("/f.bin"))
            assert caught.value.kind == "scheme"
        assert backend.connects == []
        # the switch for local tests: http, and loopback, without any trusted address
        fetcher, backend, _ = make_fetcher(server, allowed=("127.0.0.1",), trusted=(), allow_private=True)
        async with fetcher:
            assert (await fetcher.probe(server.url("/f.bin"))).size == 3
        assert backend.connects == [("127.0.0.1", server.port)]


async def test_credentials_in_the_link_are_refused(world: World) -> None:
    url = f"https://user:hunter2@files.example:{world.server.port}/f.bin"
    for error in await refused(world.fetcher, url):
        assert error.kind == "credentials"
        assert "hunter2" not in str(error) and "hunter2" not in (error.url or "")
    assert world.backend.connects == [] and world.table.lookups == []


@pytest.mark.parametrize(("host", "allowed"), [
    ("files.example", True),
    ("cdn.files.example", True),            # a subdomain of an entry
    ("a.b.files.example", True),
    ("FILES.EXAMPLE.", True),               # case and the root dot do not matter
    ("notfiles.example", False),            # a suffix that is not a subdomain
    ("files.example.evil.test", False),
    ("example", False),
])
async def test_allowed_hosts_match_the_host_and_its_subdomains(host: str, allowed: bool) -> None:
    fetcher, backend, _ = make_fetcher(None, allowed=("files.example",),
                                       table={host.lower().rstrip("."): ["127.0.0.1"]})
    async with fetcher:
        if allowed:
            fetcher.check_url(f"https://{host}:8443/f.bin")  # any port
        else:
            with pytest.raises(FetchRefused, match="not an allowed host") as caught:
                await fetcher.probe(f"https://{host}/f.bin")
            assert caught.value.kind == "host"
    assert backend.connects == []


async def test_a_host_off_the_list_is_never_resolved(world: World) -> None:
    with pytest.raises(FetchRefused, match=re.escape("evil.example, which is not an allowed host")):
        await world.fetcher.probe("https://evil.example/f.bin")
    assert world.table.lookups == [] and world.backend.connects == []


# ------------------------------------------------------------------------------------- redirects


async def test_five_redirects_are_followed_and_the_sixth_is_refused(world: World) -> None:
    data = b"weights" * 10
    world.server.add_file("/file.bin", data)
    for i in range(5):  # /r0 -> /r1 -> ... -> /r4 -> /file.bin: five redirects
        world.server.add_redirect(f"/r{i}", f"/r{i + 1}" if i < 4 else "/file.bin")
    info = await world.fetcher.probe(world.url("/r0"))
    assert info.size == len(data) and len(info.redirects) == 5

    world.server.requests.clear()
    world.server.add_redirect("/r-extra", "/r0")  # six redirects
    with pytest.raises(FetchRefused, match="too many redirects") as caught:
        await world.fetcher.probe(world.url("/r-extra"))
    assert caught.value.kind == "redirects"
    assert [r.path for r in world.server.requests] == ["/r-extra", "/r0", "/r1", "/r2", "/r3", "/r4"]


async def test_a_redirect_loop_ends(world: World) -> None:
    world.server.add_redirect("/loop", "/loop", status=301)
    with pytest.raises(FetchRefused, match="too many redirects"):
        await world.fetcher.probe(world.url("/loop"))
    assert len(world.server.requests) == 6


async def test_relative_and_absolute_redirects_to_other_allowed_hosts(world: World) -> None:
    world.server.add_file("/store/final.bin", b"z" * 10, filename="final.bin")
    world.server.add_redirect("/a/b/start", "../hop")                      # relative: /a/hop
    world.server.add_redirect("/a/hop", f"https://cdn.files.example:{world.server.port}/store/final.bin?sig=1")
    info = await world.fetcher.probe(world.url("/a/b/start"))
    assert info.size == 10 and info.file_name == "final.bin"
    assert [r.path for r in world.server.requests] == ["/a/b/start", "/a/hop", "/store/final.bin"]
    assert info.final_url == f"https://cdn.files.example:{world.server.port}/store/final.bin"  # no signature
    # each connection looks its host up once (a redirect's connection is not kept)
    assert world.table.lookups[-1] == "cdn.files.example"
    assert set(world.table.lookups) == {"files.example", "cdn.files.example"}


async def test_signed_redirect_targets_are_resolved_again_on_each_call(world: World) -> None:
    # GitHub release assets: a 302 to a pre-signed URL valid 300 s (intake.md §8)
    world.server.add_file("/signed/one", b"A" * 50)
    world.server.add_redirect("/releases/download/v1/model.bin", "/signed/one?X-Amz-Expires=300")
    assert (await world.fetcher.probe(world.url("/releases/download/v1/model.bin"))).size == 50
    # the signature expired; the release now points to a new one
    world.server.add_status("/signed/one", 403, b"<Error>Request has expired</Error>")
    world.server.add_file("/signed/two", b"A" * 50)
    world.server.add_redirect("/releases/download/v1/model.bin", "/signed/two?X-Amz-Expires=300")
    async with world.fetcher.stream(world.url("/releases/download/v1/model.bin")) as body:
        assert b"".join([chunk async for chunk in body]) == b"A" * 50
    assert [r.path for r in world.server.requests] == [
        "/releases/download/v1/model.bin", "/signed/one", "/releases/download/v1/model.bin", "/signed/two"]


# ----------------------------------------------------------------------------------------- size


async def test_a_declared_size_over_the_cap_is_refused_before_the_body(tmp_path: Path) -> None:
    async with FileServer(tls=True, hostnames=HOSTS) as server:
        big = tmp_path / "big.bin"
        with big.open("wb") as handle:
            handle.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of zeros
        server.add_file("/big.bin", big)
        fetcher, _, _ = make_fetcher(server, max_file_bytes=1024 * 1024)
        async with fetcher:
            url = server.url("/big.bin", host="files.example")
            with pytest.raises(FetchRefused, match="over the limit") as caught:
                await fetcher.probe(url)
            assert caught.value.kind == "size"
            with pytest.raises(FetchRefused, match="over the limit"):
                async with fetcher.stream(url) as body:
                    async for _ in body:
                        pass
            with pytest.raises(FetchRefused, match="over the limit"):
                async with fetcher.stream(url, max_bytes=1000):
                    pass
        await server.wait_idle()
        assert server.full_gets("/big.bin")[0].sent < 64 * 1024 * 1024 // 2


async def test_a_body_longer_than_the_cap_is_cut_while_streaming(world: World) -> None:
    world.server.add_stream("/endless", chunk=b"\1" * 65536)  # no Content-Length, never ends
    got = 0
    with pytest.raises(FetchRefused, match="over the limit") as caught:
        async with world.fetcher.stream(world.url("/endless"), max_bytes=1_000_000, deadline=10) as body:
            assert body.info.size is None
            async for chunk in body:
                got += len(chunk)
    assert caught.value.kind == "size"
    assert got <= 1_000_000 < got + 65536 * 2


# ----------------------------------------------------------------------------------------- time


async def test_a_server_that_goes_silent_hits_the_idle_timeout() -> None:
    async with FileServer(tls=True, hostnames=HOSTS) as server:
        server.add_stream("/stall", chunk=b"\0" * 1000, stall_after=1000)
        fetcher, _, _ = make_fetcher(server, limits=FetchLimits(idle_timeout=0.3))
        async with fetcher:
            got = 0
            with pytest.raises(FetchFailed, match=re.escape("sent nothing for 0.3 s")):
                async with fetcher.stream(server.url("/stall", host="files.example"), deadline=10) as body:
                    async for chunk in body:
                        got += len(chunk)
            assert got == 1000


async def test_a_trickling_server_hits_the_total_deadline() -> None:
    async with FileServer(tls=True, hostnames=HOSTS) as server:
        # a chunk every 20 ms keeps the idle timer happy forever
        server.add_stream("/trickle", chunk=b"\0" * 10_000, interval=0.02)
        fetcher, _, _ = make_fetcher(server, limits=FetchLimits(idle_timeout=5.0, probe_deadline=0.5))
        async with fetcher:
            got = 0
            with pytest.raises(FetchFailed, match="took too long"):
                async with fetcher.stream(server.url("/trickle", host="files.example"), deadline=0.5,
                                          max_bytes=2_000_000) as body:
                    async for chunk in body:
                        got += len(chunk)
            assert got > 0
            with pytest.raises(FetchFailed, match="took too long"):
                await fetcher.read_range(server.url("/trickle", host="files.example"), 0, 10_000_000)


# ---------------------------------------------------------------------------- what comes back


async def test_a_login_page_instead_of_a_file_is_a_clear_error(world: World) -> None:
    world.server.add_html("/login")
    world.server.add_redirect("/api/download/models/1", "/login?returnUrl=/api/download/models/1")
    for error in await refused(world.fetcher, world.url("/api/download/models/1")):
        assert isinstance(error, NotAFile)
        assert "web page" in str(error) and "not to a file" in str(error)


async def test_http_errors_and_transport_failures_are_fetch_failed(world: World) -> None:
    world.server.add_status("/private", 401, b'{"error":"Unauthorized"}')
    with pytest.raises(FetchFailed, match="login") as caught:
        await world.fetcher.probe(world.url("/private"))
    assert caught.value.status == 401
    with pytest.raises(FetchFailed, match="no file") as caught:
        await world.fetcher.probe(world.url("/missing"))
    assert caught.value.status == 404
    # a name that does not resolve, and a port nobody listens on
    with pytest.raises(FetchFailed, match=re.escape("could not resolve nowhere.invalid")):
        await world.fetcher.probe("https://nowhere.invalid/f.bin")
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(FetchFailed, match=re.escape("could not connect to files.example")):
        await world.fetcher.probe(f"https://files.example:{port}/f.bin")


async def test_identity_encoding_is_asked_and_a_compressed_body_refused(world: World) -> None:
    world.server.add_file("/gz.bin", b"\x1f\x8b" + b"\0" * 30, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchRefused, match="compressed") as caught:
        await world.fetcher.probe(world.url("/gz.bin"))
    assert caught.value.kind == "encoding"
    assert world.server.requests[0].headers["Accept-Encoding"] == "identity"


async def test_proxy_variables_are_ignored(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing there
    world.server.add_file("/f.bin", b"abc")
    fetcher, backend, _ = make_fetcher(world.server)  # built with the variables set
    async with fetcher:
        assert (await fetcher.probe(world.url("/f.bin"))).size == 3
    assert backend.connects == [("127.0.0.1", world.server.port)]


# ---------------------------------------------------------------------------------------- range


async def test_a_range_read_when_the_server_honours_range(world: World) -> None:
    data = bytes(range(256)) * 400
    world.server.add_file("/m.safetensors", data)
    got = await world.fetcher.read_range(world.url("/m.safetensors"), 8, 15)
    assert got.honoured and got.data == data[8:16] and got.total == len(data)
    assert [(r.range, r.status) for r in world.server.requests] == [("bytes=8-15", 206)]
    # past the end: RFC 9110 §14.1.2 clamps the last byte; a start past the end is 416
    tail = await world.fetcher.read_range(world.url("/m.safetensors"), len(data) - 4, len(data) + 100)
    assert tail.data == data[-4:] and tail.honoured
    beyond = await world.fetcher.read_range(world.url("/m.safetensors"), len(data), len(data) + 10)
    assert beyond.data == b"" and beyond.total == len(data)


async def test_a_range_read_when_the_server_ignores_range_reads_only_the_prefix(tmp_path: Path) -> None:
    async with FileServer(tls=True, hostnames=HOSTS) as server:
        path = tmp_path / "m.bin"
        prefix = bytes(range(256)) * 400
        with path.open("wb") as handle:
            handle.write(prefix)
            handle.truncate(64 * 1024 * 1024)
        server.add_file("/m.bin", path, ignore_range=True)
        fetcher, _, _ = make_fetcher(server)
        async with fetcher:
            got = await fetcher.read_range(server.url("/m.bin", host="files.example"), 8, 99_999)
        assert not got.honoured
        assert got.data == prefix[8:100_000] and got.total == 64 * 1024 * 1024
        await server.wait_idle()
        (request,) = server.requests
        assert request.status == 200 and request.range == "bytes=8-99999"
        assert request.sent < 32 * 1024 * 1024, "the whole file was read to get a prefix"


# ------------------------------------------------------------------------------- what the host says


async def test_hugging_face_headers_give_the_size_and_sha256_before_download(world: World) -> None:
    data = b"LFS object " * 1000
    world.server.add_huggingface("/org/repo/resolve/main/lora.safetensors", data)
    info = await world.fetcher.probe(world.url("/org/repo/resolve/main/lora.safetensors"))
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size == len(data) and info.file_name == "lora.safetensors"
    assert len(info.redirects) == 1 and "/cdn-lfs/" in info.redirects[0] and "Signature" not in info.redirects[0]
    # the Range header goes with the request to the final hop (intake.md §8)
    assert [r.range for r in world.server.requests] == ["bytes=0-0", "bytes=0-0"]


async def test_an_etag_that_is_not_an_lfs_sha256_is_not_taken_for_one(world: World) -> None:
    world.server.add_file("/blob/config.json", b"{}", content_type="application/json")
    # a git blob SHA-1 (40 hex digits), as Hugging Face sends for non-LFS files
    world.server.add_redirect("/r/resolve/main/config.json", "/blob/config.json",
                              headers={"X-Linked-Etag": '"' + "a" * 40 + '"', "X-Linked-Size": "2"})
    info = await world.fetcher.probe(world.url("/r/resolve/main/config.json"))
    assert info.sha256 is None and info.size == 2


async def test_the_file_name_comes_from_content_disposition_then_the_link(world: World) -> None:
    world.server.add_file("/dl/123", b"x", filename="Frog Style – v2.safetensors")  # RFC 6266 filename*
    assert (await world.fetcher.probe(world.url("/dl/123"))).file_name == "Frog Style – v2.safetensors"
    world.server.add_file("/m/my model.ckpt", b"x")  # the server matches decoded paths
    assert (await world.fetcher.probe(world.url("/m/my%20model.ckpt"))).file_name == "my model.ckpt"
    world.server.add_file("/evil", b"x", headers={"Content-Disposition": 'attachment; filename="../../etc/passwd"'})
    assert (await world.fetcher.probe(world.url("/evil"))).file_name == "passwd"


async def test_a_stream_reports_progress_and_ends_with_the_size(world: World) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB
    world.server.add_file("/m.bin", data)
    seen: list[Progress] = []

    async def report(progress: Progress) -> None:
        seen.append(progress)

    fetcher, _, _ = make_fetcher(world.server, limits=FetchLimits(progress_interval=0.0))
    async with fetcher, fetcher.stream(world.url("/m.bin"), on_progress=report) as body:
        assert body.info.size == len(data)
        digest = hashlib.sha256()
        async for chunk in body:
            digest.update(chunk)
    assert digest.digest() == hashlib.sha256(data).digest()
    assert len(seen) >= 2 and seen[-1].done and not seen[0].done
    assert seen[-1].received == seen[-1].total == len(data)
    assert [p.received for p in seen] == sorted(p.received for p in seen)
    assert all(p.bytes_per_second >= 0 for p in seen) and seen[-1].elapsed > 0


# ------------------------------------------------------------------------------ the fake itself


async def test_the_file_server_answers_ranges_as_rfc_9110_says() -> None:
    data = bytes(range(100))
    async with FileServer() as server, httpx.AsyncClient() as client:
        server.add_file("/f", data)

        async def get(range_: str | None) -> httpx.Response:
            return await client.get(server.url("/f"), headers={"Range": range_} if range_ else {})

        whole = await get(None)
        assert whole.status_code == 200 and whole.content == data and whole.headers["Accept-Ranges"] == "bytes"
        first = await get("bytes=0-9")                      # §14.1.2 first-last
        assert first.status_code == 206 and first.content == data[:10]
        assert first.headers["Content-Range"] == "bytes 0-9/100"  # §14.4
        open_ended = await get("bytes=90-")
        assert open_ended.content == data[90:] and open_ended.headers["Content-Range"] == "bytes 90-99/100"
        suffix = await get("bytes=-5")                      # the last 5 bytes
        assert suffix.content == data[-5:] and suffix.headers["Content-Range"] == "bytes 95-99/100"
        clamped = await get("bytes=98-1000")                # a last-pos past the end is the end
        assert clamped.content == data[98:] and clamped.headers["Content-Range"] == "bytes 98-99/100"
        beyond = await get("bytes=100-200")                 # §15.5.17: 416 with bytes */length
        assert beyond.status_code == 416 and beyond.headers["Content-Range"] == "bytes */100"
        for ignored in ("bytes=5-2", "items=0-1", "bytes=0-1,5-6"):  # invalid, other unit, several: may be ignored
            answer = await get(ignored)
            assert answer.status_code == 200 and answer.content == data, ignored
        server.ignore_range = True
        plain = await get("bytes=0-9")
        assert plain.status_code == 200 and plain.content == data and "Accept-Ranges" not in plain.headers
        head = await client.head(server.url("/f"))
        assert head.status_code == 200 and head.headers["Content-Length"] == "100" and head.content == b""
    assert [r.range for r in server.ranged_gets("/f")][:2] == ["bytes=0-9", "bytes=90-"]
    assert len(server.full_gets("/f")) == 1
