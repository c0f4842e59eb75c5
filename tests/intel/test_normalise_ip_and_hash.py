"""IP addresses and networks (ipaddress, compressed form) and file hashes (lower-case hex)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.intel.normalise import IdentifierKind, InvalidIdentifier, normalise

PROPERTY = settings(max_examples=150, deadline=None)


@pytest.mark.parametrize(
    ("kind", "raw", "value", "details"),
    [
        ("ipv4-addr", " 203.0.113.7 ", "203.0.113.7", {"version": "4", "is_private": "true"}),
        ("ipv4-addr", "8.8.8.8", "8.8.8.8", {"version": "4", "is_private": "false"}),
        ("ipv4-addr", "10.1.2.3/8", "10.0.0.0/8", {"version": "4", "is_private": "true", "prefix_length": "8"}),
        ("ipv4-addr", "8.8.8.8/32", "8.8.8.8", {"version": "4", "is_private": "false"}),
        ("ipv6-addr", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1", {"version": "6", "is_private": "true"}),
        ("ipv6-addr", "2001:db8::1/128", "2001:db8::1", {"version": "6", "is_private": "true"}),
        (
            "ipv6-addr",
            "2606:4700::1111/32",
            "2606:4700::/32",
            {"version": "6", "is_private": "false", "prefix_length": "32"},
        ),
    ],
)
def test_ip_addresses_and_networks_take_their_compressed_form(
    kind: str, raw: str, value: str, details: dict[str, str]
) -> None:
    canonical = normalise(kind, raw)
    assert canonical.value == value
    assert dict(canonical.details) == details


@pytest.mark.parametrize(
    ("kind", "raw", "reason"),
    [
        ("ipv4-addr", "2001:db8::1", "IPv6 address, not IPv4"),
        ("ipv6-addr", "1.2.3.4", "IPv4 address, not IPv6"),
        ("ipv4-addr", "256.1.1.1", "not an IP address"),
        ("ipv4-addr", "010.1.1.1", "not an IP address"),  # ambiguous leading zero (octal?)
        ("ipv6-addr", "fe80::1%eth0", "zone index"),
        ("ipv4-addr", "1.2.3.4/33", "not an IP address"),
    ],
)
def test_ip_of_the_wrong_version_or_malformed_is_rejected(kind: str, raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(kind, raw)
    assert caught.value.kind == kind
    assert reason in caught.value.reason


@PROPERTY
@given(address=st.ip_addresses(), prefix=st.none() | st.integers(0, 128))
def test_ip_normalisation_is_idempotent_on_generated_addresses(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, prefix: int | None
) -> None:
    kind = IdentifierKind.IPV4 if address.version == 4 else IdentifierKind.IPV6
    raw = str(address) if prefix is None else f"{address.exploded}/{prefix % (address.max_prefixlen + 1)}"
    canonical = normalise(kind, raw)
    assert normalise(kind, canonical.value).value == canonical.value


@pytest.mark.parametrize(
    ("kind", "size", "algorithm"),
    [
        ("file:md5", 16, "MD5"),
        ("file:sha-1", 20, "SHA-1"),
        ("file:sha-256", 32, "SHA-256"),
        ("file:sha-512", 64, "SHA-512"),
    ],
)
def test_hash_of_the_right_length_is_lower_cased(kind: str, size: int, algorithm: str) -> None:
    digest = bytes(range(size)).hex().upper()
    canonical = normalise(kind, f" {digest}\n")
    assert canonical.value == digest.lower()
    assert dict(canonical.details) == {"algorithm": algorithm}


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("file:md5", "a" * 31), ("file:sha-1", "a" * 64), ("file:sha-256", "g" * 64), ("file:sha-512", "0x" + "a" * 126)],
)
def test_hash_of_the_wrong_length_or_not_hex_is_rejected(kind: str, raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise(kind, raw)
    assert caught.value.kind == kind
    assert "hex digits" in caught.value.reason


@PROPERTY
@given(
    kind_size=st.sampled_from([("file:md5", 16), ("file:sha-1", 20), ("file:sha-256", 32), ("file:sha-512", 64)]),
    data=st.data(),
)
def test_hash_normalisation_is_idempotent_on_generated_digests(kind_size: tuple[str, int], data: st.DataObject) -> None:
    kind, size = kind_size
    digest = data.draw(st.binary(min_size=size, max_size=size)).hex()
    mixed = "".join(c.upper() if i % 3 else c for i, c in enumerate(digest))
    canonical = normalise(kind, mixed)
    assert canonical.value == digest
    assert normalise(kind, canonical.value).value == digest
