"""How one audit entry is hashed: SHA-256 over the RFC 8785 canonical JSON of its fields and its predecessor's hash.

Changing any stored field, deleting an entry or reordering entries changes a hash that a later entry (or the
head row) committed to, so ``verify`` finds the first entry that no longer fits.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from accord.canonical_json import canonical_bytes, sha256_hex

HASH_DOMAIN = "accord-audit-entry-v1"  # versioned, so a future field change cannot collide with old entries
# RFC 8785 numbers are IEEE 754 doubles: sequence numbers stay below 2**53 (285 years at a million entries/s).


# The stored columns an entry's hash covers, in entry_body's order (the row's own hash is not one of them).
HASHED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor",
    "party_id",
    "action",
    "object_type",
    "object_id",
    "purpose",
    "legal_basis",
    "outcome",
    "details",
    "prev_hash",
)


def timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_body(
    *,
    seq: int,
    at: datetime,
    actor_id: str | None,
    actor: str,
    party_id: str | None,
    action: str,
    object_type: str | None,
    object_id: str | None,
    purpose: str | None,
    legal_basis: str | None,
    outcome: str,
    details: str,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "domain": HASH_DOMAIN,
        "seq": seq,
        "at": timestamp(at),
        "actor_id": actor_id,
        "actor": actor,
        "party_id": party_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "outcome": outcome,
        "details": json.loads(details),
        "prev_hash": prev_hash,
    }


def entry_hash(body: dict[str, Any]) -> str:
    return sha256_hex(canonical_bytes(body))
