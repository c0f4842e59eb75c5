"""Phone numbers: E.164 out of national, international and decorated input."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accord.intel.normalise import IdentifierKind, InvalidIdentifier, normalise

PROPERTY = settings(max_examples=150, deadline=None)
NUMBER_TYPES = [
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.TOLL_FREE,
    phonenumbers.PhoneNumberType.VOIP,
]


def test_phone_national_format_uses_reporter_region() -> None:
    canonical = normalise("phone-number", "091 234 5678", default_region="VN")
    assert canonical.kind is IdentifierKind.PHONE
    assert canonical.value == "+84912345678"
    assert canonical.raw == "091 234 5678"
    assert dict(canonical.details) == {"region": "VN", "country_code": "84", "number_type": "mobile"}


@pytest.mark.parametrize(
    "raw", ["+84 91 234 5678", "+84-91-234-5678", "(+84) 912.345.678", "0084 912 345 678", "tel:+84-91-234-5678"]
)
def test_phone_international_spellings_share_one_key(raw: str) -> None:
    assert normalise("phone-number", raw).value == "+84912345678"


def test_phone_leading_00_is_international_whatever_the_reporter_region() -> None:
    assert normalise("phone-number", "0084912345678", default_region="US").value == "+84912345678"


def test_phone_region_code_is_case_insensitive() -> None:
    assert normalise("phone-number", "0912345678", default_region="vn").value == "+84912345678"


def test_phone_national_number_without_region_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("phone-number", "091 234 5678")
    assert caught.value.kind == "phone-number"
    assert "country code" in caught.value.reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+84 12", "possible"),  # too short for Viet Nam
        ("+84 812 345 678 999", "possible"),  # too long
        ("+1 555 555 0100", "valid"),  # the 555-01xx range is reserved for fiction
        ("not a number", "not a phone number"),
    ],
)
def test_phone_impossible_or_unassigned_numbers_are_rejected(raw: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("phone-number", raw)
    assert caught.value.kind == "phone-number"
    assert reason in caught.value.reason


def test_phone_extension_is_kept_in_details_not_in_the_key() -> None:
    canonical = normalise("phone-number", "+1 650-253-0000 ext. 12")
    assert canonical.value == "+16502530000"
    assert canonical.details["extension"] == "12"


def test_phone_raw_longer_than_64_characters_is_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        normalise("phone-number", "+84 912 345 678" + " " * 60)
    assert "64" in caught.value.reason


@PROPERTY
@given(region=st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), number_type=st.sampled_from(NUMBER_TYPES))
def test_phone_example_numbers_of_every_region_normalise_to_their_e164(region: str, number_type: int) -> None:
    example = phonenumbers.example_number_for_type(region, number_type)
    assume(example is not None)
    assert example is not None
    e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    international = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

    assert normalise("phone-number", national, default_region=region).value == e164
    assert normalise("phone-number", international).value == e164
    assert normalise("phone-number", international.replace("+", "00", 1), default_region=region).value == e164
    assert normalise("phone-number", e164).value == e164


@given(
    country=st.sampled_from(sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)),
    digits=st.text(alphabet="0123456789", min_size=4, max_size=14),
)
@settings(max_examples=500)
def test_phone_validity_is_libphonenumbers_is_valid_number(country: int, digits: str) -> None:
    """The normaliser decides validity with one number_type call; it must agree with is_valid_number."""
    raw = f"+{country}{digits}"
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return
    assume(phonenumbers.is_possible_number(number))
    try:
        normalise(IdentifierKind.PHONE, raw)
        accepted = True
    except InvalidIdentifier:
        accepted = False
    assert accepted == phonenumbers.is_valid_number(number)
