"""Observables out of STIX objects: the value of identifier SCOs, file hashes, and the values an indicator's
STIX pattern compares for equality (``[phone-number:value = '+84...']``, ``[file:hashes.'SHA-256' = '...']``).

Each comes back as (kind, raw) for the normalisers; the caller decides what an unparsable value means.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from stix2patterns.v21.pattern import Pattern  # the STIX 2.1 grammar (stix2patterns.pattern is 2.0)

from accord.intel.pattern_parser import Comparison

VALUE_SCOS = {
    "phone-number": "phone-number",
    "cryptocurrency-wallet": "cryptocurrency-wallet",
    "url": "url",
    "domain-name": "domain-name",
    "email-addr": "email-addr",
    "ipv4-addr": "ipv4-addr",
    "ipv6-addr": "ipv6-addr",
}
HASH_KINDS = {"MD5": "file:md5", "SHA-1": "file:sha-1", "SHA-256": "file:sha-256", "SHA-512": "file:sha-512"}
MAX_PATTERN_VALUES = 1000  # comparisons taken from one pattern; more is not an indicator, it is a list


def sco_identifiers(sco: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(kind, raw) of the identifier an SCO *is* (its checks failing makes the object invalid)."""
    sco_type = sco.get("type", "")
    if sco_type in VALUE_SCOS and isinstance(sco.get("value"), str):
        yield VALUE_SCOS[sco_type], sco["value"]
    elif sco_type == "bank-account":
        if isinstance(sco.get("iban"), str):
            yield "bank-account", sco["iban"]
        elif all(isinstance(sco.get(k), str) for k in ("country", "bank_id", "account_number")):
            yield "bank-account", f"{sco['country']}:{sco['bank_id']}:{sco['account_number']}"
    elif sco_type == "file":
        for algorithm, digest in (sco.get("hashes") or {}).items():
            if algorithm in HASH_KINDS and isinstance(digest, str):
                yield HASH_KINDS[algorithm], digest


def pattern_identifiers(pattern: str, parsed: list[Comparison] | None = None) -> Iterator[tuple[str, str]]:
    """(kind, raw) for each equality comparison on an identifier in a STIX pattern (already validated).

    ``parsed`` is the fast parser's result when validation already produced it; otherwise stix2-patterns
    parses the pattern (the same comparisons: tests/intel/test_pattern_parser.py compares them).
    """
    taken = 0
    for object_type, path, operator, value in _comparisons(pattern, parsed):
        if operator != "=" or not isinstance(value, str) or taken >= MAX_PATTERN_VALUES:
            continue
        literal = _unquote(value)
        if literal is None:
            continue
        kind = _kind_for(object_type, [str(p) for p in path])
        if kind:
            taken += 1
            yield kind, literal


def _comparisons(pattern: str, parsed: list[Comparison] | None) -> Iterator[tuple[str, Sequence[Any], str, Any]]:
    if parsed is not None:
        for comparison in parsed:
            yield comparison.object_type, comparison.path, comparison.operator, comparison.value
        return
    for object_type, items in Pattern(pattern).inspect().comparisons.items():
        for path, operator, value in items:
            yield object_type, path, operator, value


def _kind_for(object_type: str, path: list[str]) -> str | None:
    if object_type in VALUE_SCOS and path == ["value"]:
        return VALUE_SCOS[object_type]
    if object_type == "bank-account" and path == ["iban"]:
        return "bank-account"
    if object_type == "file" and len(path) == 2 and path[0] == "hashes":
        return HASH_KINDS.get(path[1].strip("'").upper())
    return None


def _unquote(literal: str) -> str | None:
    """STIX pattern string literals are single-quoted with \\' and \\\\ escapes (STIX 2.1 section 9.4)."""
    if len(literal) < 2 or literal[0] != "'" or literal[-1] != "'":
        return None
    return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")
