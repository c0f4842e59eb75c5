"""Checking one STIX 2.1 object, as strictly as the stix2 library does.

Registered types (all of STIX 2.1, and our three scam SCOs) go through ``stix2.parse`` without
``allow_custom``, so unknown properties, wrong types, bad timestamps and invalid indicator patterns
(checked by stix2-patterns inside stix2) are refused. Custom object types (``x-mitre-tactic``) and custom
properties that follow STIX 2.1's naming rules (section 11.1) are accepted but get only the common checks:
stix2 cannot say more about them either.

Most objects never reach ``stix2.parse``: accord.intel.fast_validate vouches for the common shapes from
stix2's own property declarations (and parses indicator patterns without ANTLR), and hands everything it
cannot vouch for to stix2, so verdicts and error messages stay stix2's. ``fast=False`` skips the fast path;
tests use it to compare the two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stix2
from stix2.exceptions import STIXError

from accord.errors import InvalidInput
from accord.intel import extensions
from accord.intel.errors import InvalidStix
from accord.intel.fast_validate import vouch
from accord.intel.pattern_parser import Comparison

ID_SHAPE = re.compile(
    r"^([a-z][a-z0-9-]{0,249})--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
CUSTOM_TYPE = re.compile(r"^x-[a-z0-9-]{1,247}$")
CUSTOM_PROPERTY = re.compile(r"^(x_)?[a-z0-9_]{3,250}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
SCO_VERSION = ""  # SCOs have no "modified"; one version per id


@dataclass(frozen=True)
class CheckedObject:
    stix_id: str
    stix_type: str
    spec_version: str
    modified: str
    modified_at: datetime
    revoked: bool
    content: dict[str, Any]
    # A STIX-pattern indicator's comparisons when the fast path already parsed the pattern (else None).
    comparisons: list[Comparison] | None = None


def parse_timestamp(field: str, name: str, value: Any) -> datetime:
    """A STIX/TAXII timestamp (RFC 3339, UTC, 'Z') for a query parameter. Raises InvalidInput."""
    try:
        return _timestamp(field, name, value)
    except InvalidStix:
        raise InvalidInput(field, "must be a timestamp like 2026-11-23T09:00:00.000Z") from None


def _timestamp(object_id: str, name: str, value: Any) -> datetime:
    if not isinstance(value, str) or not TIMESTAMP.match(value):
        raise InvalidStix(object_id, f"{name} must be a STIX timestamp like 2026-11-23T09:00:00.000Z")
    whole, _, fraction = value[:-1].partition(".")
    try:  # the regex fixed the shape; fromisoformat checks the calendar (as strptime did, 8x faster)
        parsed = datetime.fromisoformat(whole).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidStix(object_id, f"{name} is not a real date and time") from None
    return parsed.replace(microsecond=int((fraction + "000000")[:6])) if fraction else parsed


def check_object(candidate: Any, added_at: datetime, fast: bool = True) -> CheckedObject:
    """Return the object's key fields, or raise InvalidStix naming the object and the reason."""
    if not isinstance(candidate, dict):
        raise InvalidStix("(not an object)", "each entry of objects must be a JSON object")
    object_id = candidate.get("id")
    object_type = candidate.get("type")
    label = object_id if isinstance(object_id, str) and len(object_id) <= 300 else "(no id)"
    if not isinstance(object_id, str) or not isinstance(object_type, str):
        raise InvalidStix(label, "id and type are required strings")
    match = ID_SHAPE.match(object_id)
    if not match or match.group(1) != object_type:
        raise InvalidStix(label, "id must be '<type>--<UUID>' with the object's own type")
    spec_version = candidate.get("spec_version", "2.1")  # optional on SCOs, where 2.1 is then implied
    if spec_version != "2.1":
        raise InvalidStix(label, f"spec_version {spec_version!r} is not 2.1")
    extensions.register()
    vouched = None
    if CUSTOM_TYPE.match(object_type):
        _check_custom(label, candidate)
    elif not fast or (vouched := vouch(candidate)) is None:  # the fast path declined: stix2 decides, and says why
        try:
            parsed = stix2.parse(candidate, allow_custom=_has_custom_properties(candidate), version="2.1")
        except (STIXError, ValueError, TypeError, KeyError) as exc:
            raise InvalidStix(label, _first_line(exc)) from None
        if isinstance(parsed, dict):
            raise InvalidStix(label, f"unknown type {object_type!r}: custom types start with x-")
        # allow_custom lets any unknown property through; STIX 2.1 custom properties are x_-prefixed.
        unknown = sorted(k for k in candidate if k not in type(parsed)._properties and not k.startswith("x_"))
        if unknown:
            raise InvalidStix(label, f"unexpected properties: {', '.join(unknown)[:200]}")
    if "modified" in candidate:
        modified = candidate["modified"]
        modified_at = _timestamp(label, "modified", modified)
    elif "created" in candidate:  # marking definitions carry only "created"
        modified = candidate["created"]
        modified_at = _timestamp(label, "created", modified)
    else:  # SCOs
        modified, modified_at = SCO_VERSION, added_at
    return CheckedObject(
        stix_id=object_id,
        stix_type=object_type,
        spec_version="2.1",
        modified=modified,
        modified_at=modified_at,
        revoked=candidate.get("revoked") is True,
        content=candidate,
        comparisons=vouched.comparisons if vouched is not None else None,
    )


def _has_custom_properties(candidate: dict[str, Any]) -> bool:
    """stix2 refuses unknown properties unless allow_custom; we allow them only in STIX's custom form (x_...)."""
    return any(key.startswith("x_") for key in candidate)


def _check_custom(label: str, candidate: dict[str, Any]) -> None:
    for key in candidate:
        if not CUSTOM_PROPERTY.match(key) and key not in {"id", "type"}:
            raise InvalidStix(label, f"property name {key[:60]!r} breaks STIX 2.1 naming rules")
    for name in ("created", "modified"):
        if name in candidate:
            _timestamp(label, name, candidate[name])


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
