"""canonical_bytes takes a fast path through the json module; it must write what rfc8785 writes, or refuse
what rfc8785 refuses."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from accord.canonical_json import canonical_bytes

ANY_CHARACTER = st.characters(codec=None, exclude_categories=())  # every code point, lone surrogates included
TEXT = st.one_of(st.text(max_size=12), st.text(alphabet=ANY_CHARACTER, max_size=6))
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)),
    max_leaves=20,
)


def _outcome(encode: Any, value: Any) -> bytes | str:
    try:
        result: bytes = encode(value)
        return result
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:  # rfc8785 raises the latter for keys
        return type(exc).__name__


@given(VALUES)
def test_it_writes_what_rfc8785_writes(value: Any) -> None:
    assert _outcome(canonical_bytes, value) == _outcome(rfc8785.dumps, value)


class Colour(StrEnum):
    RED = "red"


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"]},
        {"\ue000": 1, "\U0001f600": 2},  # UTF-16 order puts the emoji (a surrogate pair) first
        {"line": 'a\nb\tc\u0001\u001f\u007f\u2028"\\/'},
        {"n": 2**53 - 1, "m": -(2**53 - 1)},
        {"f": 1.0, "g": 1e21, "h": 5e-324},
        [Colour.RED, (1, 2)],
        "caf\u00e9 \U0001f600",
    ],
)
def test_known_differences_between_json_and_rfc8785_are_handled(value: Any) -> None:
    assert canonical_bytes(value) == rfc8785.dumps(value)


def test_values_rfc8785_refuses_are_refused() -> None:
    for value in [{"n": 2**53}, "\ud800", {"\ud800": 1}, float("nan")]:
        with pytest.raises(ValueError):  # CanonicalizationError, or UnicodeEncodeError for a key
            canonical_bytes(value)


def test_a_stix_object_round_trips() -> None:
    obj = {"type": "indicator", "name": "Tr\u1ea7n", "confidence": 80, "labels": ["a"], "revoked": False}
    assert json.loads(canonical_bytes(obj)) == obj
