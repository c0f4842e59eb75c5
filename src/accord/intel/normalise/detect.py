"""``detect(raw)``: guess an identifier's kind from its shape, then normalise it.

Shapes are tried in a fixed order (hash, IP, e-mail, URL, IBAN, national bank form, wallet, phone, domain); the
first kind that normalises wins. A value that has a kind's shape but fails its checksum is reported as that kind
(ChecksumMismatch), not passed on to the next kind: a mistyped IBAN must not come back as something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from accord.intel.normalise.dispatch import normalise
from accord.intel.normalise.errors import ChecksumMismatch, InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind
from accord.intel.normalise.wallet import BASE58_ALPHABET

MAX_RAW = 4096  # the longest kind (URL) accepts no more
UNKNOWN = "unknown"

_HASH_KINDS = {32: IdentifierKind.MD5, 40: IdentifierKind.SHA1, 64: IdentifierKind.SHA256, 128: IdentifierKind.SHA512}
_HEX = re.compile(r"[0-9a-fA-F]+")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?:/[0-9]{1,2})?")
_IPV6 = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:/[0-9]{1,3})?")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_IBAN = re.compile(r"(?:IBAN)?[A-Za-z]{2}[0-9]{2}[A-Za-z0-9]{11,30}", re.IGNORECASE)
_IBAN_SEPARATORS = re.compile(r"[\s\-:]")
_NATIONAL_BANK = re.compile(r"[A-Za-z]{2}\s*:[^:]+:[^:]+")
_ETHEREUM = re.compile(r"0[xX][0-9a-fA-F]{40}")
_BASE58 = re.compile(f"[13mn2T][{BASE58_ALPHABET}]{{25,34}}")
_PHONE = re.compile(r"\+?[0-9\s().\-/]+")


def detect(raw: str, *, default_region: str | None = None) -> Canonical:
    """Guess the kind of ``raw`` and normalise it.

    Raises ChecksumMismatch when ``raw`` has a kind's shape but fails its checksum, and InvalidIdentifier with kind
    ``"unknown"`` when no kind fits (``reason`` lists the kinds tried and why they refused).
    """
    if len(raw) > MAX_RAW:
        raise InvalidIdentifier(UNKNOWN, raw, f"longer than {MAX_RAW} characters")
    refusals: list[str] = []
    for kind in candidates(raw.strip()):
        try:
            return normalise(kind, raw, default_region=default_region)
        except ChecksumMismatch:
            raise
        except InvalidIdentifier as exc:
            refusals.append(f"{kind}: {exc.reason}")
    tried = f" (tried {'; '.join(refusals)})" if refusals else ""
    raise InvalidIdentifier(UNKNOWN, raw, f"not a recognised identifier{tried}")


def candidates(text: str) -> Iterator[IdentifierKind]:
    """The kinds whose shape ``text`` has, most specific first."""
    if _HEX.fullmatch(text) and len(text) in _HASH_KINDS:
        yield _HASH_KINDS[len(text)]
    if _IPV4.fullmatch(text):
        yield IdentifierKind.IPV4
    elif _IPV6.fullmatch(text):
        yield IdentifierKind.IPV6
    has_scheme = _SCHEME.match(text) is not None
    if "@" in text and not has_scheme:
        yield IdentifierKind.EMAIL
    if has_scheme or "/" in text:
        yield IdentifierKind.URL
    if _IBAN.fullmatch(_IBAN_SEPARATORS.sub("", text)) or _NATIONAL_BANK.fullmatch(text):
        yield IdentifierKind.BANK_ACCOUNT
    if _is_wallet_shaped(text):
        yield IdentifierKind.WALLET
    if _is_phone_shaped(text):
        yield IdentifierKind.PHONE
    if "." in text:
        yield IdentifierKind.DOMAIN


def _is_wallet_shaped(text: str) -> bool:
    if _ETHEREUM.fullmatch(text) or text[:3].lower() in ("bc1", "tb1"):
        return True
    # A base58check address is never all digits; requiring a letter keeps long numbers out.
    return _BASE58.fullmatch(text) is not None and not text.isdigit()


def _is_phone_shaped(text: str) -> bool:
    # "+" or "00" and digits, or 7 to 15 digits (E.164's maximum) with separators
    if not _PHONE.fullmatch(text):
        return False
    digits = sum(c.isdigit() for c in text)
    if text.startswith(("+", "00")):
        return 4 <= digits <= 17
    return 7 <= digits <= 15
