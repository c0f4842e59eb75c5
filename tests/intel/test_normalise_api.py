"""The public surface of the normalisers: kinds, the Canonical value, the error's fields, and no crash on any text."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.intel.normalise import Canonical, ChecksumMismatch, IdentifierKind, InvalidIdentifier, detect, normalise

PROPERTY = settings(max_examples=100, deadline=None)
# Characters that URL, domain and address parsers treat specially, to reach their corners faster than st.text().
TRICKY = st.text(st.sampled_from(list("%/.:@[]#?\\xX0aAfF19-_ +\t\n\u00e9\u0080\u3002\uff0e\u00df\u0131")), max_size=40)
ANY_TEXT = st.text() | TRICKY | st.text(st.characters(exclude_categories=[]))  # the last includes lone surrogates


def test_kinds_are_stix_and_opencti_type_names() -> None:
    assert [k.value for k in IdentifierKind] == [
        "phone-number",
        "bank-account",
        "cryptocurrency-wallet",
        "url",
        "domain-name",
        "email-addr",
        "ipv4-addr",
        "ipv6-addr",
        "file:md5",
        "file:sha-1",
        "file:sha-256",
        "file:sha-512",
    ]


def test_canonical_is_frozen_and_its_details_read_only() -> None:
    canonical = normalise("domain-name", "Example.COM")
    assert canonical == Canonical(IdentifierKind.DOMAIN, "example.com", "Example.COM", dict(canonical.details))
    with pytest.raises(dataclasses.FrozenInstanceError):
        canonical.value = "other.com"  # type: ignore[misc]
    with pytest.raises(TypeError):
        canonical.details["suffix"] = "org"  # type: ignore[index]
    assert hash(canonical) == hash(normalise("domain-name", "Example.COM"))


def test_kind_given_as_enum_or_string_is_the_same() -> None:
    assert normalise(IdentifierKind.SHA1, "A" * 40) == normalise("file:sha-1", "A" * 40)


def test_unknown_kind_is_an_invalid_identifier_not_a_value_error() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("social-media-profile", "facebook:100060251539767")
    assert caught.value.kind == "social-media-profile"
    assert caught.value.reason == "unknown identifier kind"


def test_invalid_identifier_keeps_200_chars_of_raw_and_keeps_raw_out_of_the_message() -> None:
    raw = "+84 " + "9" * 300
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("phone-number", raw)
    error = caught.value
    assert isinstance(error, AccordError)
    assert error.kind == "phone-number"
    assert error.raw == raw[:200]
    assert "longer than 64" in error.reason
    assert "999999" not in str(error)


def test_checksum_mismatch_is_an_invalid_identifier() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("bank-account", "DE88 3704 0044 0532 0130 00")
    assert isinstance(caught.value, ChecksumMismatch)


@pytest.mark.parametrize("kind", list(IdentifierKind))
@PROPERTY
@given(raw=ANY_TEXT)
def test_any_text_gives_an_idempotent_canonical_or_invalid_identifier(kind: IdentifierKind, raw: str) -> None:
    try:
        canonical = normalise(kind, raw, default_region="VN")
    except InvalidIdentifier as exc:
        assert exc.kind == kind
        return
    assert canonical.kind == kind
    assert canonical.raw == raw
    assert normalise(kind, canonical.value, default_region="VN").value == canonical.value


@PROPERTY
@given(raw=ANY_TEXT)
def test_detect_on_any_text_gives_a_canonical_or_invalid_identifier(raw: str) -> None:
    try:
        canonical = detect(raw, default_region="VN")
    except InvalidIdentifier as exc:
        assert exc.kind == "unknown" or exc.kind in set(IdentifierKind)
        return
    assert normalise(canonical.kind, canonical.value, default_region="VN").value == canonical.value
