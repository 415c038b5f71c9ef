"""Which IP addresses the intake may connect to: only globally reachable unicast ones.

``forbidden_reason(ip)`` answers ``None`` for an address the fetcher may connect to, else the reason in
words ("a loopback address (127.0.0.0/8)"). The tables follow the IANA IPv4 and IPv6 Special-Purpose
Address Registries (RFC 6890 and the RFCs each row cites) plus RFC 1918 and the multicast ranges.
``ipaddress.is_global`` is checked last, but never trusted alone: on Python 3.11 it answers True for
multicast (``224.0.0.1``, ``ff02::1``), for ``192.0.0.8`` and for NAT64/6to4 wrappings of loopback
(shared reference intake.md §7), and its tables change between Python releases.

Wrapped IPv4 addresses are unwrapped and checked as IPv4: IPv4-mapped ``::ffff:a.b.c.d`` and NAT64
``64:ff9b::a.b.c.d`` (RFC 6052; an IPv6-only network reaches IPv4 hosts that way, so a wrapped global
address is allowed). 6to4 (``2002::/16``) and Teredo (``2001::/32``) are refused outright: the tunnel
endpoint they name is not the host that answers. Outside ``2000::/3`` (the only IPv6 space IANA
allocates for global unicast) everything is refused.

``allow_private=True`` (``intake.allow_private_networks``, for local tests) lets private (RFC 1918,
unique local ``fc00::/7``), shared (``100.64.0.0/10``) and loopback addresses through; link-local
(cloud metadata lives at ``169.254.169.254``), multicast, reserved and the rest stay refused.
"""

from __future__ import annotations

import ipaddress
from typing import Final

__all__ = ["IPAddress", "forbidden_reason", "parse_ip_literal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Categories that ``allow_private`` lets through.
_PRIVATE_KINDS: Final = frozenset({"private", "shared", "loopback"})

_V4: Final[tuple[tuple[str, str, str], ...]] = (
    # (network, kind, words)
    ("0.0.0.0/32", "unspecified", "the unspecified address (0.0.0.0)"),
    ("0.0.0.0/8", "reserved", "a 'this network' address (0.0.0.0/8, RFC 791)"),
    ("10.0.0.0/8", "private", "a private address (10.0.0.0/8, RFC 1918)"),
    ("100.64.0.0/10", "shared", "a shared address (carrier-grade NAT, 100.64.0.0/10, RFC 6598)"),
    ("127.0.0.0/8", "loopback", "a loopback address (127.0.0.0/8)"),
    ("169.254.0.0/16", "link-local", "a link-local address (169.254.0.0/16, where cloud metadata services live)"),
    ("172.16.0.0/12", "private", "a private address (172.16.0.0/12, RFC 1918)"),
    ("192.0.0.0/24", "reserved", "an IETF protocol assignment (192.0.0.0/24, RFC 6890)"),
    ("192.0.2.0/24", "documentation", "a documentation address (192.0.2.0/24, TEST-NET-1, RFC 5737)"),
    ("192.31.196.0/24", "reserved", "an AS112 anycast address (192.31.196.0/24, RFC 7535)"),
    ("192.52.193.0/24", "reserved", "an AMT anycast address (192.52.193.0/24, RFC 7450)"),
    ("192.88.99.0/24", "reserved", "a 6to4 relay anycast address (192.88.99.0/24, deprecated by RFC 7526)"),
    ("192.168.0.0/16", "private", "a private address (192.168.0.0/16, RFC 1918)"),
    ("192.175.48.0/24", "reserved", "an AS112 DNS address (192.175.48.0/24, RFC 7534)"),
    ("198.18.0.0/15", "benchmarking", "a benchmarking address (198.18.0.0/15, RFC 2544)"),
    ("198.51.100.0/24", "documentation", "a documentation address (198.51.100.0/24, TEST-NET-2, RFC 5737)"),
    ("203.0.113.0/24", "documentation", "a documentation address (203.0.113.0/24, TEST-NET-3, RFC 5737)"),
    ("224.0.0.0/4", "multicast", "a multicast address (224.0.0.0/4)"),
    ("255.255.255.255/32", "reserved", "the broadcast address (255.255.255.255)"),
    ("240.0.0.0/4", "reserved", "a reserved address (240.0.0.0/4)"),
)

_V6: Final[tuple[tuple[str, str, str], ...]] = (
    ("::/128", "unspecified", "the unspecified address (::)"),
    ("::1/128", "loopback", "the IPv6 loopback address (::1)"),
    ("::/96", "reserved", "an IPv4-compatible IPv6 address (::/96, deprecated by RFC 4291)"),
    ("64:ff9b:1::/48", "reserved", "a local-use NAT64 address (64:ff9b:1::/48, RFC 8215)"),
    ("100::/64", "reserved", "a discard-only address (100::/64, RFC 6666)"),
    ("2001::/32", "tunnel", "a Teredo tunnel address (2001::/32, RFC 4380)"),
    ("2001:2::/48", "benchmarking", "a benchmarking address (2001:2::/48, RFC 5180)"),
    ("2001:db8::/32", "documentation", "a documentation address (2001:db8::/32, RFC 3849)"),
    ("2001::/23", "reserved", "an IETF protocol assignment (2001::/23, RFC 2928)"),
    ("2002::/16", "tunnel", "a 6to4 tunnel address (2002::/16, RFC 3056)"),
    ("3fff::/20", "documentation", "a documentation address (3fff::/20, RFC 9637)"),
    ("5f00::/16", "reserved", "a segment-routing SID (5f00::/16, RFC 9602)"),
    ("fc00::/7", "private", "a private address (unique local, fc00::/7, RFC 4193)"),
    ("fe80::/10", "link-local", "a link-local address (fe80::/10)"),
    ("fec0::/10", "reserved", "a site-local address (fec0::/10, deprecated by RFC 3879)"),
    ("ff00::/8", "multicast", "a multicast address (ff00::/8)"),
)

_V4_NETS: Final = tuple((ipaddress.IPv4Network(net), kind, words) for net, kind, words in _V4)
_V6_NETS: Final = tuple((ipaddress.IPv6Network(net), kind, words) for net, kind, words in _V6)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")
_GLOBAL_UNICAST_V6: Final = ipaddress.IPv6Network("2000::/3")


def forbidden_reason(ip: IPAddress | str, *, allow_private: bool = False) -> str | None:
    """``None`` when the intake may connect to ``ip``, else why not, in words.

    >>> forbidden_reason("127.0.0.1")
    'a loopback address (127.0.0.0/8)'
    >>> forbidden_reason("::ffff:10.0.0.1")
    'an IPv4-mapped address of 10.0.0.1, a private address (10.0.0.0/8, RFC 1918)'
    >>> forbidden_reason("93.184.215.14") is None
    True
    """
    kind, words = _classify(ipaddress.ip_address(ip) if isinstance(ip, str) else ip)
    if kind is None or (allow_private and kind in _PRIVATE_KINDS):
        return None
    return words


def _classify(ip: IPAddress) -> tuple[str | None, str]:
    """(kind, words) of the first special range ``ip`` falls in; (None, "") for a global unicast address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            kind, words = _classify(ip.ipv4_mapped)
            return kind, f"an IPv4-mapped address of {ip.ipv4_mapped}, {words}" if kind else ""
        if ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            kind, words = _classify(inner)
            return kind, f"a NAT64 address of {inner}, {words}" if kind else ""
        for net, kind, words in _V6_NETS:
            if ip in net:
                return kind, words
        if ip not in _GLOBAL_UNICAST_V6:
            return "reserved", "a reserved address (outside 2000::/3, the global unicast space)"
    else:
        for net4, kind, words in _V4_NETS:
            if ip in net4:
                return kind, words
    if ip.is_multicast:
        return "multicast", "a multicast address"
    if not ip.is_global or ip.is_reserved or ip.is_private or ip.is_link_local or ip.is_loopback:
        return "reserved", "an address that is not globally reachable"
    return None, ""


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names literally, else ``None`` (a name to resolve).

    Besides ``1.2.3.4`` and ``::1`` (brackets removed by the URL parser, a ``%25`` zone kept), this
    accepts what the C resolver accepts as IPv4 (``inet_aton``): ``2130706433``, ``0x7f000001``,
    ``017700000001``, ``127.1`` — all 127.0.0.1. A host of digits, dots and hex that is not a valid
    address raises ``ValueError``: no DNS name looks like that.
    """
    text = host.strip().rstrip(".").lower()
    if ":" in text:
        return ipaddress.IPv6Address(text.replace("%25", "%"))
    if not text or any(c not in "0123456789abcdefx." for c in text) or not _looks_numeric(text):
        return None
    return ipaddress.IPv4Address(_inet_aton(text))


def _looks_numeric(text: str) -> bool:
    """Every dotted part is a decimal, octal or 0x-hex number (``inet_aton``'s grammar)."""
    for part in text.split("."):
        if not part:
            return False
        if part.startswith("0x"):
            if any(c not in "0123456789abcdef" for c in part[2:]):
                return False
        elif not part.isdigit():
            return False
    return True


def _inet_aton(text: str) -> int:
    """``inet_aton`` of BSD and glibc: 1 to 4 parts, the last one filling the remaining bytes."""
    parts = []
    for part in text.split("."):
        if part.startswith("0x"):
            parts.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            parts.append(int(part, 8))
        else:
            parts.append(int(part))
    if len(parts) > 4:
        raise ValueError(f"{text!r} is not an IPv4 address")
    *head, last = parts
    if any(p > 0xFF for p in head) or last >= 1 << (8 * (4 - len(head))):
        raise ValueError(f"{text!r} is not an IPv4 address")
    value = 0
    for p in head:
        value = value << 8 | p
    return value << (8 * (4 - len(head))) | last
