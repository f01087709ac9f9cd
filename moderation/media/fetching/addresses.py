"""Which IP addresses the media fetcher may connect to: public unicast only.

Anything that reaches the fetcher's own network (loopback, private, CGNAT, link-local, cloud
metadata, multicast, reserved) is refused, including IPv4 addresses smuggled inside IPv6
translation prefixes (IPv4-mapped, NAT64, 6to4) whose embedded address is checked instead.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Listed explicitly, on top of the ipaddress flags, because those flags have changed between
# Python versions (e.g. 192.0.0.0/24 and 100.64.0.0/10 are not all "private").
_FORBIDDEN_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, cloud metadata
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, includes broadcast
    )
)

_FORBIDDEN_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",  # unspecified, loopback and deprecated IPv4-compatible addresses
        "64:ff9b:1::/48",  # local-use NAT64: embedding position is not fixed, so refuse it all
        "100::/64",  # discard-only
        "2001::/23",  # IETF protocol assignments, includes Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)

_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def parse_address(text: str) -> IPAddress | None:
    """Parse an address as returned by a resolver (IPv6 zone ids allowed); None if not an IP."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 address."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return address.sixtofour
    return None


def _is_forbidden_v4(address: ipaddress.IPv4Address) -> bool:
    if any(address in net for net in _FORBIDDEN_V4):
        return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _is_forbidden_v6(address: ipaddress.IPv6Address) -> bool:
    # Translation prefixes are judged by the IPv4 address they lead to: a NAT64 gateway will
    # happily forward 64:ff9b::a00:1 to 10.0.0.1. The prefixes themselves are flagged
    # "reserved" by ipaddress, so the generic flags below must not see them.
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return _is_forbidden_v4(embedded)
    if any(address in net for net in _FORBIDDEN_V6):
        return True
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_site_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def is_forbidden_address(address: IPAddress | str) -> bool:
    """True if the fetcher must not connect to ``address``; unparsable text counts as forbidden."""
    if isinstance(address, str):
        parsed = parse_address(address)
        if parsed is None:
            return True
        address = parsed
    if isinstance(address, ipaddress.IPv4Address):
        return _is_forbidden_v4(address)
    return _is_forbidden_v6(address)
