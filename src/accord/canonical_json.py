"""RFC 8785 (JSON Canonicalization Scheme) for everything Accord hashes or signs."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_bytes(value: Any) -> bytes:
    """The RFC 8785 serialisation of ``value`` (UTF-8, sorted keys, ECMAScript number form)."""
    return rfc8785.dumps(value)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
