"""The fast STIX pattern parser never vouches for a pattern stix2-patterns refuses, and reports the same comparisons.

stix2-patterns is the oracle: ``run_validator(pattern, "2.1")`` (what stix2 calls: stix2patterns.v21.validator's
run_validator plus a bracket check) must return no errors and ``Pattern(pattern).inspect().comparisons`` must equal
ours whenever ``fast_comparisons`` returns a list. Returning None is always allowed, except for the common shapes,
which must take the fast path.
"""

from __future__ import annotations

import base64
import functools
import importlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stix2patterns.inspector import INDEX_STAR
from stix2patterns.v21.pattern import Pattern
from stix2patterns.validator import run_validator

from accord.intel.pattern_parser import MAX_TREE_HEIGHT, Comparison, fast_comparisons

PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHARED_DATA = Path("/work/shared/data")
LIBRARY_TESTS = ("stix2patterns.test.v21.test_validator", "stix2patterns.test.v21.test_inspector")
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
PHONES = "[phone-number:value = '+84912345678'] OR [bank-account:iban = 'DE89370400440532013000']"


def library_errors(pattern: str) -> list[str]:
    return list(run_validator(pattern, stix_version="2.1"))


def library_comparisons(pattern: str) -> dict[str, list[tuple[list[Any], str, str]]]:
    return dict(Pattern(pattern).inspect().comparisons)


def as_inspected(comparisons: list[Comparison]) -> dict[str, list[tuple[list[Any], str, str]]]:
    """Ours in the inspector's shape; "*" becomes its INDEX_STAR object again (a quoted '*' would not compare equal)."""
    grouped: dict[str, list[tuple[list[Any], str, str]]] = {}
    for comparison in comparisons:
        path = [INDEX_STAR if step == "*" else step for step in comparison.path]
        grouped.setdefault(comparison.object_type, []).append((path, comparison.operator, comparison.value))
    return grouped


def agrees(pattern: str) -> list[Comparison] | None:
    """fast_comparisons(pattern), after checking that stix2-patterns agrees with it whenever it is not None."""
    fast = fast_comparisons(pattern)
    if fast is not None:
        assert library_errors(pattern) == [], pattern
        assert as_inspected(fast) == library_comparisons(pattern), pattern
    return fast


# --- Corpus ----------------------------------------------------------------------------------------------------


def library_test_patterns() -> list[str]:
    """Every pattern string in the parametrize lists of stix2-patterns' own v21 tests, valid and invalid."""
    found: list[str] = []
    for name in LIBRARY_TESTS:
        module = importlib.import_module(name)
        for test in vars(module).values():
            for mark in getattr(test, "pytestmark", []):
                if mark.name != "parametrize":
                    continue
                for values in mark.args[1]:
                    first = values[0] if isinstance(values, tuple) else values
                    if isinstance(first, str):
                        found.append(first)
    return found


@functools.cache
def shared_data_patterns() -> tuple[str, ...]:
    """Indicator patterns of the shared STIX bundles, streamed (the files are large); read once per session."""
    import ijson

    patterns: list[str] = []
    for path in sorted(SHARED_DATA.glob("*.json")):
        if not _mentions(path, b'"indicator"'):
            continue  # a byte scan is ten times faster than parsing 45 MB of ATT&CK that holds no indicator
        with path.open("rb") as stream:
            for item in ijson.items(stream, "objects.item"):
                if item.get("type") == "indicator" and item.get("pattern_type", "stix") == "stix":
                    if isinstance(item.get("pattern"), str):
                        patterns.append(item["pattern"])
    return tuple(patterns)


def _mentions(path: Path, needle: bytes) -> bool:
    tail = b""
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


# The common shapes: the fast path must take every one of them (a parser that always says None fails here).
COMMON: dict[str, list[tuple[str, tuple[str | int, ...], str, str]]] = {
    "[phone-number:value = '+84912345678']": [("phone-number", ("value",), "=", "'+84912345678'")],
    PHONES + " OR [ipv4-addr:value = '11.0.0.1']": [
        ("phone-number", ("value",), "=", "'+84912345678'"),
        ("bank-account", ("iban",), "=", "'DE89370400440532013000'"),
        ("ipv4-addr", ("value",), "=", "'11.0.0.1'"),
    ],
    "[url:value = 'http://a.example/x' AND url:value != 'b' OR domain-name:value = 'c.example']": [
        ("url", ("value",), "=", "'http://a.example/x'"),
        ("url", ("value",), "!=", "'b'"),
        ("domain-name", ("value",), "=", "'c.example'"),
    ],
    "[a:b = 1] AND [c:d = 2] FOLLOWEDBY ([e:f = 3] OR [g:h = 4])": [
        ("a", ("b",), "=", "1"),
        ("c", ("d",), "=", "2"),
        ("e", ("f",), "=", "3"),
        ("g", ("h",), "=", "4"),
    ],
    "[(file:size < 10 OR file:size > 20) AND NOT EXISTS file:name AND file:x NOT = 1]": [
        ("file", ("size",), "<", "10"),
        ("file", ("size",), ">", "20"),
        ("file", ("x",), "NOT =", "1"),
    ],
    "[file:size <= 1024 AND file:size >= -5 AND file:ratio < 0.5 AND file:r > -.25 AND file:q = +3]": [
        ("file", ("size",), "<=", "1024"),
        ("file", ("size",), ">=", "-5"),
        ("file", ("ratio",), "<", "0.5"),
        ("file", ("r",), ">", "-.25"),
        ("file", ("q",), "=", "+3"),
    ],
    "[ipv4-addr:value IN ('10.0.0.1', '10.0.0.2') AND ipv4-addr:x NOT IN (1, 2.5, true) AND ipv4-addr:y IN ()]": [
        ("ipv4-addr", ("value",), "IN", "('10.0.0.1','10.0.0.2')"),
        ("ipv4-addr", ("x",), "NOT IN", "(1,2.5,true)"),
        ("ipv4-addr", ("y",), "IN", "()"),
    ],
    "[file:name LIKE 'a%' OR file:name MATCHES '^b\\\\.exe$' OR file:name NOT LIKE 'c_']": [
        ("file", ("name",), "LIKE", "'a%'"),
        ("file", ("name",), "MATCHES", "'^b\\\\.exe$'"),
        ("file", ("name",), "NOT LIKE", "'c_'"),
    ],
    "[ipv4-addr:value ISSUBSET '10.0.0.0/8' AND ipv6-addr:value NOT ISSUPERSET '2001:db8::/32']": [
        ("ipv4-addr", ("value",), "ISSUBSET", "'10.0.0.0/8'"),
        ("ipv6-addr", ("value",), "NOT ISSUPERSET", "'2001:db8::/32'"),
    ],
    "[EXISTS x:a] AND [x:b = false]": [("x", ("b",), "=", "false")],
    "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=' AND artifact:x = h'0aFF' AND artifact:y = h'']": [
        ("artifact", ("payload_bin",), "=", "b'dGhpcyBpcyBhIHRlc3Q='"),
        ("artifact", ("x",), "=", "h'0aFF'"),
        ("artifact", ("y",), "=", "h''"),
    ],
    "[x:created > t'2024-01-15T12:30:45.123Z' AND x:d == t'2024-02-30T23:59:60Z' AND x:e <> 'f']": [
        ("x", ("created",), ">", "t'2024-01-15T12:30:45.123Z'"),
        ("x", ("d",), "==", "t'2024-02-30T23:59:60Z'"),
        ("x", ("e",), "<>", "'f'"),
    ],
    f"[file:hashes.'SHA-256' = '{SHA256}' OR file:hashes.MD5 = '{MD5}' OR file:hashes[*] = 'x']": [
        ("file", ("hashes", "SHA-256"), "=", f"'{SHA256}'"),
        ("file", ("hashes", "MD5"), "=", f"'{MD5}'"),
        ("file", ("hashes", "*"), "=", "'x'"),
    ],
    "[network-traffic:extensions.'http-request-ext'.request_header.'Accept-Encoding' = 'gzip']": [
        ("network-traffic", ("extensions", "http-request-ext", "request_header", "Accept-Encoding"), "=", "'gzip'")
    ],
    "[email-message:to_refs[0].value = 'a@b.example' AND email-message:to_refs[*].value = 'c' AND x:a[+2] = 1]": [
        ("email-message", ("to_refs", 0, "value"), "=", "'a@b.example'"),
        ("email-message", ("to_refs", "*", "value"), "=", "'c'"),
        ("x", ("a", 2), "=", "1"),
    ],
    "[x:'quoted name'.'it\\'s'.'back\\\\slash' = 'don\\'t']": [
        ("x", ("quoted name", "it's", "back\\slash"), "=", "'don\\'t'"),
    ],
    "[a:b = 1] WITHIN 5 SECONDS AND [c:d = 2] REPEATS 3 TIMES WITHIN 2.5 SECONDS": [
        ("a", ("b",), "=", "1"),
        ("c", ("d",), "=", "2"),
    ],
    "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00.123Z' REPEATS 2 TIMES": [
        ("a", ("b",), "=", "1"),
    ],
    "([a:b = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS WITHIN 3 SECONDS": [("a", ("b",), "=", "1")],
    "\t(\n( [a:b='x'] )\u00a0)\u3000": [("a", ("b",), "=", "'x'")],
    "[a:b = 'ünïcödé 😀 \u2028 \\\\ \x00'] AND [and:or = 'within' AND within:and = 1]": [
        ("a", ("b",), "=", "'ünïcödé 😀 \u2028 \\\\ \x00'"),
        ("and", ("or",), "=", "'within'"),
        ("within", ("and",), "=", "1"),
    ],
}

# Valid for stix2-patterns or not, the fast path refuses these (and must keep refusing them).
REFUSED = [
    "",
    "   ",
    "[]",
    "[ ]",
    "()",
    "[a:b = 1",
    "[a:b = 1]]",
    "[a:b = 1] x",
    "[a:b = 1] AND",
    "[a:b = 1] and [c:d = 2]",  # keywords are upper case
    "[a:b = 1] within 5 seconds",
    "[a:b = 1] Within 5 SECONDS",
    "[a:b = TRUE]",
    "[a:b = 1] WITHIN 5 SECONDS WITHIN 6 SECONDS",  # duplicate qualifier on one observation
    "([a:b = 1] REPEATS 2 TIMES REPEATS 3 TIMES)",
    "[a:b = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z' START t'2016-06-01T01:30:00Z' "
    "STOP t'2016-06-01T02:20:00Z'",
    "[a:b = 1] WITHIN -5 SECONDS",
    "[a:b = 1] WITHIN 5.5 SECONDS REPEATS 1.5 TIMES",
    "[a:b = 1] START '2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z'",
    "[file:hashes.'SHA-256' = 'f00']",  # object_validator's hash check
    "[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879']",
    f"[file:hashes.md5 = '{MD5}0']",  # the check upper-cases the algorithm
    "[file:hashes.'sha-1' IN ('a', 'b')]",
    "[file:hashes[0] = 'x']",  # stix2-patterns raises AttributeError
    "[x:hashes.a[1] = 'x']",
    "[x:a[-1] = 1]",  # stix2-patterns raises AttributeError (valid grammar)
    "[EXISTS x:a[-1]]",
    "[x:a['*'] = 1]",
    "[x:a.'*' = 1]",  # would look like [*]
    "[x:a[01] = 1]",
    "[x:a = 012]",
    "[x:a = 1.]",
    "[x:a = + 1]",
    "[x:a-b = 1]",  # property names take no hyphen
    "[x:a.b-c = 1]",
    '[x:"a" = 1]',
    '[x:a = "b"]',
    "[x:a = 'b\\c']",  # only \\' and \\\\ escape
    "[x:a = 'b\\\"']",
    "[x:a = 'unterminated]",
    "[x:a = b'']",
    "[x:a = b'abc']",
    "[x:a = b'====']",
    "[x:a = h'abc']",
    "[x:a = t'2024-13-01T12:00:00Z']",
    "[x:a = t'2024-01-15T12:30:61Z']",
    "[x:a = t'2024-01-15T12:30:45']",
    "[x:a = t'2024-01-15T12:30:45z']",
    "[x:a < true]",
    "[x:a LIKE 1]",
    "[x:a IN 'b']",
    "[x:a IN ('b',)]",
    "[x:a IN (('b'))]",
    "[x:a = 1 AND]",
    "[x:a NOT EXISTS]",
    "[EXISTS x:a = 1]",
    "[x:a = 1] /* comment */",
    "/* comment */ [x:a = 1]",
    "[x:a = 1] // comment",
    "x:a = 1",
    "[x.a = 1]",
    "[x:a =? 1]",
    "[x:a ! = 1]",
    "[x:a = 1]\x00",
    "[x:a = 1]\x1c",  # isspace() but not the grammar's whitespace
    "[x:a = 1]\u200b",
    "[x:a = 1] LAST 5 SECONDS",
    "[x:a = 1] WITHIN 5 SECONDS" + " WITHIN 5 SECONDS",
    "(" * 70 + "[x:a = 1]" + ")" * 70,
    "[" + "(" * 70 + "x:a = 1" + ")" * 70 + "]",
    " AND ".join(["[x:a = 1]"] * (MAX_TREE_HEIGHT + 1)),
    "[x:a" + ".b" * (MAX_TREE_HEIGHT + 1) + " = 1]",
    "[x:a[" + "9" * 5000 + "] = 1]",  # beyond int()'s digit limit: the inspector raises ValueError
]

TRICKY = [
    "[x:a = '']",
    "[x:a = '\\\\']",
    "[x:a = '\\'']",
    "[x:a = '\\\\\\'']",
    "[x:'' = 1]",
    "[x:'\\\\\\'' = 1]",
    "[x:'a'.'' = 1]",
    "[x:a.'0' = 1]",
    "[x:a[0][0][*] = 1]",
    "[x:_a.B_9 = 1]",
    "[_:_ = 1]",
    "[x-:a = 1]",
    "[x--y:a = 1]",
    "[t:b = 1]",
    "[x:t = 1]",
    "[x:a = t'2024-01-15T12:30:45.Z']",
    "[x:a = 1 OR x:b = 2 AND x:c = 3]",
    "[x:a = 1]AND[x:b = 2]",
    "[x:a=1]WITHIN 1SECONDS",
    "[x:a = 1] WITHIN 0 SECONDS",
    "[x:a = 1] WITHIN +1 SECONDS",
    "[x:a = 1] WITHIN .5 SECONDS",
    "[x:a = 1] REPEATS 0 TIMES",
    "[x:a = 1] REPEATS +2 TIMES",
    "[x:a = 0]",
    "[x:a = -0]",
    "[x:a = 00.5]",
    "[x:a = 1.5.5]",
    "[x:a = 1e5]",
    "[x:a = .5]",
    "[x:a.5 = 1]",
    "[x:a = h'aA09']",
    "[x:a = b'AAA=' AND x:b = b'AA==' AND x:c = b'A+/9']",
    "[x:a = b'A===']",
    "[x:a IN(1)]",
    "[x:a NOT!=1]",
    "[x:a NOT <> 1]",
    "[x:a NOT NOT = 1]",
    "[NOT x:a = 1]",
    "[NOT NOT EXISTS x:a]",
    "[(EXISTS x:a)]",
    "[x:a = 1] FOLLOWEDBY [x:b = 2] FOLLOWEDBY [x:c = 3]",
    "([x:a = 1] AND [x:b = 2]) REPEATS 2 TIMES REPEATS 2 TIMES",
    "[x:a = 1] WITHIN 1 SECONDS REPEATS 1 TIMES START t'2024-01-15T12:30:45Z' STOP t'2024-01-15T12:30:45Z'",
    "[x:a = 1] AND ([x:b = 2] WITHIN 1 SECONDS) WITHIN 1 SECONDS AND [x:c = 3] WITHIN 1 SECONDS",
    "[file:hashes.'SHA-256' = 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855']",
    "[file:hashes.'SHA-256' LIKE 'e3%']",
    f"[file:hashes.'MD5' = '{MD5}\n']",  # the library's regex has $, which matches before a final newline
    f"[file:'hashes'.MD6 = '{MD5}']",
    "[file:hashes.MD6 = 'zz']",
    f"[file:hashes.sha3_256 = '{SHA256}']",
    "[file:hashes.SSDEEP = '3:a:b']",
    "[file:hashes.'SHA-256' = 1]",
    "[file:hashes.unknown = 'x']",
    "[file:hashes = 'x']",
    "[file:hashes.'SHA-256'[*] = 'x']",
    f"[file:hashes.'SHA-256' IN ('{SHA256}')]",
    "[x:a = 'fin\u00a0de\u3000ligne\r\n']",
    "[x:a = 1]\u2028",
    "\u0085[x:a = 1]",
    "[x:a = 1]\ufeff",
    "[x:ä = 1]",
    "[x:a = '\ud800']",
    "[x:a = '\U0001d518\U0001d52b']",  # outside the BMP
    "((([x:a = 1])) OR [x:b = 2])",
    "[((x:a = 1) OR (x:b = 2)) AND ((x:c = 3))]",
    "[a:b = 1] AND [c:d = 2] OR [e:f = 3] FOLLOWEDBY [g:h = 4] AND [i:j = 5]",
    "[x:a IN (" + ",".join(str(n) for n in range(2000)) + ")]",
    " OR ".join(["[x:a = 1]"] * (MAX_TREE_HEIGHT // 2)),
    "[" + " OR ".join(["x:a = 1"] * (MAX_TREE_HEIGHT // 2)) + "]",
    "(" * 40 + "[x:a = 1]" + ")" * 40,
    "[x:a[" + "9" * 300 + "] = 1]",
]


@pytest.mark.parametrize(("pattern", "expected"), list(COMMON.items()))
def test_common_shapes_take_the_fast_path_with_the_inspectors_comparisons(
    pattern: str, expected: list[tuple[str, tuple[str | int, ...], str, str]]
) -> None:
    assert agrees(pattern) == [Comparison(*comparison) for comparison in expected]


@pytest.mark.parametrize("pattern", REFUSED)
def test_unvouched_patterns_are_left_to_stix2_patterns(pattern: str) -> None:
    assert fast_comparisons(pattern) is None


@pytest.mark.parametrize("pattern", TRICKY + REFUSED + list(COMMON))
def test_tricky_patterns_agree_with_stix2_patterns(pattern: str) -> None:
    agrees(pattern)


def test_library_test_patterns_agree_and_the_valid_ones_are_mostly_fast() -> None:
    patterns = library_test_patterns()
    assert len(patterns) > 60  # the extraction found the parametrize lists
    verdicts = [agrees(pattern) is not None for pattern in patterns]
    valid = [pattern for pattern in patterns if _library_accepts(pattern)]
    fast = [pattern for pattern, accepted in zip(patterns, verdicts, strict=True) if accepted]
    assert set(fast) <= set(valid)
    assert len(set(fast)) >= 0.9 * len(set(valid)), sorted(set(valid) - set(fast))


def test_shared_data_indicator_patterns_agree() -> None:
    for pattern in shared_data_patterns():
        agrees(pattern)


def _library_accepts(pattern: str) -> bool:
    try:
        return library_errors(pattern) == []
    except Exception:  # stix2-patterns crashes on some inputs ([-1], hashes[0], ""): that is not acceptance
        return False


@pytest.mark.parametrize(
    "pattern",
    [
        "(" * 100_000,
        "[" * 100_000,
        "0" * 100_000,
        "[x:a = " + "0" * 100_000 + "]",
        "h'" + "a" * 100_000,
        "b'" + "A" * 100_000,
        "'" + "\\a" * 50_000,
        "[x:a = '" + "\\\\" * 50_000,
        "t'2024" * 20_000,
        "[x:a" + "[0]" * 50_000 + " = 1]",
        "[x:a IN (" + "1," * 50_000 + "]",
        "([x:a = 1]) WITHIN 1 SECONDS" * 20_000,
        "\u3000" * 100_000,
    ],
)
def test_huge_or_deep_input_is_refused_without_error(pattern: str) -> None:
    assert fast_comparisons(pattern) is None


# --- Property tests ----------------------------------------------------------------------------------------------

WHITESPACE = st.sampled_from([" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\x0b"])
OPTIONAL_SPACE = st.one_of(st.just(""), WHITESPACE)
WORDS_TAKEN = frozenset(
    "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP SECONDS WITHIN REPEATS TIMES "
    "true false hashes".split()
)
NAMES = st.one_of(
    st.sampled_from(["value", "name", "iban", "size", "hashes", "x_custom", "and", "within", "Or", "t", "h", "b"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True),
)
TYPES = st.one_of(
    st.sampled_from(["phone-number", "bank-account", "ipv4-addr", "file", "x-acme-thing", "url", "a"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,8}", fullmatch=True),
)
STRING_CHARS = st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(list("'\\%_*\n\u2028 "))
HASH_ALGORITHMS = st.sampled_from(["MD5", "'SHA-1'", "'SHA-256'", "SHA256", "'SHA-512'", "md5", "SSDEEP", "'MD6'"])


def quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def string_literals(draw: st.DrawFn) -> str:
    return quoted(draw(st.text(STRING_CHARS, max_size=12)))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    year, month, day = draw(st.integers(0, 9999)), draw(st.integers(1, 12)), draw(st.integers(1, 31))
    hour, minute, second = draw(st.integers(0, 23)), draw(st.integers(0, 59)), draw(st.integers(0, 60))
    fraction = draw(st.sampled_from(["", ".1", ".123", ".000001"]))
    return f"t'{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z'"


@st.composite
def number_literals(draw: st.DrawFn) -> str:
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    if draw(st.booleans()):
        return sign + str(draw(st.integers(0, 10**12)))
    whole = draw(st.sampled_from(["", "0", "1", "42", "007"]))
    return f"{sign}{whole}.{draw(st.integers(0, 10**6))}"


def orderable_literals() -> st.SearchStrategy[str]:
    return st.one_of(
        number_literals(),
        string_literals(),
        timestamps(),
        st.binary(min_size=1, max_size=12).map(lambda data: "b'" + base64.b64encode(data).decode() + "'"),
        st.binary(max_size=8).map(lambda data: "h'" + data.hex() + "'"),
        st.binary(min_size=1, max_size=8).map(lambda data: "h'" + data.hex().upper() + "'"),
    )


def primitive_literals() -> st.SearchStrategy[str]:
    return st.one_of(orderable_literals(), st.sampled_from(["true", "false"]))


@st.composite
def paths(draw: st.DrawFn, *, common: bool) -> str:
    names = NAMES.filter(lambda name: name not in WORDS_TAKEN) if common else NAMES
    quoted_names = st.text(STRING_CHARS, max_size=6)
    if common:  # '*' would read as [*]; a path through hashes meets the hash-format check
        quoted_names = quoted_names.filter(lambda name: name not in ("*", "hashes"))
    text = draw(st.one_of(names, quoted_names.map(quoted)))
    steps = [
        names.map(lambda name: "." + name),
        quoted_names.map(lambda name: "." + quoted(name)),
        st.integers(0, 99).map(lambda index: f"[{index}]"),
        st.just("[*]"),
    ]
    if not common:
        steps += [st.sampled_from(["[-1]", "[+2]", "['*']", ".'*'", "[01]"]), HASH_ALGORITHMS.map(lambda a: "." + a)]
    for step in draw(st.lists(st.one_of(steps), max_size=3)):
        text += step
    return text


@st.composite
def prop_tests(draw: st.DrawFn, *, common: bool) -> str:
    space = draw(OPTIONAL_SPACE)
    if not common and draw(st.integers(0, 9)) == 0:
        algorithm = draw(HASH_ALGORITHMS)
        digest = draw(st.sampled_from([MD5, SHA256, "0" * 40, "f00", "3:abc:def"]))
        return f"file:hashes.{algorithm}{space}={space}'{digest}'"
    path = f"{draw(TYPES)}:{draw(paths(common=common))}"
    negation = draw(st.sampled_from(["", "", "", "NOT "]))
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return f"{path} {negation}{draw(st.sampled_from(['=', '==', '!=', '<>']))}{space}{draw(primitive_literals())}"
    if shape == 1:
        return f"{path} {negation}{draw(st.sampled_from(['<', '<=', '>', '>=']))}{space}{draw(orderable_literals())}"
    if shape == 2:
        items = draw(st.lists(primitive_literals(), max_size=4))
        return f"{path} {negation}IN{space}({(',' + space).join(items)})"
    if shape == 3:
        operator = draw(st.sampled_from(["LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"]))
        return f"{path} {negation}{operator} {draw(string_literals())}"
    if shape == 4:
        return f"{negation}EXISTS {path}"
    return f"{path}{space}={space}{draw(string_literals())}"


def comparison_expressions(common: bool) -> st.SearchStrategy[str]:
    return st.recursive(
        prop_tests(common=common),
        lambda inner: st.one_of(
            st.tuples(st.lists(inner, min_size=2, max_size=3), st.sampled_from([" AND ", " OR "])).map(
                lambda parts: parts[1].join(parts[0])
            ),
            inner.map(lambda text: f"({text})"),
        ),
        max_leaves=6,
    )


QUALIFIERS = {
    "WITHIN": st.one_of(st.integers(0, 999).map(str), st.sampled_from(["1.5", ".5", "+3", "0.0"])).map(
        lambda n: f" WITHIN {n} SECONDS"
    ),
    "REPEATS": st.integers(0, 99).map(lambda n: f" REPEATS {n} TIMES"),
    "STARTSTOP": st.tuples(timestamps(), timestamps()).map(lambda ts: f" START {ts[0]} STOP {ts[1]}"),
}


@st.composite
def qualifiers(draw: st.DrawFn, *, unique: bool) -> str:
    kinds = draw(st.lists(st.sampled_from(sorted(QUALIFIERS)), max_size=3, unique=unique))
    return "".join(draw(QUALIFIERS[kind]) for kind in kinds)


def observation_expressions(common: bool) -> st.SearchStrategy[str]:
    simple = st.tuples(comparison_expressions(common), OPTIONAL_SPACE, qualifiers(unique=common)).map(
        lambda parts: f"[{parts[1]}{parts[0]}{parts[1]}]{parts[2]}"
    )
    return st.recursive(
        simple,
        lambda inner: st.one_of(
            st.tuples(st.lists(inner, min_size=2, max_size=3), st.sampled_from([" AND ", " OR ", " FOLLOWEDBY "])).map(
                lambda parts: parts[1].join(parts[0])
            ),
            st.tuples(inner, qualifiers(unique=False)).map(lambda parts: f"({parts[0]}){parts[1]}"),
        ),
        max_leaves=4,
    )


@st.composite
def spaced(draw: st.DrawFn, patterns: st.SearchStrategy[str]) -> str:
    pattern = draw(patterns)
    return draw(OPTIONAL_SPACE) + pattern.replace(" ", draw(WHITESPACE)) + draw(OPTIONAL_SPACE)


MUTATION_CHARS = [*"'\\[]():.,*=!<>+-/ \t\n0159abhtzAZ_\"%", "AND", "OR", "NOT", "\u00a0", "é", "\x00", "/*"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    pattern = draw(spaced(observation_expressions(common=False)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(pattern)))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "case", "duplicate"]))
        if edit == "insert":
            pattern = pattern[:at] + draw(st.sampled_from(MUTATION_CHARS)) + pattern[at:]
        elif edit == "delete":
            pattern = pattern[:at] + pattern[at + draw(st.integers(1, 3)) :]
        elif edit == "replace":
            pattern = pattern[:at] + draw(st.sampled_from(MUTATION_CHARS)) + pattern[at + 1 :]
        elif edit == "case":
            keyword = draw(st.sampled_from(["AND", "OR", "NOT", "IN", "WITHIN", "SECONDS", "LIKE", "true", "EXISTS"]))
            swapped = draw(st.sampled_from([keyword.lower(), keyword.upper(), keyword.title()]))
            pattern = pattern.replace(keyword, swapped, 1)
        else:
            end = draw(st.integers(at, len(pattern)))
            pattern = pattern[:end] + pattern[at:end] + pattern[end:]
    return pattern


@PROPERTY
@given(spaced(observation_expressions(common=True)))
def test_generated_common_patterns_take_the_fast_path_and_agree(pattern: str) -> None:
    assert agrees(pattern) is not None, pattern


@PROPERTY
@given(spaced(observation_expressions(common=False)))
def test_generated_patterns_with_rare_syntax_never_get_a_wrong_verdict(pattern: str) -> None:
    agrees(pattern)


@settings(PROPERTY, max_examples=800)
@given(mutated())
def test_mutated_patterns_never_get_a_wrong_verdict(pattern: str) -> None:
    agrees(pattern)


@PROPERTY
@given(st.lists(st.sampled_from(MUTATION_CHARS), max_size=30).map(lambda body: "[x:a = 1" + "".join(body)))
def test_random_tails_never_get_a_wrong_verdict(pattern: str) -> None:
    agrees(pattern)
