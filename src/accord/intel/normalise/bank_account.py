"""Bank accounts: an IBAN, or the national form ``"<CC>:<bank id>:<account number>"`` where there is no IBAN.

IBAN (ISO 13616-1): checked by ``schwifty`` (ISO 7064 mod 97-10 check digits, the country's length and BBAN
format). Canonical form: the electronic format, upper case without spaces, ``DE89370400440532013000``. An
optional ``IBAN`` prefix (the paper format) and spaces or hyphens are accepted. National check digits inside the
BBAN are not verified: schwifty knows the algorithm for a few countries only, and the ISO 7064 digits already
catch typos.

National form, for countries without IBAN (Viet Nam, the United States, the Philippines, Ghana...)::

    <CC>:<bank id>:<account number>        e.g. "VN:970436:0071000123456", "US:021000021:123456789"

- ``CC``: ISO 3166-1 alpha-2 country code (checked with ``pycountry``).
- ``bank id``: the national bank identifier: the NAPAS BIN in Viet Nam, the ABA routing number in the US, a
  sort code, a BIC... 2 to 11 letters or digits.
- ``account number``: 4 to 34 letters or digits (34 is the longest BBAN ISO 13616 allows).

Spaces, hyphens, dots and slashes are removed from the bank id and account number, and letters are upper-cased:
``"vn : 970 436 : 0071-000-123456"`` becomes ``"VN:970436:0071000123456"``. Leading zeros are kept (they are part
of the number). A country whose IBAN is in the SWIFT registry must be given as an IBAN, so that one account has
one key; countries with only an "aspirational" IBAN format in schwifty's registry may use either form.
"""

from __future__ import annotations

import re

import pycountry
from schwifty import IBAN, exceptions, registry
from schwifty.domain import Component

from accord.intel.normalise.errors import ChecksumMismatch, InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

MAX_RAW = 128  # an IBAN is at most 34 characters (ISO 13616-1); with separators, prefix or national form still short
KIND = IdentifierKind.BANK_ACCOUNT

_IBAN_PREFIX = re.compile(r"^IBAN[\s:]*", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s.\-/]")
_BANK_ID = re.compile(r"[A-Z0-9]{2,11}")
_ACCOUNT = re.compile(r"[A-Z0-9]{4,34}")
# BICs by (country, bank code, branch code); schwifty looks a bank's BIC up by those codes alone.
BIC_CACHE_ENTRIES = 8192
_BICS: dict[tuple[str, str, str], str | None] = {}
_BANK_COMPONENTS = frozenset({Component.BANK_CODE, Component.BRANCH_CODE})
# Per country, whether schwifty looks its BICs up by the bank and branch codes alone (all, in its registry today).
_BY_BANK_CODES: dict[str, bool] = {}


def normalise_bank_account(raw: str) -> Canonical:
    """Canonical IBAN or national form of ``raw`` (see the module docstring).

    Raises ChecksumMismatch when the IBAN check digits are wrong, InvalidIdentifier for anything else.
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(KIND, raw, f"longer than {MAX_RAW} characters")
    if not raw.isascii():
        raise InvalidIdentifier(KIND, raw, "contains characters outside ASCII")
    if ":" in _IBAN_PREFIX.sub("", raw.strip(), count=1):
        return _national(raw)
    return _iban(raw)


def _iban(raw: str) -> Canonical:
    text = _SEPARATORS.sub("", _IBAN_PREFIX.sub("", raw.strip(), count=1))
    try:
        iban = IBAN(text)
    except exceptions.InvalidChecksumDigits as exc:
        raise ChecksumMismatch(KIND, raw, "IBAN check digits do not match (ISO 7064 mod 97-10 checksum)") from exc
    except exceptions.InvalidCountryCode as exc:
        raise InvalidIdentifier(KIND, raw, "not an IBAN country code") from exc
    except exceptions.InvalidLength as exc:
        raise InvalidIdentifier(KIND, raw, "wrong IBAN length for its country") from exc
    except exceptions.SchwiftyException as exc:
        raise InvalidIdentifier(KIND, raw, "IBAN does not match its country's format") from exc
    # Each of schwifty's properties slices the IBAN again and looks its country's spec up: read them once.
    country, bank_code, branch_code = iban.country_code, iban.bank_code, iban.branch_code
    details = {"format": "iban", "country": country, "bank_code": bank_code}
    if branch_code:
        details["branch_code"] = branch_code
    bic = _bic(iban, country, bank_code, branch_code)
    if bic is not None:
        details["bic"] = bic
    return Canonical(KIND, iban.compact, raw, details)


def _bic(iban: IBAN, country: str, bank_code: str, branch_code: str) -> str | None:
    """The BIC schwifty's registry gives the IBAN's bank (``iban.bic``), remembered per country, bank code and
    branch code: the registry lookup was half the cost of an IBAN, and a batch names few banks many times."""
    by_bank_codes = _BY_BANK_CODES.get(country)
    if by_bank_codes is None:
        by_bank_codes = _BY_BANK_CODES[country] = set(iban.spec.bic_lookup_components) <= _BANK_COMPONENTS
    if not by_bank_codes:  # looked up by more than the bank's codes: not remembered
        found = iban.bic
        return None if found is None else str(found)
    key = (country, bank_code, branch_code)
    try:
        return _BICS[key]
    except KeyError:
        pass
    found = iban.bic
    bic = None if found is None else str(found)
    if len(_BICS) >= BIC_CACHE_ENTRIES:
        _BICS.clear()
    _BICS[key] = bic
    return bic


def _national(raw: str) -> Canonical:
    parts = raw.strip().split(":")
    if len(parts) != 3:
        raise InvalidIdentifier(KIND, raw, "national form is <country>:<bank id>:<account number>")
    country = parts[0].strip().upper()
    bank_id = _SEPARATORS.sub("", parts[1]).upper()
    account = _SEPARATORS.sub("", parts[2]).upper()
    if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
        raise InvalidIdentifier(KIND, raw, "not an ISO 3166-1 alpha-2 country code")
    if _has_official_iban(country):
        raise InvalidIdentifier(KIND, raw, f"{country} uses IBAN (ISO 13616); give the IBAN")
    if not _BANK_ID.fullmatch(bank_id):
        raise InvalidIdentifier(KIND, raw, "bank id must be 2 to 11 letters or digits")
    if not _ACCOUNT.fullmatch(account):
        raise InvalidIdentifier(KIND, raw, "account number must be 4 to 34 letters or digits")
    details = {"format": "national", "country": country, "bank_code": bank_id, "account_number": account}
    return Canonical(KIND, f"{country}:{bank_id}:{account}", raw, details)


def _has_official_iban(country: str) -> bool:
    try:
        spec = registry.get_iban_spec(country)
    except exceptions.InvalidCountryCode:
        return False
    return not spec.aspirational
