"""Peering documents: a signed invitation, and the signed acceptance that answers it.

Both are JSON objects signed with the issuing node's Ed25519 key over their RFC 8785 canonical form (every
member except ``signature``). A node id is derived from its public key, so a document cannot claim another
node's identity; the acceptance names the invitation's nonce, so it answers one invitation, once. Nothing
secret travels: the two nodes learn each other's public keys and addresses, and authenticate every later
call by signing it (``signing.py``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.canonical_json import canonical_bytes
from accord.errors import AccordError
from accord.identity.node_keys import NodeKeys, node_id_for

INVITATION = "accord-peer-invitation"
ACCEPTANCE = "accord-peer-acceptance"
VERSION = 1
MAX_DOCUMENT_BYTES = 16 * 1024


class InvalidPeeringDocument(AccordError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"peering document: {reason}")


@dataclass(frozen=True)
class PeeringDocument:
    kind: str
    node_id: str
    name: str
    country: str
    public_key: bytes
    base_url: str
    party: dict[str, str]
    nonce: str
    issued_at: datetime
    expires_at: datetime
    in_reply_to: str | None


def check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidPeeringDocument(f"base_url must be an http(s) URL without query or fragment, got {url[:100]!r}")
    return url.rstrip("/")


def sign_document(
    keys: NodeKeys,
    *,
    kind: str,
    name: str,
    country: str,
    base_url: str,
    party: dict[str, str],
    nonce: str,
    issued_at: datetime,
    expires_at: datetime,
    in_reply_to: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "version": VERSION,
        "node_id": keys.node_id,
        "name": name,
        "country": country,
        "public_key": base64.b64encode(keys.public_raw).decode(),
        "base_url": check_base_url(base_url),
        "party": party,
        "nonce": nonce,
        "issued_at": issued_at.isoformat(),
        "expires_at": expires_at.isoformat(),
    }
    if in_reply_to is not None:
        body["in_reply_to"] = in_reply_to
    signature = keys.sign(canonical_bytes(body))
    return {**body, "signature": base64.b64encode(signature).decode()}


def open_document(document: Any, now: datetime, *, kind: str) -> PeeringDocument:
    """Check a document's form, signature, node id and validity period. Raises InvalidPeeringDocument."""
    if not isinstance(document, dict):
        raise InvalidPeeringDocument("not a JSON object")
    if len(canonical_bytes(document)) > MAX_DOCUMENT_BYTES:
        raise InvalidPeeringDocument(f"larger than {MAX_DOCUMENT_BYTES} bytes")
    if document.get("type") != kind or document.get("version") != VERSION:
        raise InvalidPeeringDocument(f"not an {kind} (version {VERSION})")
    body = {k: v for k, v in document.items() if k != "signature"}
    try:
        public_key = base64.b64decode(str(document["public_key"]), validate=True)
        signature = base64.b64decode(str(document["signature"]), validate=True)
        issued_at = datetime.fromisoformat(str(document["issued_at"]))
        expires_at = datetime.fromisoformat(str(document["expires_at"]))
        party = document["party"]
        fields = {name: str(document[name]) for name in ("node_id", "name", "country", "base_url", "nonce")}
    except (KeyError, ValueError, binascii.Error) as exc:
        raise InvalidPeeringDocument(f"missing or malformed member ({exc})") from None
    if len(public_key) != 32 or fields["node_id"] != node_id_for(public_key):
        raise InvalidPeeringDocument("node_id does not belong to public_key")
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, canonical_bytes(body))
    except InvalidSignature:
        raise InvalidPeeringDocument("signature does not verify (altered or forged)") from None
    if issued_at.tzinfo is None or expires_at.tzinfo is None or not issued_at <= now < expires_at:
        raise InvalidPeeringDocument(f"not valid now (valid from {issued_at} until {expires_at})")
    if not isinstance(party, dict) or not all(isinstance(v, str) for v in party.values()):
        raise InvalidPeeringDocument("party must be an object of text members")
    reply = document.get("in_reply_to")
    return PeeringDocument(
        kind=kind,
        node_id=fields["node_id"],
        name=fields["name"][:200],
        country=fields["country"][:2],
        public_key=public_key,
        base_url=check_base_url(fields["base_url"]),
        party={k: v[:200] for k, v in party.items()},
        nonce=fields["nonce"][:64],
        issued_at=issued_at,
        expires_at=expires_at,
        in_reply_to=str(reply) if reply is not None else None,
    )
