"""RFC 8785 (JSON Canonicalization Scheme) for everything Accord hashes or signs.

The ``rfc8785`` package is the reference here, but it is pure Python and was 43 % of a STIX import's time
(profiled on ATT&CK). For the values Accord mostly canonicalises — STIX objects and audit entries, made of
strings, safe integers, booleans, null, lists and objects, with no floats — the standard library's C JSON
encoder with sorted keys and no ASCII escaping writes the same bytes: RFC 8785 3.2.2.2 escapes exactly the
characters ``json`` escapes (``"``, ``\\``, the short forms \\b \\f \\n \\r \\t and \\u00xx in lower case for
the other control characters) and leaves every other character as UTF-8; integers print the same. Where the
two could differ we use ``rfc8785``: floats (ECMAScript number form), integers beyond 2**53 - 1 (refused by
RFC 8785 3.2.2.3), keys with a character at or above U+D800 (RFC 8785 sorts by UTF-16 code units, Python
by code points), lone surrogates (not UTF-8) and subclasses of str/int/dict/list (which may serialise
differently). tests/test_canonical_json.py compares both on generated values.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

_SAFE_INTEGER = 2**53 - 1
_FIRST_SURROGATE = "\ud800"
_encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False).encode


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 serialisation of ``value`` (UTF-8, sorted keys, ECMAScript number form)."""
    if _plain(value):
        text = _encode(value)
        # Sorting differs only for keys with characters at or above U+D800; one C-speed pass rules that out
        # for ASCII text (nearly everything), and only the rest pays for the key-by-key look.
        if text.isascii() or _keys_sort_alike(value):
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it with its own error
                pass
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """True when json writes ``value`` as RFC 8785 does, key order aside (see the module docstring)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER <= value <= _SAFE_INTEGER)
    if kind is dict:
        return all(type(key) is str for key in value) and all(_plain(item) for item in value.values())
    if kind is list:
        return all(_plain(item) for item in value)
    return False


def _keys_sort_alike(value: Any) -> bool:
    """No key anywhere holds a character at or above U+D800 (code point and UTF-16 order then agree)."""
    if type(value) is dict:
        return all(max(key, default="") < _FIRST_SURROGATE for key in value) and all(
            _keys_sort_alike(item) for item in value.values()
        )
    if type(value) is list:
        return all(_keys_sort_alike(item) for item in value)
    return True


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
