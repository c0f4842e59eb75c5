"""The receiving side of evidence transfers: a peer declares a package, sends it in hashed chunks, completes it.

1. Declaration (``declare``): the transfer id the sender chose, size, SHA-256 and chunk size, checked against
   this node's limits (``evidence_package_max_bytes``; a chunk is one request body, at most ``MAX_CHUNK_BYTES``,
   which the body limit lets through under the transfers path only). The package file is preallocated;
   declaring the same transfer again is a no-op.
2. Chunks (``put_chunk``): each arrives with its RFC 9530 ``Content-Digest`` (sha-256), checked before anything
   else; the chunk is written at its offset and fsynced before it is acknowledged. A chunk already held is a
   no-op, so a sender that lost an answer just sends again.
3. Status (``status``): which chunks are held, as ranges, so a resumed send skips them.
4. Completion (``complete``): the whole package's SHA-256, then the existing verified import with the sender as
   the expected node (a "received" custody event per item; nothing kept if any verification step fails). The
   answer is a receipt signed by this node, carrying this node's cosignature of the sender's custody head (see
   ``witnessing``). Completing again returns the same receipt (or the same refusal) and imports nothing.

Only the peer that declared a transfer sees it (for others it does not exist). Suspended peers are refused by
authentication (``peer_caller``) before any of this runs. Incomplete transfers without a chunk for
``federation_transfer_stale_hours`` are deleted when the next one is declared.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from accord.audit.service import Disclosure
from accord.clock import Clock
from accord.errors import InvalidInput, NotFound
from accord.evidence.blobstore import BlobMismatch, BlobTooLarge
from accord.evidence.checkpoint import CheckpointError
from accord.evidence.safezip import UnsafeArchive
from accord.evidence.service import EvidenceService
from accord.evidence.transfer import EvidencePackages, PackageRejected
from accord.federation.models import Peer
from accord.federation.service import FederationService, PeerView
from accord.federation.transfer_spool import (
    PART,
    RECEIPT,
    Spool,
    as_ranges,
    chunk_count,
    chunk_span,
    locked,
    read_json,
    write_json,
)
from accord.federation.witnessing import Witnessing, witness_name, witness_vkey
from accord.identity.actor import Actor
from accord.identity.vocabulary import Role

TRANSFER_ID = re.compile(r"^evidence-transfer--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# RFC 9530 §2: Content-Digest is a Structured Field Dictionary; we need its sha-256 member (§5, "sha-256").
CONTENT_DIGEST_SHA256 = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/]+=*):\s*(?=,|$)")
MIN_CHUNK_BYTES = 64 * 1024  # below this the per-request signing costs more than the bytes
# A chunk is one request body, held in memory while its digest and signature are checked: bounded here, and by
# the web app's body limit for the transfers path (web/app.py), whatever max_body_bytes says for other requests.
MAX_CHUNK_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 1 << 20  # digest file of at most 32 MiB; with 1 MiB chunks, packages up to 1 TiB
MAX_OPEN_PER_PEER = 8  # declared but incomplete transfers per peer: preallocation must not fill the disk
MAX_PURPOSE = 1000
HASH_BLOCK = 1024 * 1024
ACTIVITY_RESOLUTION = timedelta(minutes=1)  # how often a chunk refreshes the transfer's last-activity time
RECEIVING, COMPLETE, REJECTED = "receiving", "complete", "rejected"


class TransferTooLarge(InvalidInput):
    """The declared package is larger than this node accepts (``evidence_package_max_bytes``)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__("size", f"{size} bytes declared; this node accepts packages of at most {limit} bytes")


class ChunkDigestMismatch(BlobMismatch):
    """A chunk's bytes do not have the SHA-256 its Content-Digest (RFC 9530) announces; it is not stored."""

    def __init__(self, index: int, expected: str, actual: str) -> None:
        super().__init__("content-digest", expected, actual)
        self.index = index


class TransferIncomplete(InvalidInput):
    """Completion was asked while chunks are missing."""

    def __init__(self, transfer_id: str, missing: int) -> None:
        self.transfer_id = transfer_id
        self.missing = missing
        super().__init__("chunks", f"{missing} chunks of transfer {transfer_id} have not arrived")


class TransferRejected(InvalidInput):
    """The transferred package was refused (whole SHA-256 or verification failed); nothing of it was kept.
    Completing again gives the same refusal; the sender must export and send anew."""

    def __init__(self, transfer_id: str, reason: str) -> None:
        self.transfer_id = transfer_id
        super().__init__("package", f"transfer {transfer_id} refused: {reason}")


@dataclass(frozen=True)
class Declaration:
    transfer_id: str
    size: int
    sha256: str
    chunk_size: int
    package_id: str
    purpose: str

    @classmethod
    def parse(cls, document: Any) -> Declaration:
        """Check a declaration's fields' shapes (limits are the receiver's business). Raises InvalidInput."""
        if not isinstance(document, dict):
            raise InvalidInput("body", "a JSON object")
        transfer_id = checked_transfer_id(document.get("transfer_id"))
        size, chunk_size = document.get("size"), document.get("chunk_size")
        for name, value in (("size", size), ("chunk_size", chunk_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(name, "a positive number of bytes")
        sha256 = document.get("sha256")
        if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
            raise InvalidInput("sha256", "64 lowercase hex digits")
        package_id = document.get("package_id")
        if not isinstance(package_id, str) or not package_id.startswith("evidence-package--") or len(package_id) > 80:
            raise InvalidInput("package_id", "an evidence package id")
        purpose = document.get("purpose")
        if not isinstance(purpose, str) or not purpose.strip() or len(purpose) > MAX_PURPOSE:
            raise InvalidInput("purpose", f"why the evidence is sent, at most {MAX_PURPOSE} characters")
        return cls(transfer_id, int(size), sha256, int(chunk_size), package_id, purpose)  # type: ignore[arg-type]

    def document(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class CheckedChunk:
    """A chunk whose bytes have the SHA-256 its Content-Digest announced."""

    data: bytes
    sha256: bytes


def checked_transfer_id(value: Any) -> str:
    if not isinstance(value, str) or not TRANSFER_ID.match(value):
        raise InvalidInput("transfer_id", "an evidence transfer id (evidence-transfer--<uuid>)")
    return value


def check_chunk(index: int, data: bytes, content_digest: str | None) -> CheckedChunk:
    """RFC 9530: the chunk must carry ``Content-Digest: sha-256=:<base64>:`` matching its bytes."""
    found = CONTENT_DIGEST_SHA256.search(content_digest or "")
    if found is None:
        raise InvalidInput("content-digest", "each chunk needs a Content-Digest with a sha-256 member (RFC 9530)")
    try:
        claimed = base64.b64decode(found.group(1), validate=True)
    except binascii.Error:
        raise InvalidInput("content-digest", "the sha-256 member is not base64") from None
    actual = hashlib.sha256(data).digest()
    if claimed != actual:
        raise ChunkDigestMismatch(index, claimed.hex(), actual.hex())
    return CheckedChunk(data, actual)


def peer_actor(peer: Peer) -> Actor:
    """The node itself acting on a peer's call, for the party this node speaks for towards that peer: received
    evidence is held by a party, and the custody event names the peer the call came from."""
    if peer.own_party_id is None:
        raise InvalidInput("peer", f"no party of this node is named for peer {peer.name}; peer again to name one")
    return Actor(
        user_id=None,
        username=f"federation:{peer.node_id}",
        party_id=peer.own_party_id,
        party_name=None,
        country=None,
        roles=frozenset({Role.ADMIN}),
        scopes=None,
        via="operator",
    )


class TransferReceiver:
    def __init__(
        self,
        federation: FederationService,
        evidence: EvidenceService,
        packages: EvidencePackages,
        witnessing: Witnessing,
        clock: Clock,
        home: Path,
        node_id: str,
        *,
        max_package_bytes: int,
        max_chunk_bytes: int,
        stale_after: timedelta,
    ) -> None:
        self._federation = federation
        self._evidence = evidence
        self._packages = packages
        self._witnessing = witnessing
        self._clock = clock
        self._node_id = node_id
        self.spool = Spool(home, "incoming")
        self._max_package = max_package_bytes
        self._max_chunk = max_chunk_bytes
        self._stale_after = stale_after

    # -- the four transfer calls -----------------------------------------------------------------------------

    def declare(self, caller: PeerView, declaration: Declaration) -> dict[str, Any]:
        """Open (or find again) a transfer. Raises TransferTooLarge, InvalidInput (chunk size, too many open
        transfers, disk space), NotFound when the id is another peer's transfer."""
        d = declaration
        if d.size > self._max_package:
            raise TransferTooLarge(d.size, self._max_package)
        if not MIN_CHUNK_BYTES <= d.chunk_size <= self._max_chunk:
            raise InvalidInput("chunk_size", f"between {MIN_CHUNK_BYTES} and {self._max_chunk} bytes on this node")
        chunks = chunk_count(d.size, d.chunk_size)
        if chunks > MAX_CHUNKS:
            raise InvalidInput("chunk_size", f"at most {MAX_CHUNKS} chunks per transfer; use larger chunks")
        self.spool.root.mkdir(parents=True, exist_ok=True)
        with locked(self.spool.root):
            self.clean_stale()
            existing = self.spool.state(d.transfer_id)
            if existing is not None:
                if existing["peer"] != caller.node_id:
                    raise NotFound("transfer", d.transfer_id)  # another peer's: it does not exist for this one
                if any(existing[k] != v for k, v in d.document().items()):
                    raise InvalidInput("transfer_id", "already declared with another size, SHA-256 or chunk size")
                return self._document(existing)
            open_ones = [s for s in map(self.spool.state, self.spool.ids()) if s and s["peer"] == caller.node_id]
            if sum(1 for s in open_ones if s["status"] == RECEIVING) >= MAX_OPEN_PER_PEER:
                raise InvalidInput("transfer_id", f"at most {MAX_OPEN_PER_PEER} open transfers per peer")
            if shutil.disk_usage(self.spool.root).free < d.size:
                raise InvalidInput("size", "this node has not enough free disk space for the package")
            now = self._clock.now().isoformat()
            state = {
                **d.document(),
                "peer": caller.node_id,
                "peer_name": caller.name,
                "chunks": chunks,
                "status": RECEIVING,
                "created_at": now,
                "updated_at": now,
                "reason": None,
            }
            folder = self.spool.folder(d.transfer_id)
            folder.mkdir(parents=True)
            try:
                self.spool.allocate(d.transfer_id, d.size, chunks)
            except OSError as exc:
                self.spool.remove(d.transfer_id)
                raise InvalidInput("size", f"cannot reserve {d.size} bytes on this node: {exc.strerror}") from None
            self.spool.save(d.transfer_id, state)
            return self._document(state)

    def status(self, caller: PeerView, transfer_id: str) -> dict[str, Any]:
        """The transfer as the receiver holds it: status and the chunks on disk. NotFound for other peers."""
        with self._locked(caller, transfer_id, shared=True):
            return self._document(self._state_of(caller, transfer_id))

    def put_chunk(self, caller: PeerView, transfer_id: str, index: int, chunk: CheckedChunk) -> dict[str, Any]:
        """Store one chunk durably (a duplicate is a no-op). Raises NotFound, InvalidInput (index, length, a
        different chunk where one is held), TransferRejected."""
        with self._locked(caller, transfer_id, shared=True):  # chunks write disjoint ranges; completion: exclusive
            state = self._state_of(caller, transfer_id)
            if state["status"] == COMPLETE:
                return {"index": index, "held": True, "duplicate": True}
            if state["status"] == REJECTED:
                raise TransferRejected(transfer_id, str(state["reason"]))
            if not 0 <= index < state["chunks"]:
                raise InvalidInput("chunk", f"index {index} outside 0..{state['chunks'] - 1}")
            offset, length = chunk_span(index, state["size"], state["chunk_size"])
            if len(chunk.data) != length:
                raise InvalidInput("body", f"chunk {index} must be {length} bytes, got {len(chunk.data)}")
            held = self.spool.digest_of(transfer_id, index)
            if held == chunk.sha256:
                return {"index": index, "held": True, "duplicate": True}
            if any(held):
                raise InvalidInput("content-digest", f"chunk {index} is already held with another SHA-256")
            self.spool.write_chunk(transfer_id, index, offset, chunk.data, chunk.sha256)
            now = self._clock.now()
            if now - datetime.fromisoformat(state["updated_at"]) >= ACTIVITY_RESOLUTION:
                self.spool.save(transfer_id, {**state, "updated_at": now.isoformat()})
            return {"index": index, "held": True, "duplicate": False}

    def complete(self, caller: PeerView, transfer_id: str) -> dict[str, Any]:
        """Check the whole package and import it; the signed receipt. Raises NotFound, TransferIncomplete,
        TransferRejected (the package's SHA-256 or verification failed: nothing was kept)."""
        folder = self.spool.folder(transfer_id)
        with self._locked(caller, transfer_id):
            state = self._state_of(caller, transfer_id)
            if (folder / RECEIPT).exists():
                return read_json(folder / RECEIPT)  # completed before: the same answer, nothing imported again
            if state["status"] == REJECTED:
                raise TransferRejected(transfer_id, str(state["reason"]))
            missing = state["chunks"] - len(self.spool.held(transfer_id))
            if missing:
                raise TransferIncomplete(transfer_id, missing)
            actual = _sha256_of(folder / PART)
            if actual != state["sha256"]:
                reason = f"the package's SHA-256 is {actual}, {state['sha256']} was declared"
                self._reject(transfer_id, state, reason)
                raise TransferRejected(transfer_id, reason)
            peer = self._federation.peer(caller.node_id)
            purpose = f"evidence received from {peer.name} ({peer.country}): {state['purpose']}"[:MAX_PURPOSE]
            try:
                result = self._packages.import_package(
                    peer_actor(peer), folder / PART, Disclosure(purpose=purpose), expected_node=caller.node_id
                )
            except (PackageRejected, UnsafeArchive, InvalidInput, BlobMismatch, BlobTooLarge) as exc:
                # Refusals of the package itself; anything else (database down) leaves the transfer to retry.
                self._reject(transfer_id, state, str(exc)[:1000])
                raise TransferRejected(transfer_id, str(exc)[:1000]) from exc
            checkpoint = result.report.checkpoint
            if checkpoint is None:  # a verified package always has one; never cosign without it
                raise TransferRejected(transfer_id, "the verified package carries no checkpoint")
            # The import checked this head against every head of the sender this node holds (verification step
            # 11, consistency proofs), so it extends what we saw before: now we countersign it.
            cosignature = self._witnessing.cosign(checkpoint)
            receipt = self._witnessing.sign_receipt(
                {
                    "transfer_id": transfer_id,
                    "package_id": result.package_id,
                    "package_sha256": state["sha256"],
                    "size": state["size"],
                    "sender": caller.node_id,
                    "receiver": self._node_id,
                    "received_at": self._clock.now().isoformat(),
                    "items": [item.id for item in result.items],
                    "checkpoint": {
                        "origin": checkpoint.origin,
                        "tree_size": checkpoint.tree_size,
                        "root_hash": checkpoint.root_hash.hex(),
                    },
                    "cosignature": {"witness": witness_name(self._node_id), "line": cosignature.line().rstrip("\n")},
                }
            )
            write_json(folder / RECEIPT, receipt)
            self.spool.save(transfer_id, {**state, "status": COMPLETE, "updated_at": self._clock.now().isoformat()})
            self.spool.drop_chunks(transfer_id)
            return receipt

    # -- witnessing, the peer's side -------------------------------------------------------------------------

    def latest_checkpoint(self, caller: PeerView, since: int | None) -> dict[str, Any]:
        """This node's current signed custody head, with a consistency proof from ``since`` (the size of the
        last head the caller saw) when that size is within the log."""
        actor = peer_actor(self._federation.peer(caller.node_id))
        signed = self._evidence.checkpoint(actor)
        size = signed.checkpoint.tree_size
        proof: list[bytes] = []
        if since is not None and 1 <= since <= size:
            proof = self._evidence.consistency(actor, since, size)
        return {
            "origin": signed.checkpoint.origin,
            "tree_size": size,
            "root_hash": signed.checkpoint.root_hash.hex(),
            "signed_note": signed.note,
            "consistency_from": since,
            "consistency_proof": [h.hex() for h in proof],
        }

    def accept_cosignature(self, caller: PeerView, tree_size: int, line: str) -> dict[str, Any]:
        """Keep the calling peer's cosignature on one of our heads, verified with the key it peered with."""
        peer = self._federation.peer(caller.node_id)
        try:
            return self._evidence.add_cosignature(
                peer_actor(peer), tree_size, witness_vkey(peer.node_id, bytes(peer.public_key)), line
            )
        except CheckpointError as exc:
            raise InvalidInput("line", str(exc)) from None

    # -- housekeeping ----------------------------------------------------------------------------------------

    def clean_stale(self) -> list[str]:
        """Delete incomplete transfers with no chunk for the configured age; their ids."""
        removed = []
        now = self._clock.now()
        for transfer_id in self.spool.ids():
            state = self.spool.state(transfer_id)
            if state is None or state["status"] == COMPLETE:
                continue
            if now - datetime.fromisoformat(state["updated_at"]) > self._stale_after:
                self.spool.remove(transfer_id)
                removed.append(transfer_id)
        return removed

    def transfers(self) -> list[dict[str, Any]]:
        listed = []
        for transfer_id in self.spool.ids():
            state = self.spool.state(transfer_id)
            if state is not None:
                held = state["chunks"] if state["status"] == COMPLETE else len(self.spool.held(transfer_id))
                listed.append({**state, "direction": "incoming", "held_chunks": held})
        return listed

    # -- helpers ---------------------------------------------------------------------------------------------

    @contextmanager
    def _locked(self, caller: PeerView, transfer_id: str, *, shared: bool = False) -> Iterator[None]:
        """The transfer folder's lock, for a folder that exists: a call naming an unknown transfer must not
        create anything on this node."""
        folder = self.spool.folder(checked_transfer_id(transfer_id))
        if not folder.is_dir():
            raise NotFound("transfer", transfer_id)
        try:
            with locked(folder, shared=shared):
                yield
        except FileNotFoundError:  # removed as stale between the check and the lock
            raise NotFound("transfer", transfer_id) from None

    def _state_of(self, caller: PeerView, transfer_id: str) -> dict[str, Any]:
        state = self.spool.state(checked_transfer_id(transfer_id))
        if state is None or state["peer"] != caller.node_id:
            raise NotFound("transfer", transfer_id)
        return state

    def _document(self, state: dict[str, Any]) -> dict[str, Any]:
        transfer_id = state["transfer_id"]
        held = list(range(state["chunks"])) if state["status"] == COMPLETE else self.spool.held(transfer_id)
        return {
            "transfer_id": transfer_id,
            "size": state["size"],
            "sha256": state["sha256"],
            "chunk_size": state["chunk_size"],
            "chunks": state["chunks"],
            "status": state["status"],
            "held": as_ranges(held),
            "missing": state["chunks"] - len(held),
        }

    def _reject(self, transfer_id: str, state: dict[str, Any], reason: str) -> None:
        self.spool.save(
            transfer_id, {**state, "status": REJECTED, "reason": reason, "updated_at": self._clock.now().isoformat()}
        )
        self.spool.drop_chunks(transfer_id)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()
