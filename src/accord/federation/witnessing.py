"""Witnessing: each node countersigns its peers' custody tree heads, and keeps the last head it saw of each.

A simplified c2sp.org/tlog-witness: the witness holds the last checkpoint it saw of a log (the
``known_checkpoints`` rows the evidence import already keeps, so a later package from that node must also be
consistent with it), checks a new checkpoint's signature and an RFC 9162 consistency proof from the old one
(§2.1.4.2), and only then cosigns it (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1, with the node's own
key under the name ``accord/<node id>/witness``). A checkpoint that does not extend the one seen before is
proof that the peer rewrote (or forked) its custody log: it is refused loudly and audited, never cosigned.

Heads are cosigned on every completed evidence transfer (the receiver cosigns the head carried in the package)
and on demand (``witness``): the witness fetches the peer's latest head and sends the cosignature back.

Delivery receipts are signed with the node key too, over RFC 8785 canonical JSON with their own domain prefix
(as package statements are), so a receipt cannot be mistaken for any other signed message.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from accord.audit.service import AuditLog, Outcome
from accord.canonical_json import canonical_bytes
from accord.clock import Clock
from accord.errors import AccordError, InvalidInput
from accord.evidence import merkle
from accord.evidence.checkpoint import (
    SIGNATURE_TYPE_COSIGNATURE_V1,
    Checkpoint,
    CheckpointError,
    Cosignature,
    cosign,
    open_checkpoint,
    vkey,
)
from accord.evidence.layout import custody_origin
from accord.evidence.models import KnownCheckpoint
from accord.federation.models import Peer
from accord.identity.actor import Actor
from accord.identity.node_keys import NodeKeys
from accord.store.engine import Database

RECEIPT_FORMAT = "accord-evidence-receipt/1"
RECEIPT_DOMAIN = b"accord-evidence-receipt-v1\n"  # signature domain separation: sign(DOMAIN || canonical JSON)
MAX_PROOF_HASHES = 130  # RFC 9162 consistency proofs hold at most about 2·log2(2**63) hashes


class InconsistentTreeHead(AccordError):
    """A peer's custody tree head does not extend the one this node saw before: the log was rewritten or forked.
    Nothing is cosigned; the event is audited."""

    def __init__(self, peer: str, known_size: int, new_size: int, reason: str) -> None:
        self.peer = peer
        self.known_size = known_size
        self.new_size = new_size
        self.reason = reason
        super().__init__(
            f"peer {peer}: custody head of size {new_size} is inconsistent with the head of size {known_size} seen "
            f"before ({reason}); this is evidence that its log was rewritten"
        )


class ReceiptInvalid(AccordError):
    """A peer's delivery receipt or cosignature does not verify under its key, or names another transfer."""

    def __init__(self, transfer_id: str, reason: str) -> None:
        self.transfer_id = transfer_id
        self.reason = reason
        super().__init__(f"receipt for transfer {transfer_id} not valid: {reason}")


@dataclass(frozen=True)
class KnownHead:
    tree_size: int
    root_hash: bytes


@dataclass(frozen=True)
class WitnessResult:
    peer: str
    origin: str
    tree_size: int
    root_hash: str
    previous_size: int | None
    cosignature: str


def witness_name(node_id: str) -> str:
    """The name a node cosigns under (c2sp.org/signed-note key name: no spaces, no "+")."""
    return f"accord/{node_id}/witness"


def witness_vkey(node_id: str, public_key: bytes) -> str:
    """The cosigner verifier key (type 0x04) of a node, derived from the key it presented when peering."""
    return vkey(witness_name(node_id), public_key, SIGNATURE_TYPE_COSIGNATURE_V1)


def cosign_head(keys: NodeKeys, checkpoint: Checkpoint, clock: Clock) -> Cosignature:
    return cosign(checkpoint, witness_name(keys.node_id), keys.public_raw, keys.sign, int(clock.now().timestamp()))


def check_extends(peer: str, known: KnownHead | None, new: Checkpoint, proof: list[bytes]) -> None:
    """Raise InconsistentTreeHead unless ``new`` extends ``known`` (RFC 9162 §2.1.4.2 consistency proof)."""
    if known is None:
        return  # first head seen of this log: trust on first use, as a tlog witness does
    if new.tree_size < known.tree_size:
        raise InconsistentTreeHead(peer, known.tree_size, new.tree_size, "the log is smaller than before")
    try:
        merkle.verify_consistency(known.tree_size, new.tree_size, known.root_hash, new.root_hash, proof)
    except merkle.ProofError as exc:
        raise InconsistentTreeHead(peer, known.tree_size, new.tree_size, str(exc)) from None


def proof_hashes(value: Any) -> list[bytes]:
    """A consistency proof as a peer sent it (hex strings), checked for shape."""
    if not isinstance(value, list) or len(value) > MAX_PROOF_HASHES:
        raise InvalidInput("consistency_proof", f"a list of at most {MAX_PROOF_HASHES} hex hashes")
    try:
        hashes = [bytes.fromhex(h) for h in value if isinstance(h, str)]
    except ValueError:
        raise InvalidInput("consistency_proof", "not hex") from None
    if len(hashes) != len(value) or any(len(h) != merkle.HASH_SIZE for h in hashes):
        raise InvalidInput("consistency_proof", "each hash is 32 bytes in hex")
    return hashes


class Witnessing:
    """The witness's memory (last head per peer) and the audit of what it saw."""

    def __init__(self, db: Database, clock: Clock, audit: AuditLog, keys: NodeKeys) -> None:
        self._db = db
        self._clock = clock
        self._audit = audit
        self._keys = keys

    def last_seen(self, peer: Peer) -> KnownHead | None:
        """The largest head of the peer's log this node holds (from a package or from witnessing)."""
        with self._db.reading() as session:
            row = session.scalars(
                select(KnownCheckpoint)
                .where(KnownCheckpoint.origin == custody_origin(peer.node_id))
                .order_by(KnownCheckpoint.tree_size.desc())
                .limit(1)
            ).first()
            if row is None or bytes(row.public_key) != bytes(peer.public_key):
                return None
            return KnownHead(row.tree_size, bytes(row.root_hash))

    def open_head(self, peer: Peer, note: Any) -> Checkpoint:
        """The peer's signed checkpoint, its signature checked with the key it presented when peering."""
        if not isinstance(note, str):
            raise InvalidInput("signed_note", "a C2SP signed note (text)")
        try:
            checkpoint = open_checkpoint(note, custody_origin(peer.node_id), bytes(peer.public_key))
        except CheckpointError as exc:
            raise InvalidInput("signed_note", str(exc)) from None
        if checkpoint.origin != custody_origin(peer.node_id):
            raise InvalidInput("signed_note", f"names log {checkpoint.origin!r}, not the peer's")
        return checkpoint

    def witness(self, actor: Actor, peer: Peer, note: Any, proof: list[bytes]) -> tuple[WitnessResult, Checkpoint]:
        """Check the peer's head against the last one seen, remember it and cosign it. Raises InvalidInput for a
        bad note, InconsistentTreeHead (audited) for a head that does not extend the last one."""
        checkpoint = self.open_head(peer, note)
        known = self.last_seen(peer)
        try:
            check_extends(peer.node_id, known, checkpoint, proof)
        except InconsistentTreeHead as exc:
            self._audit.record(
                actor.audit_ref(),
                "federation.witness",
                object_type="peer",
                object_id=peer.node_id,
                outcome=Outcome.FAILED,
                details={"known_size": exc.known_size, "new_size": exc.new_size, "reason": exc.reason[:300]},
            )
            raise
        cosignature = cosign_head(self._keys, checkpoint, self._clock)
        with self._db.writing() as session:
            if session.get(KnownCheckpoint, (checkpoint.origin, checkpoint.tree_size)) is None:
                session.add(
                    KnownCheckpoint(
                        origin=checkpoint.origin,
                        tree_size=checkpoint.tree_size,
                        root_hash=checkpoint.root_hash,
                        signed_note=note,
                        public_key=bytes(peer.public_key),
                        seen_at=self._clock.now(),
                    )
                )
            self._audit.append(
                session,
                actor.audit_ref(),
                "federation.witness",
                object_type="peer",
                object_id=peer.node_id,
                details={"tree_size": checkpoint.tree_size, "known_size": known.tree_size if known else None},
            )
        result = WitnessResult(
            peer=peer.node_id,
            origin=checkpoint.origin,
            tree_size=checkpoint.tree_size,
            root_hash=checkpoint.root_hash.hex(),
            previous_size=known.tree_size if known else None,
            cosignature=cosignature.line().rstrip("\n"),
        )
        return result, checkpoint

    def cosign(self, checkpoint: Checkpoint) -> Cosignature:
        """This node's cosignature of a peer's head, once the caller has checked that it extends the last seen."""
        return cosign_head(self._keys, checkpoint, self._clock)

    # -- receipts --------------------------------------------------------------------------------------------

    def sign_receipt(self, receipt: dict[str, Any]) -> dict[str, Any]:
        document = {"format": RECEIPT_FORMAT, **receipt}
        signature = self._keys.sign(RECEIPT_DOMAIN + canonical_bytes(document))
        return {"receipt": document, "signature": base64.b64encode(signature).decode()}


def open_receipt(transfer_id: str, signed: Any, public_key: bytes) -> dict[str, Any]:
    """The receipt inside a peer's signed answer, once its signature verifies under the peer's key."""
    if not isinstance(signed, dict) or not isinstance(signed.get("receipt"), dict):
        raise ReceiptInvalid(transfer_id, "no receipt in the answer")
    receipt: dict[str, Any] = signed["receipt"]
    try:
        signature = base64.b64decode(str(signed.get("signature")), validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, RECEIPT_DOMAIN + canonical_bytes(receipt))
    except (InvalidSignature, binascii.Error, ValueError):
        raise ReceiptInvalid(transfer_id, "the signature does not verify under the peer's node key") from None
    if receipt.get("format") != RECEIPT_FORMAT or receipt.get("transfer_id") != transfer_id:
        raise ReceiptInvalid(transfer_id, "it is not a receipt for this transfer")
    return receipt
