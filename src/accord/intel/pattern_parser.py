"""A fast recursive-descent parser for STIX 2.1 patterns (STIX 2.1 section 9) that vouches only for what
stix2-patterns accepts.

Why it exists: stix2-patterns runs an ANTLR-generated parser whose Python runtime costs 0.2 to 1.5 ms per pattern
(measured: 480 us for ``run_validator`` on a three-observation pattern, 14 us here) and 75 % of our import time;
bulk ingest needs more than 5,000 indicators a second. This module lexes with one linear regular expression and
parses by hand, mirroring stix2-patterns 2.1.2 (the ``STIXPattern.g4`` grammar of ``stix2patterns.v21``, its
inspector and the validator's extra checks). When it cannot vouch for a verdict it returns None and the caller asks
stix2-patterns, so being incomplete only costs speed. The verdicts and the comparisons are tested against
stix2-patterns itself (corpus, grammar-based and mutation property tests in ``tests/intel/test_pattern_parser.py``).

How it mirrors stix2-patterns:

* Lexer: ANTLR takes the longest match and, on a tie, the earlier rule. The alternatives of ``_TOKEN`` are ordered
  so that the first one that matches is that token: literals with a prefix (``t'``, ``h'``, ``b'``) before
  identifiers, keywords only in upper case (``true``/``false`` in lower case), ``IdentifierWithHyphen`` only when
  the word holds a hyphen, string escapes only ``\\'`` and ``\\\\``, the grammar's own whitespace set.
* Parser: ``pattern: observationExpressions EOF`` with FOLLOWEDBY < OR < AND between observations, postfix
  qualifiers, OR < AND inside brackets, ``NOT?`` before every comparison operator, ``NOT? EXISTS path``.
* Checks run by ``run_validator`` after parsing: the duplicate-qualifier rule (``ValidationListener``) and the
  hash formats of ``object_validator`` (its own table is used, so the two cannot drift apart).

None is returned, besides for syntax stix2-patterns rejects, for valid-but-unvouched input: comments (the grammar
skips them, but the top-level validator's bracket check refuses a pattern that starts with one), a negative
list index ``[-1]`` (the inspector calls ``int()`` on a missing token and raises AttributeError), an integer index
as the last step of a path through ``hashes`` (``object_validator`` calls ``.upper()`` on it), an index too long for
``int()``, a quoted path component ``'*'`` (see Comparison.path), and trees deeper than ``MAX_TREE_HEIGHT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from stix2patterns.v21.object_validator import HASHES_REGEX  # re and a namedtuple only: no ANTLR import

# ANTLR walks its parse tree recursively, one Python frame per tree level: stix2-patterns hits RecursionError at a
# tree height of about 980 (measured: 980 ANDed observations, 243 nested parentheses). We vouch only for trees a
# fifth as high, so the library would still parse what we accept when called from a deep stack (web, tests).
MAX_TREE_HEIGHT: Final = 200
# Bounds our own recursion (each level also adds at least 3 to the tree height, so this never binds first).
MAX_NESTING: Final = 64

_WS = "[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"  # the grammar's WS rule
_B64 = "[A-Za-z0-9+/]"
# One token after optional whitespace. Every alternative is linear (no nested quantifiers that overlap), and a
# position always matches (``bad`` or ``eof``), so the matches tile the input.
_TOKEN: Final = re.compile(
    _WS + "*(?:"
    r"(?P<TS>t'[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:(?:[0-5][0-9]|60)(?:\.[0-9]+)?Z')"
    r"|(?P<HEX>h'(?:[0-9A-Fa-f]{2})*')"
    rf"|(?P<BIN>b'(?:{_B64}{{4}})*(?:{_B64}{{4}}|{_B64}{{3}}=|{_B64}{{2}}==)')"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)"
    r"|(?P<STR>'(?:[^'\\]|\\['\\])*')"
    r"|(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))"
    r"|(?P<op><=|<>|>=|==|!=|[=<>:,.()\[\]*])"
    r"|(?P<EOF>\Z)"
    r"|(?P<bad>(?s:.))"
    ")"
)
# Keywords are upper case only (literal names of STIXPatternLexer); LAST is one although no rule uses it.
_KEYWORDS: Final = frozenset(
    (
        "AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUPERSET ISSUBSET EXISTS LAST IN START STOP SECONDS WITHIN REPEATS TIMES"
    ).split()
)
_OPERATORS: Final = {"=": "EQ", "==": "EQ", "!=": "NEQ", "<>": "NEQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}
_ORDERABLE: Final = frozenset({"INTPOS", "INTNEG", "FLOATPOS", "FLOATNEG", "STR", "BIN", "HEX", "TS"})
_PRIMITIVE: Final = _ORDERABLE | {"BOOL"}
_ORDER_OPERATORS: Final = frozenset({"LT", "LE", "GT", "GE"})
_STRING_OPERATORS: Final = frozenset({"LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"})
_OBSERVATION_OPERATORS: Final = ("FOLLOWEDBY", "OR", "AND")  # loosest first
_COMPARISON_OPERATORS: Final = ("OR", "AND")
_HASH_FORMATS: Final = {name: re.compile(rule[0]) for name, rule in HASHES_REGEX.items()}
INDEX_STAR: Final = "*"


@dataclass(frozen=True)
class Comparison:
    """One comparison of a pattern, as ``stix2patterns.v21.pattern.Pattern(p).inspect().comparisons`` reports it.

    ``path`` maps the inspector's elements one to one: a property name is a ``str`` (a quoted component comes
    unquoted and unescaped, exactly as the inspector's ``_string_literal_to_string`` does: ``.'SHA-256'`` gives
    ``"SHA-256"``), a list index is an ``int``, and the inspector's ``INDEX_STAR`` object (``[*]``) is the string
    ``"*"``. A quoted component ``'*'`` would be the same string, so such patterns get None instead.
    ``operator`` is the inspector's (``"="``, ``"=="``, ``"<>"``, ``"NOT IN"``, ``"NOT LIKE"``...) and ``value``
    the literal's source text (strings keep quotes and escapes; a set is ``"('a',1)"`` with its spaces removed).
    ``EXISTS`` tests are no comparisons, as in the inspector.
    """

    object_type: str
    path: tuple[str | int, ...]
    operator: str
    value: str


class _Unvouched(Exception):
    """Internal: the fast parser cannot vouch that stix2-patterns accepts the pattern."""


def fast_comparisons(pattern: str) -> list[Comparison] | None:
    """The pattern's comparisons in source order if the fast parser can vouch that stix2-patterns accepts the
    pattern; None when it cannot (syntax it rejects or does not handle) — the caller then asks stix2-patterns."""
    tokens = _tokenize(pattern)
    if tokens is None:
        return None
    parser = _Parser(*tokens)
    try:
        height = parser.pattern()
    except _Unvouched:
        return None
    if height > MAX_TREE_HEIGHT or not _hashes_pass(parser.comparisons):
        return None
    return parser.comparisons


def _tokenize(pattern: str) -> tuple[list[str], list[str]] | None:
    """Token kinds and texts as the ANTLR lexer makes them (whitespace skipped), ending in EOF; None for a
    character or run the parser could never accept (comments, lone quotes, ``+``, ``-``, ``/``, ...)."""
    kinds: list[str] = []
    texts: list[str] = []
    for match in _TOKEN.finditer(pattern):
        group = match.lastgroup
        text = match[group] if group is not None else ""
        if group == "word":
            if text in _KEYWORDS:
                kind = text
            elif text == "true" or text == "false":
                kind = "BOOL"
            else:
                kind = "IDH" if "-" in text else "ID"
        elif group == "op":
            kind = _OPERATORS.get(text, text)
        elif group == "num":
            negative = text[0] == "-"
            if "." in text:
                kind = "FLOATNEG" if negative else "FLOATPOS"
            else:
                digits = text.lstrip("+-")
                if len(digits) > 1 and digits[0] == "0":  # ANTLR splits "012" into "0" "12": never valid
                    return None
                kind = "INTNEG" if negative else "INTPOS"
        elif group == "bad" or group is None:
            return None
        else:
            kind = group
        kinds.append(kind)
        texts.append(text)
        if kind == "EOF":
            break
    kinds += ("EOF", "EOF")  # lookahead past the end needs no bounds checks
    texts += ("", "")
    return kinds, texts


def _unquote(literal: str) -> str:
    """The inspector's ``_string_literal_to_string``, replacements in the same order."""
    return literal[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def _hashes_pass(comparisons: list[Comparison]) -> bool:
    """``object_validator.verify_object``: a comparison on a path through ``hashes`` whose last step names a known
    algorithm must compare with a digest of its format (any operator, the literal's text without quotes)."""
    for comparison in comparisons:
        path = comparison.path
        if "hashes" not in path:
            continue
        selector = path[-1]
        if isinstance(selector, int):
            return False  # stix2-patterns raises AttributeError (int has no .upper())
        if selector == INDEX_STAR:
            continue
        algorithm = selector.upper().replace("-", "").replace("'", "")
        check = _HASH_FORMATS.get(algorithm)
        if check is not None and not check.match(comparison.value.replace("'", "")):
            return False
    return True


class _Parser:
    """Recursive descent over the token list. Each rule returns the height of the subtree ANTLR would build, an
    upper bound good to a small constant, so that ``MAX_TREE_HEIGHT`` can be enforced."""

    def __init__(self, kinds: list[str], texts: list[str]) -> None:
        self.kinds = kinds
        self.texts = texts
        self.at = 0
        self.comparisons: list[Comparison] = []

    def expect(self, kind: str) -> str:
        if self.kinds[self.at] != kind:
            raise _Unvouched
        self.at += 1
        return self.texts[self.at - 1]

    def pattern(self) -> int:
        height = self.observations(0, 0)
        self.expect("EOF")
        return height + 1

    def observations(self, level: int, nesting: int) -> int:
        """observationExpressions / observationExpressionOr / observationExpressionAnd: left-associative chains."""
        operator = _OBSERVATION_OPERATORS[level]
        deeper = level + 1 < len(_OBSERVATION_OPERATORS)
        height = self.observations(level + 1, nesting) if deeper else self.observation(nesting)
        count = 1
        while self.kinds[self.at] == operator:
            self.at += 1
            item = self.observations(level + 1, nesting) if deeper else self.observation(nesting)
            height = max(height, item)
            count += 1
        return height + count

    def observation(self, nesting: int) -> int:
        """observationExpression: ``[...]`` or ``(...)`` followed by qualifiers. The validator's
        ``ValidationListener`` refuses a qualifier type twice on one bracketed observation, not on a group."""
        kinds = self.kinds
        if nesting >= MAX_NESTING:
            raise _Unvouched
        kind = kinds[self.at]
        self.at += 1
        if kind == "[":
            height = self.comparison_expression(0, nesting + 1)
            self.expect("]")
            seen: set[str] | None = set()
        elif kind == "(":
            height = self.observations(0, nesting + 1)
            self.expect(")")
            seen = None
        else:
            raise _Unvouched
        height += 1
        while True:
            kind = kinds[self.at]
            if kind == "WITHIN":
                self.at += 1
                if kinds[self.at] not in ("INTPOS", "FLOATPOS"):
                    raise _Unvouched
                self.at += 1
                self.expect("SECONDS")
            elif kind == "REPEATS":
                self.at += 1
                self.expect("INTPOS")
                self.expect("TIMES")
            elif kind == "START":
                self.at += 1
                self.expect("TS")
                self.expect("STOP")
                self.expect("TS")
            else:
                return height
            if seen is not None:
                if kind in seen:
                    raise _Unvouched  # "Duplicate qualifier type encountered"
                seen.add(kind)
            height = max(height, 2) + 1

    def comparison_expression(self, level: int, nesting: int) -> int:
        """comparisonExpression / comparisonExpressionAnd: left-associative chains of propTest."""
        operator = _COMPARISON_OPERATORS[level]
        deeper = level + 1 < len(_COMPARISON_OPERATORS)
        height = self.comparison_expression(level + 1, nesting) if deeper else self.prop_test(nesting)
        count = 1
        while self.kinds[self.at] == operator:
            self.at += 1
            item = self.comparison_expression(level + 1, nesting) if deeper else self.prop_test(nesting)
            height = max(height, item)
            count += 1
        return height + count

    def prop_test(self, nesting: int) -> int:
        kinds = self.kinds
        kind = kinds[self.at]
        if kind == "(":
            if nesting >= MAX_NESTING:
                raise _Unvouched
            self.at += 1
            height = self.comparison_expression(0, nesting + 1)
            self.expect(")")
            return height + 1
        if kind == "NOT" or kind == "EXISTS":
            if kind == "NOT":
                self.at += 1
            self.expect("EXISTS")
            return self.object_path()[2] + 1
        object_type, path, height = self.object_path()
        kind = kinds[self.at]
        negation = ""
        if kind == "NOT":
            negation = "NOT "
            self.at += 1
            kind = kinds[self.at]
        if kind == "EQ" or kind == "NEQ":
            operator = negation + self.texts[self.at]
            value = self.literal(self.at + 1, _PRIMITIVE)
        elif kind in _ORDER_OPERATORS:
            operator = negation + self.texts[self.at]
            value = self.literal(self.at + 1, _ORDERABLE)
        elif kind in _STRING_OPERATORS:
            operator = negation + kind
            value = self.literal(self.at + 1, ("STR",))
        elif kind == "IN":
            operator = negation + "IN"
            self.at += 1
            value = self.set_literal()
        else:
            raise _Unvouched
        self.comparisons.append(Comparison(object_type, path, operator, value))
        return max(height, 3) + 1

    def literal(self, at: int, allowed: frozenset[str] | tuple[str, ...]) -> str:
        if self.kinds[at] not in allowed:
            raise _Unvouched
        self.at = at + 1
        return self.texts[at]

    def set_literal(self) -> str:
        """setLiteral; its value is ANTLR's getText(): the tokens' texts joined without whitespace."""
        self.expect("(")
        if self.kinds[self.at] == ")":
            self.at += 1
            return "()"
        items = [self.literal(self.at, _PRIMITIVE)]
        while self.kinds[self.at] == ",":
            items.append(self.literal(self.at + 1, _PRIMITIVE))
        self.expect(")")
        return "(" + ",".join(items) + ")"

    def object_path(self) -> tuple[str, tuple[str | int, ...], int]:
        """objectPath: type, ':' and a first component, then ``.name``, ``.'quoted'``, ``[n]`` or ``[*]`` steps."""
        kinds = self.kinds
        texts = self.texts
        at = self.at
        if kinds[at] != "ID" and kinds[at] != "IDH":
            raise _Unvouched
        object_type = texts[at]
        if kinds[at + 1] != ":":
            raise _Unvouched
        at += 2
        path: list[str | int] = [self.path_name(at)]
        at += 1
        while True:
            kind = kinds[at]
            if kind == ".":
                path.append(self.path_name(at + 1))
                at += 2
            elif kind == "[":
                index = kinds[at + 1]
                if kinds[at + 2] != "]":
                    raise _Unvouched
                if index == "*":
                    path.append(INDEX_STAR)
                elif index == "INTPOS":
                    try:
                        path.append(int(texts[at + 1]))
                    except ValueError:  # past sys.get_int_max_str_digits(): the inspector raises too
                        raise _Unvouched from None
                else:  # IntNegLiteral is grammatical, but the inspector crashes on it
                    raise _Unvouched
                at += 3
            else:
                break
        self.at = at
        return object_type, tuple(path), len(path) + 3

    def path_name(self, at: int) -> str:
        kind = self.kinds[at]
        if kind == "ID":
            return self.texts[at]
        if kind == "STR":
            name = _unquote(self.texts[at])
            if name != INDEX_STAR:
                return name
        raise _Unvouched
