"""``normalise(kind, raw)``: the one entry point, a readable table from kind to normaliser."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from accord.intel.normalise.bank_account import normalise_bank_account
from accord.intel.normalise.domain import normalise_domain
from accord.intel.normalise.email import normalise_email
from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.file_hash import normalise_hash
from accord.intel.normalise.ip import normalise_ip
from accord.intel.normalise.models import Canonical, IdentifierKind
from accord.intel.normalise.phone import normalise_phone
from accord.intel.normalise.url import normalise_url
from accord.intel.normalise.wallet import normalise_wallet

Normaliser = Callable[[str, str | None], Canonical]  # (raw, default_region) -> Canonical

NORMALISERS: dict[IdentifierKind, Normaliser] = {
    IdentifierKind.PHONE: normalise_phone,
    IdentifierKind.BANK_ACCOUNT: lambda raw, _: normalise_bank_account(raw),
    IdentifierKind.WALLET: lambda raw, _: normalise_wallet(raw),
    IdentifierKind.URL: lambda raw, _: normalise_url(raw),
    IdentifierKind.DOMAIN: lambda raw, _: normalise_domain(raw),
    IdentifierKind.EMAIL: lambda raw, _: normalise_email(raw),
    IdentifierKind.IPV4: lambda raw, _: normalise_ip(IdentifierKind.IPV4, raw),
    IdentifierKind.IPV6: lambda raw, _: normalise_ip(IdentifierKind.IPV6, raw),
    IdentifierKind.MD5: lambda raw, _: normalise_hash(IdentifierKind.MD5, raw),
    IdentifierKind.SHA1: lambda raw, _: normalise_hash(IdentifierKind.SHA1, raw),
    IdentifierKind.SHA256: lambda raw, _: normalise_hash(IdentifierKind.SHA256, raw),
    IdentifierKind.SHA512: lambda raw, _: normalise_hash(IdentifierKind.SHA512, raw),
}


# Scam reports repeat identifiers (the same mule account in many reports), and phonenumbers/schwifty cost tens
# of microseconds a call: remember recent successes. Bounded in count and in the length of what is kept.
CACHE_ENTRIES = 32_768
CACHED_RAW_LENGTH = 256


@lru_cache(maxsize=CACHE_ENTRIES)
def _normalise_cached(kind: IdentifierKind, raw: str, default_region: str | None) -> Canonical:
    return NORMALISERS[kind](raw, default_region)  # failures raise, and lru_cache does not keep them


def normalise(kind: str | IdentifierKind, raw: str, *, default_region: str | None = None) -> Canonical:
    """Canonical form of ``raw`` as an identifier of ``kind``.

    ``default_region`` (ISO 3166-1 alpha-2, usually the reporter's country) is how national phone numbers are read;
    other kinds ignore it. Raises InvalidIdentifier (ChecksumMismatch for a failed checksum) when ``raw`` is not a
    valid identifier of ``kind``, or ``kind`` is not a kind.
    """
    try:
        known = IdentifierKind(kind)
    except ValueError:
        raise InvalidIdentifier(str(kind)[:64], raw, "unknown identifier kind") from None
    if len(raw) > CACHED_RAW_LENGTH:
        return NORMALISERS[known](raw, default_region)
    return _normalise_cached(known, raw, default_region)
