"""Phone numbers, canonicalised to E.164 (ITU-T Rec. E.164: ``+`` country code and national number, digits only).

Parsing and validation are libphonenumber's (through ``phonenumbers``): separators, spaces, a ``tel:`` URI and
national format with the reporter's region are accepted; the number must be possible (length) and valid (an
assigned range). An extension is not part of E.164; it is kept in ``details``.
"""

from __future__ import annotations

import phonenumbers

from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 64  # a number with separators and an extension fits easily; phonenumbers itself accepts up to 250
KIND = IdentifierKind.PHONE

_TYPE_NAMES = {value: name.lower() for name, value in vars(phonenumbers.PhoneNumberType).items() if name.isupper()}
_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "no valid country code (write +CC or give a region)",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}


def normalise_phone(raw: str, default_region: str | None = None) -> Canonical:
    """E.164 form of ``raw``; national numbers are read in ``default_region`` (ISO 3166-1 alpha-2).

    Raises InvalidIdentifier when the number does not parse, is not possible or not valid.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    text = raw.strip()
    if text.startswith("00"):
        # "00" is the international prefix ITU-T recommends and most countries use; read it as "+" whatever the
        # reporter's region, so "0084..." from a US reporter is not taken for a US national number.
        text = "+" + text[2:]
    region = default_region.upper() if default_region else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(KIND, raw, _PARSE_REASONS.get(exc.error_type, "not a phone number")) from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier(KIND, raw, "not a possible number (wrong length for its country)")
    # is_valid_number(n) is number_type(n) != UNKNOWN: both run the same per-region range check
    # (phonenumberutil._number_type_helper), so one call gives both; it was half of an import's phone cost.
    # tests/intel/test_normalise_phone.py holds the two to the same verdicts.
    number_type = phonenumbers.number_type(number)
    if number_type == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidIdentifier(KIND, raw, "not a valid number (no such range in its country's numbering plan)")
    details = {
        "region": phonenumbers.region_code_for_number(number) or "",
        "country_code": str(number.country_code),
        "number_type": _TYPE_NAMES.get(number_type, "unknown"),
    }
    if number.extension:
        details["extension"] = number.extension
    value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Canonical(KIND, value, raw, details)
