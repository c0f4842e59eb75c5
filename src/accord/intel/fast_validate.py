"""A fast path that vouches for STIX 2.1 objects ``stix2.parse`` would accept, without building them.

Why: ``stix2.parse`` builds a full Python object per STIX object and runs ANTLR on every indicator pattern;
measured on this machine that is ~4,600 ATT&CK objects/s and ~1,100 scam indicators/s, while the import goal
is 5,000 objects/s with validation and indexing (bench/intel_import.py, docs/benchmarks.md).

How: the checks are compiled from stix2's *own* property declarations (``cls._properties``), so the library
stays the single source of what a type may hold. The fast path only ever answers "stix2 accepts this" or
"cannot say": it covers the common, canonical shapes (a str where stix2 wants a string, a real bool, a
timestamp in the exact form stix2 parses, ...) and declines everything else, including every object stix2
would refuse, so the caller then runs ``stix2.parse`` for the verdict and its error message. Declining costs
speed, never correctness. tests/intel/test_fast_validate.py compares the verdicts with stix2's on ATT&CK,
the synthetic scam set and mutations of both.

Covered: domain objects and relationships whose ``_check_object_constraints`` we mirror below (stix2 3.0.2,
checked against its source); indicator patterns through :mod:`accord.intel.pattern_parser`. Not covered
(always declined): observables (SCOs), marking definitions, extensions, granular markings, hashes, floats.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import stix2.base
import stix2.properties as props
from stix2.registry import class_for_type
from stix2.utils import PREFIX_21_REGEX
from stix2.v21 import common, sdo, sro

from accord.intel.pattern_parser import Comparison, fast_comparisons

# stix2 parses timestamps with these two strptime formats (stix2.utils._TIMESTAMP_FORMAT[_FRAC]); %f takes
# one to six digits. Anything else (offsets, seven or more digits) is declined, not refused.
_TIMESTAMP_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
# stix2 checks identifiers with uuid.UUID and then the RFC 4122 variant (the first digit of the fourth group
# is 8, 9, a or b). The type part may not contain "--": stix2 splits at the first one.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
_REFERENCE_SHAPE = re.compile(rf"^([a-z0-9]+(?:-[a-z0-9]+)*)--{_UUID}$")
_ID_UUID = re.compile(rf"^{_UUID}$")
_SAMPLE_UUID = "00000000-0000-4000-8000-000000000000"

Check = Callable[[Any, bool], bool]  # (value, allow_custom) -> stix2 surely accepts it


@dataclass(frozen=True)
class Vouched:
    """stix2 would accept the object; for a STIX-pattern indicator, the pattern's comparisons."""

    comparisons: list[Comparison] | None


def _timestamp(value: Any) -> datetime | None:
    if type(value) is not str or not _TIMESTAMP_SHAPE.match(value):
        return None
    try:  # within that shape, fromisoformat (C) and stix2's strptime agree, and it is 8x faster
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _string(value: Any, _custom: bool) -> bool:
    return type(value) is str


def _boolean(value: Any, _custom: bool) -> bool:
    return type(value) is bool


def _timestamp_check(value: Any, _custom: bool) -> bool:
    return _timestamp(value) is not None


def _never(_value: Any, _custom: bool) -> bool:
    return False


def _fixed(expected: Any) -> Check:
    return lambda value, _custom: type(value) is type(expected) and value == expected


def _integer(prop: props.IntegerProperty) -> Check:
    low, high = prop.min, prop.max

    def check(value: Any, _custom: bool) -> bool:
        return type(value) is int and (low is None or value >= low) and (high is None or value <= high)

    return check


def _enum(prop: props.EnumProperty) -> Check:
    allowed = frozenset(prop.allowed)
    return lambda value, _custom: type(value) is str and value in allowed


def _identifier(prop: props.IDProperty) -> Check:
    prefix = prop.required_prefix
    return lambda value, _custom: (
        type(value) is str and value.startswith(prefix) and _ID_UUID.match(value[len(prefix) :]) is not None
    )


def _reference(prop: props.ReferenceProperty) -> Check:
    """The type rules of a reference depend only on the referenced type (and allow_custom): ask stix2 once."""
    verdicts: dict[tuple[str, bool], bool] = {}

    def check(value: Any, custom: bool) -> bool:
        if type(value) is not str:
            return False
        match = _REFERENCE_SHAPE.match(value)
        if match is None:
            return False
        key = (match.group(1), custom)
        if key not in verdicts:
            try:
                prop.clean(f"{key[0]}--{_SAMPLE_UUID}", custom)
                verdicts[key] = True
            except Exception:  # any refusal, whatever its class, means "let stix2 say it"
                verdicts[key] = False
        return verdicts[key]

    return check


def _external_reference(value: Any, _custom: bool) -> bool:
    """stix2.v21.common.ExternalReference: source_name, and at least one of description, external_id, url."""
    if type(value) is not dict or type(value.get("source_name")) is not str:
        return False
    if not value.keys() <= {"source_name", "description", "url", "external_id"}:
        return False  # hashes (HashesProperty) and custom keys are declined
    if not all(type(item) is str for item in value.values()):
        return False
    return bool(value.keys() & {"description", "url", "external_id"})


def _kill_chain_phase(value: Any, _custom: bool) -> bool:
    return (
        type(value) is dict
        and value.keys() == {"kill_chain_name", "phase_name"}
        and all(type(item) is str for item in value.values())
    )


_EMBEDDED: dict[type, Check] = {
    common.ExternalReference: _external_reference,
    common.KillChainPhase: _kill_chain_phase,
}


def _list(prop: props.ListProperty) -> Check:
    contained = prop.contained
    item_check = _compile(contained) if isinstance(contained, props.Property) else _EMBEDDED.get(contained, _never)

    def check(value: Any, custom: bool) -> bool:
        return type(value) is list and len(value) > 0 and all(item_check(item, custom) for item in value)

    return check


def _compile(prop: props.Property) -> Check:
    """The fast check for one stix2 property declaration; exact classes only (a subclass may clean differently)."""
    if hasattr(prop, "_fixed_value"):
        return _fixed(prop._fixed_value)
    kind = type(prop)
    if kind in (props.StringProperty, props.PatternProperty, props.OpenVocabProperty):
        return _string
    if kind is props.EnumProperty:
        return _enum(prop)
    if kind is props.IDProperty:
        return _identifier(prop)
    if kind is props.IntegerProperty:
        return _integer(prop)
    if kind is props.BooleanProperty:
        return _boolean
    if kind is props.TimestampProperty:
        return _timestamp_check
    if kind is props.ReferenceProperty:
        return _reference(prop)
    if kind is props.ListProperty:
        return _list(prop)
    return _never  # dictionaries, hashes, extensions, embedded objects, floats, selectors, ...


# -- The per-class constraints stix2 checks after the properties (its _check_object_constraints), mirrored.
# Each returns True when the constraint holds; the timestamps were already checked for shape.


def _seen_in_order(obj: dict[str, Any], first: str = "first_seen", last: str = "last_seen") -> bool:
    if first in obj and last in obj:
        start, end = _timestamp(obj[first]), _timestamp(obj[last])
        return start is not None and end is not None and not end < start
    return True


def _no_extra_constraints(_obj: dict[str, Any]) -> bool:
    return True


def _relationship(obj: dict[str, Any]) -> bool:
    # Relationship.__init__ takes these three as named arguments and drops a falsy one ("" included).
    if not all(obj.get(name) for name in ("source_ref", "relationship_type", "target_ref")):
        return False
    if "start_time" in obj and "stop_time" in obj:
        start, stop = _timestamp(obj["start_time"]), _timestamp(obj["stop_time"])
        return start is not None and stop is not None and not stop <= start
    return True


def _malware(obj: dict[str, Any]) -> bool:
    return _seen_in_order(obj) and not (obj.get("is_family") is True and "name" not in obj)


def _indicator_times(obj: dict[str, Any]) -> bool:
    if "valid_from" in obj and "valid_until" in obj:
        start, end = _timestamp(obj["valid_from"]), _timestamp(obj["valid_until"])
        return start is not None and end is not None and not end <= start
    return True


_BASE_CONSTRAINTS = stix2.base._STIXBase._check_object_constraints  # granular markings only: declined anyway
_CONSTRAINTS: dict[Any, Callable[[dict[str, Any]], bool]] = {
    _BASE_CONSTRAINTS: _no_extra_constraints,
    sdo.Campaign._check_object_constraints: _seen_in_order,
    sdo.IntrusionSet._check_object_constraints: _seen_in_order,
    sdo.ThreatActor._check_object_constraints: _seen_in_order,
    sdo.Malware._check_object_constraints: _malware,
    sro.Relationship._check_object_constraints: _relationship,
    sdo.Indicator._check_object_constraints: _indicator_times,  # the pattern is checked separately
}


@dataclass(frozen=True)
class _Compiled:
    checks: dict[str, Check]
    required: frozenset[str]
    constraints: Callable[[dict[str, Any]], bool]


_compiled: dict[str, _Compiled | None] = {}


def _compiled_for(stix_type: str) -> _Compiled | None:
    if stix_type not in _compiled:
        cls = class_for_type(stix_type, "2.1", "objects")
        constraints = None
        if cls is not None and issubclass(cls, (stix2.base._DomainObject, stix2.base._RelationshipObject)):
            constraints = _CONSTRAINTS.get(cls._check_object_constraints)
        _compiled[stix_type] = (
            None
            if cls is None or constraints is None
            else _Compiled(
                checks={name: _compile(prop) for name, prop in cls._properties.items()},
                required=frozenset(name for name, prop in cls._properties.items() if prop.required),
                constraints=constraints,
            )
        )
    return _compiled[stix_type]


def vouch(candidate: dict[str, Any]) -> Vouched | None:
    """Vouched when stix2.parse(candidate, allow_custom=<has x_ properties>) surely accepts it, else None.

    ``allow_custom`` follows accord.intel.validate: custom properties are allowed only in STIX's x_ form.
    """
    compiled = _compiled_for(candidate.get("type", ""))
    if compiled is None:
        return None
    custom = any(key.startswith("x_") for key in candidate)
    checks = compiled.checks
    for key, value in candidate.items():
        if value is None or value == []:
            return None  # stix2 treats these as absent, which changes the verdict: let it say
        check = checks.get(key)
        if check is None:
            if not (key.startswith("x_") and PREFIX_21_REGEX.match(key)):
                return None
        elif not check(value, custom):
            return None
    if not compiled.required <= candidate.keys() or not compiled.constraints(candidate):
        return None
    if candidate["type"] != "indicator" or candidate.get("pattern_type") != "stix":
        return Vouched(None)
    if candidate.get("pattern_version", "2.1") != "2.1":
        return None
    comparisons = fast_comparisons(candidate["pattern"])
    return None if comparisons is None else Vouched(comparisons)
