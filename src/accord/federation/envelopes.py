"""Signed envelopes: the format of node-to-node messages (cooperation requests, their status changes, messages
and responses) and of the delivery receipts that answer them.

An envelope is a JWS (RFC 7515) in compact serialisation, signed with the sending node's Ed25519 key. The
algorithm is ``Ed25519`` as RFC 9864 names it (the fully specified successor of the polymorphic ``EdDSA`` of
RFC 8037); the ``joserfc`` library does the JOSE work. The payload is RFC 8785 canonical JSON:

    {"id": "envelope--…", "kind": "cooperation.request", "from": "node-…", "to": "node-…",
     "issued_at": "2026-11-23T09:00:00+00:00", "body": {…}}

The transport (an RFC 9421 signed call, see ``signing.py``) proves which peer is calling *now*; the envelope's own
signature stays with the message, so either node can show later what the other sent and when, and a receipt
(kind ``receipt``, signed by the receiver, naming the envelope id and the SHA-256 of the envelope exactly as
received) proves delivery.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from accord.canonical_json import canonical_bytes
from accord.errors import InvalidInput

ALGORITHM = "Ed25519"  # RFC 9864 section 2: Ed25519 signatures, no curve negotiation
MEDIA_TYPE = "accord-envelope+jws"  # the JWS ``typ`` (RFC 7515 section 4.1.9): an Accord envelope, nothing else
RECEIPT = "receipt"
COOPERATION_REQUEST = "cooperation.request"
COOPERATION_TRANSITION = "cooperation.transition"
COOPERATION_MESSAGE = "cooperation.message"
COOPERATION_RESPONSE = "cooperation.response"
KINDS = frozenset({RECEIPT, COOPERATION_REQUEST, COOPERATION_TRANSITION, COOPERATION_MESSAGE, COOPERATION_RESPONSE})
# A request's fields are at most 256 KiB of JSON (cooperation.requests.MAX_FIELDS_BYTES); base64url adds a third,
# the rest of the envelope is small. Anything larger is not an envelope of ours.
MAX_ENVELOPE_BYTES = 512 * 1024
_ENVELOPE_ID = re.compile(r"^envelope--[0-9a-f-]{36}$")
_PAYLOAD_KEYS = frozenset({"id", "kind", "from", "to", "issued_at", "body"})


class EnvelopeRejected(InvalidInput):
    """An envelope (or receipt) that does not check out; ``field`` names what is wrong (``signature``, ``to``, …).

    An InvalidInput, so the web layer answers 422 problem+json naming the field: the sender learns why and does
    not retry an envelope that can never be accepted."""


@dataclass(frozen=True)
class Envelope:
    id: str
    kind: str
    sender: str
    recipient: str
    issued_at: datetime
    body: dict[str, Any]
    token: str  # the compact JWS exactly as signed (what is stored, sent, and hashed for the receipt)

    @property
    def digest(self) -> str:
        return envelope_digest(self.token)


def envelope_digest(token: str) -> str:
    """SHA-256 (hex) of the compact JWS as sent: what a receipt names."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def seal(
    private_key: Ed25519PrivateKey,
    *,
    envelope_id: str,
    kind: str,
    sender: str,
    recipient: str,
    issued_at: datetime,
    body: dict[str, Any],
) -> Envelope:
    """Sign a new envelope. Raises EnvelopeRejected when it would be refused on arrival (kind, size)."""
    if kind not in KINDS:
        raise EnvelopeRejected("kind", f"one of {', '.join(sorted(KINDS))}")
    payload = {
        "id": envelope_id,
        "kind": kind,
        "from": sender,
        "to": recipient,
        "issued_at": issued_at.isoformat(),
        "body": body,
    }
    header = {"alg": ALGORITHM, "typ": MEDIA_TYPE, "kid": sender}
    token = jws.serialize_compact(header, canonical_bytes(payload), OKPKey.import_key(private_key), [ALGORITHM])
    if len(token) > MAX_ENVELOPE_BYTES:
        raise EnvelopeRejected("body", f"the envelope would be larger than {MAX_ENVELOPE_BYTES} bytes")
    return Envelope(envelope_id, kind, sender, recipient, issued_at, body, token)


def open_envelope(token: Any, *, sender: str, sender_key: bytes, recipient: str) -> Envelope:
    """Verify an envelope that ``sender`` (the authenticated peer) delivered to ``recipient`` (this node).

    Raises EnvelopeRejected naming the step that failed."""
    # 1. Size, before any parsing: an oversized body costs nothing but this comparison.
    if not isinstance(token, str) or not token:
        raise EnvelopeRejected("envelope", "a JWS compact serialisation (a string)")
    if len(token) > MAX_ENVELOPE_BYTES:
        raise EnvelopeRejected("envelope", f"at most {MAX_ENVELOPE_BYTES} bytes")
    # 2. The signature, with the sender's stored key, allowing our one algorithm only (no "none", no HMAC).
    try:
        key = OKPKey.import_key(Ed25519PublicKey.from_public_bytes(sender_key))
        signed = jws.deserialize_compact(token, key, [ALGORITHM])
    except (JoseError, ValueError) as exc:
        raise EnvelopeRejected("signature", f"does not verify with {sender}'s key ({type(exc).__name__})") from None
    # 3. The header says what it is and who signed it.
    header = signed.protected
    if header.get("typ") != MEDIA_TYPE:
        raise EnvelopeRejected("typ", f"must be {MEDIA_TYPE}")
    if header.get("kid") != sender:
        raise EnvelopeRejected("kid", "the envelope was not signed by the calling node")
    # 4. The payload: canonical JSON with exactly our members, from the caller, to this node, of a known kind.
    try:
        payload = json.loads(signed.payload)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeRejected("payload", "not JSON") from None
    if not isinstance(payload, dict) or set(payload) != _PAYLOAD_KEYS:
        raise EnvelopeRejected("payload", f"an object with exactly {', '.join(sorted(_PAYLOAD_KEYS))}")
    if canonical_bytes(payload) != signed.payload:
        raise EnvelopeRejected("payload", "not RFC 8785 canonical JSON")
    envelope_id, kind, body = payload["id"], payload["kind"], payload["body"]
    if not isinstance(envelope_id, str) or not _ENVELOPE_ID.match(envelope_id):
        raise EnvelopeRejected("id", "envelope--<uuid>")
    if payload["from"] != sender:
        raise EnvelopeRejected("from", "is not the calling node")
    if payload["to"] != recipient:
        raise EnvelopeRejected("to", "the envelope is addressed to another node")
    if kind not in KINDS:
        raise EnvelopeRejected("kind", f"one of {', '.join(sorted(KINDS))}")
    if not isinstance(body, dict):
        raise EnvelopeRejected("body", "an object")
    try:
        issued_at = datetime.fromisoformat(str(payload["issued_at"]))
    except ValueError:
        raise EnvelopeRejected("issued_at", "an ISO 8601 date and time") from None
    if issued_at.tzinfo is None:
        raise EnvelopeRejected("issued_at", "with a time zone")
    return Envelope(envelope_id, kind, sender, recipient, issued_at, body, token)


def check_receipt(receipt: Envelope, envelope_id: str, token: str) -> None:
    """The receipt answers the envelope we sent: kind receipt, its id and the SHA-256 of exactly the bytes we sent.
    Raises EnvelopeRejected."""
    if receipt.kind != RECEIPT:
        raise EnvelopeRejected("kind", "a receipt was expected")
    if receipt.body.get("envelope_id") != envelope_id:
        raise EnvelopeRejected("envelope_id", "the receipt names another envelope")
    if receipt.body.get("sha256") != envelope_digest(token):
        raise EnvelopeRejected("sha256", "the receipt names other bytes than those sent")
