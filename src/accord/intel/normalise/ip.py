"""IPv4 and IPv6 addresses and CIDR networks, canonicalised by ``ipaddress`` (RFC 5952 compressed text for IPv6).

A network is written in its canonical network form (host bits cleared, ``10.1.2.3/8`` becomes ``10.0.0.0/8``); a
network of one address (``/32``, ``/128``) is that address, so that both spellings share one key.
"""

from __future__ import annotations

import ipaddress

from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 100  # the longest IPv6 text with an IPv4 tail and a prefix is 49 characters
_VERSIONS = {IdentifierKind.IPV4: 4, IdentifierKind.IPV6: 6}


def normalise_ip(kind: IdentifierKind, raw: str) -> Canonical:
    """Canonical address or network of ``raw``, which must be of ``kind``'s IP version.

    Raises InvalidIdentifier when ``raw`` is not an address or network, or is of the other version.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(kind, raw, f"longer than {MAX_RAW} characters")
    text = raw.strip()
    if "%" in text:
        raise InvalidIdentifier(kind, raw, "a zone index (%...) names a local interface, not a shareable address")
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=False)
            address = network.network_address
            single = network.prefixlen == network.max_prefixlen
            value = str(address) if single else str(network)
        else:
            address = ipaddress.ip_address(text)
            value = str(address)
    except ValueError as exc:
        raise InvalidIdentifier(kind, raw, "not an IP address or CIDR network") from exc
    if address.version != _VERSIONS[kind]:
        raise InvalidIdentifier(kind, raw, f"an IPv{address.version} address, not IPv{_VERSIONS[kind]}")
    details = {"version": str(address.version), "is_private": "true" if address.is_private else "false"}
    if "/" in value:
        details["prefix_length"] = value.rsplit("/", 1)[1]
    return Canonical(kind, value, raw, details)
