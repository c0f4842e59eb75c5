"""Signed audit heads: the node's Ed25519 signature over (node id, sequence number, hash, time).

A head exported to somewhere the database administrator cannot write (a printout, a peer node, a ticket)
lets ``accord audit verify --head FILE`` catch what the chain alone cannot: the log rewritten or cut back
together with its head row. Peers will countersign heads (witnessing) in the federation part.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.audit.service import HeadCommitment
from accord.canonical_json import canonical_bytes
from accord.errors import AccordError
from accord.identity.node_keys import NodeKeys, node_id_for

HEAD_DOMAIN = "accord-audit-head-v1"
FIELDS = ("domain", "node_id", "seq", "entry_hash", "signed_at")


class InvalidSignedHead(AccordError):
    """A signed head document is malformed, from another node, or its signature does not verify."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"signed audit head: {reason}")


@dataclass(frozen=True)
class SignedHead:
    node_id: str
    seq: int
    entry_hash: str
    signed_at: str
    signature: str  # base64 of the Ed25519 signature over the RFC 8785 form of the other fields

    def as_json(self) -> dict[str, Any]:
        return {"domain": HEAD_DOMAIN, **self.__dict__}


def _message(node_id: str, seq: int, entry_hash: str, signed_at: str) -> bytes:
    body = {"domain": HEAD_DOMAIN, "node_id": node_id, "seq": seq, "entry_hash": entry_hash, "signed_at": signed_at}
    return canonical_bytes(body)


def sign_head(keys: NodeKeys, head: HeadCommitment, at: datetime) -> SignedHead:
    signed_at = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = keys.sign(_message(keys.node_id, head.seq, head.entry_hash, signed_at))
    return SignedHead(keys.node_id, head.seq, head.entry_hash, signed_at, base64.b64encode(signature).decode())


def check_signed_head(document: Any, public_raw: bytes) -> HeadCommitment:
    """Check a signed head against a node's public key. Raises InvalidSignedHead."""
    if not isinstance(document, dict) or document.get("domain") != HEAD_DOMAIN:
        raise InvalidSignedHead("not an Accord signed audit head")
    try:
        node_id, seq, entry_hash, signed_at = (document[k] for k in FIELDS[1:])
        signature = base64.b64decode(document["signature"], validate=True)
    except (KeyError, binascii.Error, TypeError) as exc:
        raise InvalidSignedHead(f"missing or malformed field ({exc})") from None
    if not isinstance(seq, int) or not isinstance(entry_hash, str) or not isinstance(signed_at, str):
        raise InvalidSignedHead("seq, entry_hash or signed_at has the wrong type")
    if node_id != node_id_for(public_raw):
        raise InvalidSignedHead(f"signed by {node_id}, not by this node")
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, _message(node_id, seq, entry_hash, signed_at))
    except InvalidSignature:
        raise InvalidSignedHead("signature does not verify") from None
    return HeadCommitment(seq=seq, entry_hash=entry_hash)
