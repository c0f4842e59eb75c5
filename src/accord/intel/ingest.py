"""Checking a batch of objects and their identifiers before anything is written (one bad object never
spoils the rest: it is reported with its id and reason, the others go on)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from accord.canonical_json import canonical_bytes
from accord.intel import extract
from accord.intel.errors import InvalidStix
from accord.intel.markings import tlp_of
from accord.intel.models import MAX_VALUE_LENGTH
from accord.intel.normalise import InvalidIdentifier, normalise
from accord.intel.validate import CheckedObject, check_object
from accord.intel.vocabulary import Tlp

IDENTIFIER_SCOS = {"phone-number", "bank-account", "cryptocurrency-wallet"}


@dataclass(frozen=True)
class Identifier:
    kind: str
    value: str  # canonical
    raw: str


@dataclass(frozen=True)
class Accepted:
    checked: CheckedObject
    tlp: Tlp
    identifiers: list[Identifier]
    canonical: str  # RFC 8785 JSON of the object, as stored


@dataclass
class Checked:
    accepted: list[Accepted] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (object id, reason)


def _identifiers(checked: CheckedObject, region: str | None) -> list[Identifier]:
    content = checked.content
    found: dict[tuple[str, str], Identifier] = {}
    strict = checked.stix_type in IDENTIFIER_SCOS  # the object *is* the identifier: a bad one is a bad object
    sources = list(extract.sco_identifiers(content))
    if checked.stix_type == "indicator" and content.get("pattern_type") == "stix":
        sources += list(extract.pattern_identifiers(content["pattern"], checked.comparisons))
    for kind, raw in sources:
        try:
            canonical = normalise(kind, raw, default_region=region)
        except InvalidIdentifier as exc:
            if strict:
                raise InvalidStix(checked.stix_id, f"{kind} {exc.reason}") from None
            continue  # a pattern or generic SCO value we cannot index stays searchable by its object
        if len(canonical.value) <= MAX_VALUE_LENGTH:
            found[(str(canonical.kind), canonical.value)] = Identifier(
                str(canonical.kind), canonical.value, raw[:MAX_VALUE_LENGTH]
            )
    return list(found.values())


def _canonical(checked: CheckedObject) -> str:
    try:
        return canonical_bytes(checked.content).decode()
    except ValueError as exc:  # NaN/Infinity (json accepts them), unsafe integers, lone surrogates
        raise InvalidStix(checked.stix_id, f"not representable as RFC 8785 canonical JSON: {exc}"[:300]) from None


def check_batch(candidates: Iterable[Any], default_tlp: Tlp, region: str | None, now: datetime) -> Checked:
    result = Checked()
    for candidate in candidates:
        try:
            checked = check_object(candidate, now)
            result.accepted.append(
                Accepted(
                    checked,
                    tlp_of(checked.content, default_tlp),
                    _identifiers(checked, region),
                    _canonical(checked),
                )
            )
        except InvalidStix as exc:
            result.failures.append((exc.object_id, exc.reason))
    return result
