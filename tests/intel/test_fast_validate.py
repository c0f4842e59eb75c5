"""The fast validation path against stix2's own verdicts on the same objects.

The fast path may only say "stix2 accepts this": every object it vouches for must pass the full stix2 path
(``check_object(..., fast=False)``), and it must vouch for the common shapes, or it buys nothing. The objects
are a sample of real ATT&CK (every type, every property present), the benchmark's synthetic scam indicators
and mutations of both that break one property at a time in the ways stix2 is lenient or strict about.
"""

from __future__ import annotations

import copy
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.intel.errors import InvalidStix
from accord.intel.fast_validate import vouch
from accord.intel.validate import CUSTOM_TYPE, check_object

ATTACK = Path(__file__).resolve().parents[3] / "shared" / "data" / "enterprise-attack-18.1-stix21.json"
NOW = datetime(2026, 11, 23, tzinfo=UTC)
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from intel_import import synthetic_indicators  # noqa: E402  (the benchmark's own generator: the same objects)

BAD_VALUES: list[Any] = [
    None,
    [],
    {},
    0,
    -1,
    101,
    True,
    1.5,
    "",
    "true",
    ["x"],
    [1],
    [None],
    {"a": 1},
    "2026-13-01T00:00:00Z",
    "2026-02-30T00:00:00.000Z",
    "2026-01-01T00:00:00.1234567Z",
    "2026-01-01T00:00:00+00:00",
    "2026-01-01T00:00:00.000Z",
    "identity--7e9ad3d7-4e9b-4e1d-8c4b-0c4e1b7a2f10",
    "indicator--7e9ad3d7-4e9b-4e1d-8c4b-0c4e1b7a2f10",
    "identity--7e9ad3d7-4e9b-4e1d-7c4b-0c4e1b7a2f10",  # not the RFC 4122 variant
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "x-custom--7e9ad3d7-4e9b-4e1d-8c4b-0c4e1b7a2f10",
    "a--b--7e9ad3d7-4e9b-4e1d-8c4b-0c4e1b7a2f10",
    [{"source_name": "x"}],
    [{"source_name": "x", "url": 5}],
    [{"source_name": "x", "url": "https://example.org", "hashes": {"SHA-256": "00"}}],
    [{"kill_chain_name": "k"}],
    [{"kill_chain_name": "k", "phase_name": "p", "extra": "e"}],
    "[ipv4-addr:value = '1.2.3.4'",
    "[file:hashes.MD5 = 'zz']",
    "[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS WITHIN 6 SECONDS",
]
EXTRA_KEYS: list[tuple[str, Any]] = [("foo", "bar"), ("x_ok", 1), ("X_bad", 1), ("extensions", {}), ("x_", None)]


def _slow_accepts(candidate: Any) -> bool:
    try:
        check_object(candidate, NOW, fast=False)
    except InvalidStix:
        return False
    return True


def _registered_sample() -> list[dict[str, Any]]:
    """Every non-custom ATT&CK type, up to 15 objects each, spread over the file (fixed seed)."""
    if not ATTACK.exists():
        pytest.skip(f"{ATTACK} is not here (the shared data sets sit beside the checkout)")
    with ATTACK.open("rb") as handle:
        objects = json.load(handle)["objects"]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if not CUSTOM_TYPE.match(obj["type"]):
            by_type.setdefault(obj["type"], []).append(obj)
    rng = random.Random(7)  # noqa: S311 - a fixed sample of test data, not a secret
    return [obj for group in by_type.values() for obj in rng.sample(group, min(15, len(group)))]


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return _registered_sample() + synthetic_indicators(15)


def _mutations(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in obj:
        if key in {"type", "id", "spec_version"}:
            continue  # check_object refuses those itself, before either path
        without = {k: v for k, v in obj.items() if k != key}
        yield without
        for bad in BAD_VALUES:
            changed = copy.deepcopy(obj)
            changed[key] = bad
            yield changed
    for key, value in EXTRA_KEYS:
        yield {**obj, key: value}
    for first, last in (("valid_from", "valid_until"), ("first_seen", "last_seen"), ("start_time", "stop_time")):
        base = obj.get(first, obj.get(last, obj.get("created")))
        if isinstance(base, str):
            yield {**obj, first: base, last: base}
            yield {**obj, first: "2030-01-01T00:00:00.000Z", last: base}


def test_the_fast_path_vouches_only_for_objects_stix2_accepts(sample: list[dict[str, Any]]) -> None:
    vouched = checked = 0
    for original in sample:
        for candidate in [original, *_mutations(original)]:
            checked += 1
            if vouch(candidate) is not None:
                vouched += 1
                assert _slow_accepts(candidate), json.dumps(candidate)[:400]
    assert checked > 20_000 and vouched > 5_000  # the sample exercised both answers


def test_the_fast_path_covers_the_common_shapes(sample: list[dict[str, Any]]) -> None:
    accepted = [obj for obj in sample if _slow_accepts(obj)]
    vouched = [obj for obj in accepted if vouch(obj) is not None]
    declined = sorted({obj["type"] for obj in accepted if vouch(obj) is None})
    assert len(vouched) >= 0.95 * len(accepted), f"declined types: {declined}"
    assert all(vouch(obj) is not None for obj in sample if obj["type"] == "indicator")


def test_a_vouched_indicator_carries_its_comparisons() -> None:
    [indicator] = synthetic_indicators(1)
    vouched = vouch(indicator)
    assert vouched is not None and vouched.comparisons is not None
    assert [c.object_type for c in vouched.comparisons] == ["phone-number", "bank-account", "ipv4-addr"]
    assert check_object(indicator, NOW).comparisons == vouched.comparisons
    assert check_object(indicator, NOW, fast=False).comparisons is None


def test_a_refused_object_gets_stix2s_reason_through_either_path() -> None:
    [indicator] = synthetic_indicators(1)
    broken = {**indicator, "valid_until": indicator["valid_from"]}
    with pytest.raises(InvalidStix) as fast:
        check_object(broken, NOW)
    with pytest.raises(InvalidStix) as slow:
        check_object(broken, NOW, fast=False)
    assert fast.value.reason == slow.value.reason and "valid_until" in fast.value.reason


@given(
    key=st.sampled_from(
        ["name", "description", "created", "modified", "revoked", "labels", "confidence", "lang", "pattern"]
    ),
    value=st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-5, max_value=200),
        st.text(max_size=30),
        st.lists(st.text(max_size=5), max_size=3),
        st.from_regex(r"\A20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{1,8})?Z\Z"),
    ),
)
def test_random_property_values_never_get_a_wrong_yes(key: str, value: Any) -> None:
    [indicator] = synthetic_indicators(1)
    candidate = {**indicator, key: value}
    if vouch(candidate) is not None:
        assert _slow_accepts(candidate), json.dumps(candidate)[:400]
