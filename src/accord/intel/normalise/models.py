"""What a normaliser returns: the kind of an identifier and its canonical form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class IdentifierKind(StrEnum):
    """STIX 2.1 SCO type names (section 6); the scam identifiers use OpenCTI's custom SCO names."""

    PHONE = "phone-number"
    BANK_ACCOUNT = "bank-account"
    WALLET = "cryptocurrency-wallet"
    URL = "url"
    DOMAIN = "domain-name"
    EMAIL = "email-addr"
    IPV4 = "ipv4-addr"
    IPV6 = "ipv6-addr"
    MD5 = "file:md5"
    SHA1 = "file:sha-1"
    SHA256 = "file:sha-256"
    SHA512 = "file:sha-512"


@dataclass(frozen=True)
class Canonical:
    """An identifier in canonical form.

    ``value`` is the key of the observable index: two inputs that name the same thing give the same ``value``, and
    ``normalise(kind, value).value == value``. ``raw`` is exactly what was given. ``details`` holds what the
    normaliser learnt on the way (region, bank code, chain, registered domain...), read-only.
    """

    kind: IdentifierKind
    value: str
    raw: str
    details: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
