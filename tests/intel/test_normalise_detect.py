"""detect(): the kind from the shape, the first kind that parses wins, a failed checksum stops the search."""

from __future__ import annotations

import base58
import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accord.intel.normalise import ChecksumMismatch, IdentifierKind, InvalidIdentifier, detect, normalise

PROPERTY = settings(max_examples=150, deadline=None)


@pytest.mark.parametrize(
    ("raw", "kind", "value"),
    [
        ("d41d8cd98f00b204e9800998ecf8427e", IdentifierKind.MD5, "d41d8cd98f00b204e9800998ecf8427e"),
        ("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", IdentifierKind.SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", IdentifierKind.SHA256, None),
        ("ab" * 64, IdentifierKind.SHA512, None),
        ("203.0.113.7", IdentifierKind.IPV4, "203.0.113.7"),
        ("10.1.2.3/8", IdentifierKind.IPV4, "10.0.0.0/8"),
        ("2001:DB8::1", IdentifierKind.IPV6, "2001:db8::1"),
        ("support@Example.COM", IdentifierKind.EMAIL, "support@example.com"),
        ("https://secure-vcb.com/login#x", IdentifierKind.URL, "https://secure-vcb.com/login"),
        ("secure-vcb.com/login", IdentifierKind.URL, "http://secure-vcb.com/login"),
        ("DE89 3704 0044 0532 0130 00", IdentifierKind.BANK_ACCOUNT, "DE89370400440532013000"),
        ("VN:970436:0071000123456", IdentifierKind.BANK_ACCOUNT, "VN:970436:0071000123456"),
        (
            "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
            IdentifierKind.WALLET,
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        ),
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            IdentifierKind.WALLET,
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        ),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", IdentifierKind.WALLET, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", IdentifierKind.WALLET, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        ("+84 91 234 5678", IdentifierKind.PHONE, "+84912345678"),
        ("0084 912 345 678", IdentifierKind.PHONE, "+84912345678"),
        ("WWW.Secure-VCB.com.", IdentifierKind.DOMAIN, "www.secure-vcb.com"),
    ],
)
def test_detect_finds_the_kind_from_the_shape(raw: str, kind: IdentifierKind, value: str | None) -> None:
    canonical = detect(raw)
    assert canonical.kind is kind
    assert canonical.value == (value if value is not None else raw.lower())
    assert canonical.raw == raw


def test_detect_reads_national_phone_numbers_in_the_reporter_region() -> None:
    assert detect("091 234 5678", default_region="VN").value == "+84912345678"
    assert detect("(650) 253-0000", default_region="US").value == "+16502530000"


def test_detect_falls_through_when_a_shape_matches_but_does_not_parse() -> None:
    # Phone-shaped with a '/' (so tried as a URL first, which has no dotted host), then read as a phone number.
    assert detect("091/234 5678", default_region="VN").kind is IdentifierKind.PHONE


@pytest.mark.parametrize(
    "raw",
    [
        "DE88 3704 0044 0532 0130 00",  # IBAN check digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  # EIP-55 mixed case
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  # base58check
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bech32
    ],
)
def test_detect_stops_at_a_failed_checksum_instead_of_trying_another_kind(raw: str) -> None:
    with pytest.raises(ChecksumMismatch) as caught:
        detect(raw)
    assert caught.value.kind in ("bank-account", "cryptocurrency-wallet")
    assert "checksum" in caught.value.reason


@pytest.mark.parametrize("raw", ["hello", "", "   ", "call me maybe", "12345", "localhost", "x" * 5000])
def test_detect_reports_unknown_when_nothing_fits(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        detect(raw)
    assert not isinstance(caught.value, ChecksumMismatch)
    assert caught.value.kind == "unknown"


def test_detect_unknown_reason_lists_what_was_tried() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        detect("http://intranet/")
    assert caught.value.kind == "unknown"
    assert "url: host has no dot" in caught.value.reason


VALUES = st.one_of(
    st.binary(min_size=16, max_size=16).map(lambda b: ("file:md5", b.hex())),
    st.binary(min_size=32, max_size=32).map(lambda b: ("file:sha-256", b.hex().upper())),
    st.ip_addresses(v=4).map(lambda a: ("ipv4-addr", str(a))),
    st.ip_addresses(v=6).map(lambda a: ("ipv6-addr", a.exploded)),
    st.binary(min_size=20, max_size=20).map(lambda b: ("cryptocurrency-wallet", "0x" + b.hex())),
    st.tuples(st.sampled_from([0x00, 0x05, 0x41]), st.binary(min_size=20, max_size=20)).map(
        lambda vb: ("cryptocurrency-wallet", base58.b58encode_check(bytes([vb[0]]) + vb[1]).decode())
    ),
    st.from_regex(r"[a-z][a-z0-9]{0,10}\.(com|vn|co\.uk|github\.io)", fullmatch=True).map(lambda d: ("domain-name", d)),
    st.from_regex(r"[a-z][a-z0-9]{0,10}\.(com|vn)/[a-z0-9/]{0,12}", fullmatch=True).map(lambda u: ("url", u)),
    st.from_regex(r"[a-z0-9]{1,8}@[a-z][a-z0-9]{0,8}\.(com|vn)", fullmatch=True).map(lambda e: ("email-addr", e)),
    st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)).map(
        lambda r: ("phone-number", phonenumbers.example_number_for_type(r, phonenumbers.PhoneNumberType.MOBILE))
    ),
)


@PROPERTY
@given(kind_value=VALUES)
def test_detect_agrees_with_normalise_on_generated_identifiers(kind_value: tuple[str, object]) -> None:
    kind, value = kind_value
    if isinstance(value, phonenumbers.PhoneNumber):
        raw = phonenumbers.format_number(value, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    else:
        assume(isinstance(value, str))
        raw = str(value)
    expected = normalise(kind, raw)
    assert detect(raw) == expected
    assert detect(expected.value).value == expected.value
