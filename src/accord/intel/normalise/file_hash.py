"""File hashes (STIX 2.1 hash algorithm vocabulary): hex digests of the algorithm's length, canonical lower case."""

from __future__ import annotations

import re

from accord.intel.normalise.errors import InvalidIdentifier
from accord.intel.normalise.models import Canonical, IdentifierKind

# kind -> (STIX hash-algorithm-ov name, digest length in hex digits)
HASHES = {
    IdentifierKind.MD5: ("MD5", 32),
    IdentifierKind.SHA1: ("SHA-1", 40),
    IdentifierKind.SHA256: ("SHA-256", 64),
    IdentifierKind.SHA512: ("SHA-512", 128),
}
_HEX = re.compile(r"[0-9a-fA-F]+")
MAX_RAW = 256  # a SHA-512 digest is 128 characters; leave room for surrounding space


def normalise_hash(kind: IdentifierKind, raw: str) -> Canonical:
    """Lower-case hex digest. Raises InvalidIdentifier when ``raw`` is not hex of the algorithm's length."""
    algorithm, length = HASHES[kind]
    text = raw.strip() if len(raw) <= MAX_RAW else raw
    if len(text) != length or not _HEX.fullmatch(text):
        raise InvalidIdentifier(kind, raw, f"an {algorithm} digest is {length} hex digits")
    return Canonical(kind, text.lower(), raw, {"algorithm": algorithm})
