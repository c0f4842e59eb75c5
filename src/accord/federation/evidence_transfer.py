"""Sending evidence packages to a peer in resumable, hashed chunks, and witnessing peers' custody heads.

The sender exports a package with the existing export (custody events, signed head, proofs) into its outgoing
spool, then speaks the transfer protocol of ``evidence_receive`` over signed calls (RFC 9421, ``signing``):

    POST /federation/v1/transfers                      declare id, size, SHA-256, chunk size
    GET  /federation/v1/transfers/{id}                 which chunks the receiver holds (a resumed send skips them)
    PUT  /federation/v1/transfers/{id}/chunks/{n}      one chunk; its Content-Digest (RFC 9530) is checked
    POST /federation/v1/transfers/{id}/complete        whole SHA-256, verified import, signed receipt + cosignature

One chunk is in memory at a time on either side, so a package of any size moves with bounded memory. Every call
is retried with exponential backoff when the peer is down, answers 5xx or drops the connection; when the retries
are spent the send stops with ``TransferInterrupted`` and its state stays on disk, so ``resume`` continues it
(later, or from another process) resending at most the chunk that was in flight.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from accord.audit.service import AuditLog, Disclosure, Outcome
from accord.clock import Clock
from accord.errors import AccordError, InvalidInput, NotFound
from accord.evidence.checkpoint import CheckpointError
from accord.evidence.service import EvidenceService
from accord.evidence.transfer import EvidencePackages
from accord.federation.evidence_receive import MAX_CHUNK_BYTES, RECEIVING, TransferReceiver
from accord.federation.models import Peer
from accord.federation.service import ACTIVE, FederationService
from accord.federation.signing import sign_request
from accord.federation.transfer_spool import PACKAGE, Spool, chunk_count, chunk_span, from_ranges, locked
from accord.federation.witnessing import (
    ReceiptInvalid,
    Witnessing,
    WitnessResult,
    open_receipt,
    proof_hashes,
    witness_vkey,
)
from accord.identity.actor import Actor
from accord.identity.node_keys import NodeKeys
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource

if TYPE_CHECKING:
    from accord.node import Node

TRANSFERS_PATH = "/federation/v1/transfers"
CHECKPOINT_PATH = "/federation/v1/evidence/checkpoint"
COSIGNATURES_PATH = "/federation/v1/evidence/cosignatures"
TRANSFER_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Completion hashes and verifies the whole package before it answers (about 10 s per GiB on a small machine).
COMPLETE_BASE_SECONDS = 120.0
COMPLETE_SECONDS_PER_GIB = 120.0
MAX_BACKOFF_SECONDS = 60.0
SAVE_EVERY_CHUNKS = 64  # the sender's own record of progress; the receiver's answer is what a resume trusts
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
EXPORTED, SENDING, INTERRUPTED, REFUSED, DELIVERED = "exported", "sending", "interrupted", "refused", "delivered"
# Not finished either way: an outgoing send that may still be resumed, an incoming package still arriving.
IN_PROGRESS = frozenset({EXPORTED, SENDING, INTERRUPTED, RECEIVING})

Progress = Callable[[int], None]


class PeerUnreachable(AccordError):
    """A call to a peer failed every retry (down, 5xx, connection dropped, timeout)."""

    def __init__(self, peer: str, attempts: int, reason: str) -> None:
        self.peer = peer
        self.attempts = attempts
        self.reason = reason
        super().__init__(f"peer {peer} unreachable after {attempts} attempts: {reason}")


class PeerRefused(AccordError):
    """A peer answered a call with a 4xx problem: retrying the same call cannot help."""

    def __init__(self, peer: str, status: int, detail: str, field: str | None = None) -> None:
        self.peer = peer
        self.status = status
        self.detail = detail
        self.field = field
        super().__init__(f"peer {peer} refused ({status}): {detail}")


class TransferInterrupted(AccordError):
    """The send stopped before the receipt; its state is kept, ``accord evidence resume ID`` continues it."""

    def __init__(self, transfer_id: str, reason: str) -> None:
        self.transfer_id = transfer_id
        self.reason = reason
        super().__init__(
            f"transfer {transfer_id} interrupted: {reason}; resume with: accord evidence resume {transfer_id}"
        )


@dataclass(frozen=True)
class RetryPolicy:
    retries: int
    backoff_seconds: float

    def delay(self, retry: int) -> float:
        return float(min(MAX_BACKOFF_SECONDS, self.backoff_seconds * 2**retry))


@dataclass(frozen=True)
class SendResult:
    transfer_id: str
    peer: str
    package_id: str
    size: int
    bytes_sent: int  # chunk bytes put on the wire by all attempts so far, retries included
    receipt: dict[str, Any]
    cosignature_stored: bool
    witness_error: str | None

    @property
    def bytes_resent(self) -> int:
        return max(0, self.bytes_sent - self.size)


class PeerLink:
    """Signed calls to one peer over one HTTP connection pool, with retries and exponential backoff."""

    def __init__(self, peer: Peer, keys: NodeKeys, policy: RetryPolicy, sleep: Callable[[float], None]) -> None:
        self._peer = peer
        self._keys = keys
        self._policy = policy
        self._sleep = sleep
        self._client = httpx.Client(timeout=TRANSFER_TIMEOUT)
        self.bytes_out = 0

    def __enter__(self) -> PeerLink:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self._client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        read_timeout: float | None = None,
        retry_fields: tuple[str, ...] = (),
    ) -> httpx.Response:
        """The peer's 2xx answer. Raises PeerRefused (4xx, except problems naming ``retry_fields``, such as a
        chunk damaged in transit) or PeerUnreachable once the retries are spent."""
        timeout = httpx.Timeout(read_timeout, connect=5.0) if read_timeout else TRANSFER_TIMEOUT
        retry = 0
        while True:
            request = self._client.build_request(
                method,
                f"{self._peer.base_url}{path}",
                json=json,
                content=content,
                headers={"content-type": "application/octet-stream"} if content is not None else None,
                timeout=timeout,
            )
            sign_request(request, self._keys.node_id, self._keys.private_key)  # a fresh nonce for each try
            try:
                response = self._client.send(request)
            except httpx.ConnectError as exc:  # nothing was sent: the peer is down or unreachable
                reason = f"{type(exc).__name__}: {exc}"[:300]
            except httpx.TransportError as exc:  # dropped or timed out on the way: the body may have gone out
                self.bytes_out += len(content or b"")
                reason = f"{type(exc).__name__}: {exc}"[:300]
            else:
                self.bytes_out += len(content or b"")
                if response.status_code < 400:
                    return response
                detail, field = _problem(response)
                if response.status_code not in RETRYABLE_STATUS and (field is None or field not in retry_fields):
                    raise PeerRefused(self._peer.name, response.status_code, detail, field)
                reason = f"{response.status_code}: {detail}"
            if retry >= self._policy.retries:
                raise PeerUnreachable(self._peer.name, retry + 1, reason)
            self._sleep(self._policy.delay(retry))
            retry += 1


def _problem(response: httpx.Response) -> tuple[str, str | None]:
    """The detail of an RFC 9457 problem answer and the first field it names."""
    try:
        document = response.json()
    except ValueError:
        return response.text[:300], None
    if not isinstance(document, dict):
        return response.text[:300], None
    errors = document.get("errors")
    field = None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        field = str(errors[0].get("field"))
    return str(document.get("detail") or document.get("title") or response.reason_phrase)[:500], field


class TransferSender:
    def __init__(
        self,
        federation: FederationService,
        evidence: EvidenceService,
        packages: EvidencePackages,
        witnessing: Witnessing,
        audit: AuditLog,
        keys: NodeKeys,
        clock: Clock,
        ids: IdSource,
        home: Path,
        *,
        chunk_size: int,
        policy: RetryPolicy,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._federation = federation
        self._evidence = evidence
        self._packages = packages
        self._witnessing = witnessing
        self._audit = audit
        self._keys = keys
        self._clock = clock
        self._ids = ids
        self.spool = Spool(home, "outgoing")
        self.chunk_size = chunk_size
        self.policy = policy
        self._sleep = sleep

    def prepare(
        self,
        actor: Actor,
        peer_id: str,
        *,
        item_ids: Iterable[str] = (),
        case_reference: str | None = None,
        purpose: str,
        legal_basis: str | None = None,
    ) -> dict[str, Any]:
        """Export the package for the peer into the outgoing spool; the transfer's state. Raises what the export
        raises, NotFound for an unknown peer, InvalidInput for a suspended one."""
        peer = self.active_peer(peer_id)
        if not purpose.strip():
            raise InvalidInput("purpose", "say why the evidence is sent")
        transfer_id = self._ids.new_id("evidence-transfer")
        folder = self.spool.folder(transfer_id)
        folder.mkdir(parents=True)
        try:
            result = self._packages.export(
                actor,
                folder / PACKAGE,
                Disclosure(purpose=purpose, legal_basis=legal_basis),
                item_ids=item_ids,
                case_reference=case_reference,
                recipient=f"{peer.name[:150]} ({peer.node_id})",
            )
        except BaseException:
            self.spool.remove(transfer_id)
            raise
        now = self._clock.now().isoformat()
        state: dict[str, Any] = {
            "transfer_id": transfer_id,
            "peer": peer.node_id,
            "peer_name": peer.name,
            "package_id": result.package_id,
            "sha256": result.sha256,
            "size": (folder / PACKAGE).stat().st_size,
            "chunk_size": self.chunk_size,
            "chunks": chunk_count((folder / PACKAGE).stat().st_size, self.chunk_size),
            "items": result.items,
            "tree_size": result.tree_size,
            "purpose": purpose,
            "status": EXPORTED,
            "declared": False,
            "acknowledged": 0,
            "bytes_sent": 0,
            "created_at": now,
            "updated_at": now,
            "last_error": None,
            "receipt": None,
            "witness_error": None,
        }
        self.spool.save(transfer_id, state)
        return state

    def resume(self, actor: Actor, transfer_id: str, progress: Progress | None = None) -> SendResult:
        """Send what the receiver does not hold yet, complete, check the receipt and keep the peer's
        cosignature. Raises NotFound, TransferInterrupted (state kept), PeerRefused, ReceiptInvalid."""
        folder = self.spool.folder(transfer_id)
        if self.spool.state(transfer_id) is None:
            raise NotFound("transfer", transfer_id)
        try:
            with locked(folder, wait=False):
                return self._resume(actor, transfer_id, progress or (lambda _n: None))
        except BlockingIOError:
            raise InvalidInput("transfer", f"{transfer_id} is being sent by another process") from None

    def _resume(self, actor: Actor, transfer_id: str, progress: Progress) -> SendResult:
        state = self.spool.state(transfer_id)
        if state is None:
            raise NotFound("transfer", transfer_id)
        if state["status"] == DELIVERED:
            return self._result(state)
        peer = self.active_peer(state["peer"])
        state["status"] = SENDING
        with PeerLink(peer, self._keys, self.policy, self._sleep) as link:
            try:
                answer = self._push(link, state, progress)
            except PeerUnreachable as exc:
                self._stop(state, INTERRUPTED, str(exc), link)
                raise TransferInterrupted(transfer_id, str(exc)) from exc
            except PeerRefused as exc:
                self._stop(state, REFUSED, str(exc), link)
                raise
            state["bytes_sent"] += link.bytes_out
        return self._deliver(actor, peer, state, answer)

    def _push(self, link: PeerLink, state: dict[str, Any], progress: Progress) -> Any:
        transfer_id, size, chunk_size, chunks = (
            state["transfer_id"],
            state["size"],
            state["chunk_size"],
            state["chunks"],
        )
        document = None
        if state["declared"]:
            try:
                document = link.call("GET", f"{TRANSFERS_PATH}/{transfer_id}").json()
            except PeerRefused as exc:
                if exc.status != 404:
                    raise
                # The receiver no longer has it (cleaned as stale): declare again and send it all.
        if document is None:
            declaration = {k: state[k] for k in ("transfer_id", "size", "sha256", "chunk_size", "package_id")}
            document = link.call("POST", TRANSFERS_PATH, json={**declaration, "purpose": state["purpose"]}).json()
            state["declared"] = True
            self._save(state)
        try:
            held = from_ranges(document.get("held"), chunks) if isinstance(document, dict) else None
        except ValueError as exc:
            raise PeerRefused(link_name(state), 502, f"unreadable transfer status: {exc}") from None
        if held is None:
            raise PeerRefused(link_name(state), 502, "unreadable transfer status")
        progress(sum(chunk_span(i, size, chunk_size)[1] for i in held))
        state["acknowledged"] = len(held)
        fd = os.open(self.spool.folder(transfer_id) / PACKAGE, os.O_RDONLY)
        try:
            for index in range(chunks):
                if index in held:
                    continue
                offset, length = chunk_span(index, size, chunk_size)
                data = os.pread(fd, length, offset)
                if len(data) != length:
                    raise InvalidInput("package", f"the exported package is shorter than {size} bytes; export again")
                link.call(
                    "PUT",
                    f"{TRANSFERS_PATH}/{transfer_id}/chunks/{index}",
                    content=data,
                    retry_fields=("content-digest",),
                )
                state["acknowledged"] += 1
                progress(length)
                if state["acknowledged"] % SAVE_EVERY_CHUNKS == 0:
                    self._save({**state, "bytes_sent": state["bytes_sent"] + link.bytes_out})
        finally:
            os.close(fd)
        seconds = COMPLETE_BASE_SECONDS + COMPLETE_SECONDS_PER_GIB * size / 1024**3
        return link.call("POST", f"{TRANSFERS_PATH}/{transfer_id}/complete", read_timeout=seconds).json()

    def _deliver(self, actor: Actor, peer: Peer, state: dict[str, Any], answer: Any) -> SendResult:
        transfer_id = state["transfer_id"]
        try:
            receipt = open_receipt(transfer_id, answer, bytes(peer.public_key))
            expected = {"package_sha256": state["sha256"], "sender": self._keys.node_id, "receiver": peer.node_id}
            for key, value in expected.items():
                if receipt.get(key) != value:
                    raise ReceiptInvalid(transfer_id, f"it names {key} {str(receipt.get(key))[:80]}, not {value}")
        except ReceiptInvalid as exc:
            self._stop(state, REFUSED, str(exc), None)
            raise
        # The peer cosigned the head our package carried; keep it once it verifies against our own signed head
        # and the key the peer presented when peering (C2SP tlog-cosignature).
        witness_error = None
        try:
            cosigned = receipt["cosignature"]
            self._evidence.add_cosignature(
                actor,
                int(receipt["checkpoint"]["tree_size"]),
                witness_vkey(peer.node_id, bytes(peer.public_key)),
                str(cosigned["line"]),
            )
        except (CheckpointError, AccordError, KeyError, TypeError, ValueError) as exc:
            witness_error = f"{type(exc).__name__}: {exc}"[:300]
            self._audit.record(
                actor.audit_ref(),
                "federation.cosignature",
                object_type="evidence-transfer",
                object_id=transfer_id,
                outcome=Outcome.FAILED,
                details={"peer": peer.node_id, "failure": witness_error},
            )
        state.update(status=DELIVERED, receipt=answer, witness_error=witness_error, last_error=None)
        self._save(state)
        (self.spool.folder(transfer_id) / PACKAGE).unlink(missing_ok=True)  # delivered: the blobs remain here
        return self._result(state)

    # -- witnessing ------------------------------------------------------------------------------------------

    def witness(self, actor: Actor, peer_id: str) -> WitnessResult:
        """Fetch the peer's latest custody head, check that it extends the last one seen, cosign it and send the
        cosignature back. Raises InconsistentTreeHead (audited), PeerUnreachable, PeerRefused, InvalidInput."""
        peer = self.active_peer(peer_id)
        known = self._witnessing.last_seen(peer)
        path = CHECKPOINT_PATH + (f"?since={known.tree_size}" if known is not None and known.tree_size else "")
        with PeerLink(peer, self._keys, self.policy, self._sleep) as link:
            document = link.call("GET", path).json()
            if not isinstance(document, dict):
                raise InvalidInput("checkpoint", "the peer's answer is not a JSON object")
            proof = proof_hashes(document.get("consistency_proof", []))
            result, checkpoint = self._witnessing.witness(actor, peer, document.get("signed_note"), proof)
            link.call("POST", COSIGNATURES_PATH, json={"tree_size": checkpoint.tree_size, "line": result.cosignature})
        return result

    # -- listing and helpers ---------------------------------------------------------------------------------

    def transfers(self) -> list[dict[str, Any]]:
        listed = []
        for transfer_id in self.spool.ids():
            state = self.spool.state(transfer_id)
            if state is not None:
                listed.append({**state, "direction": "outgoing", "held_chunks": state["acknowledged"]})
        return listed

    def active_peer(self, peer_id: str) -> Peer:
        peer = self._federation.peer(peer_id)
        if peer.status != ACTIVE:
            raise InvalidInput("peer", f"{peer.name} is suspended: {peer.status_reason}")
        return peer

    def _stop(self, state: dict[str, Any], status: str, error: str, link: PeerLink | None) -> None:
        state.update(status=status, last_error=error[:500])
        if link is not None:
            state["bytes_sent"] += link.bytes_out
        self._save(state)

    def _save(self, state: dict[str, Any]) -> None:
        self.spool.save(state["transfer_id"], {**state, "updated_at": self._clock.now().isoformat()})

    @staticmethod
    def _result(state: dict[str, Any]) -> SendResult:
        receipt = state["receipt"]["receipt"]
        return SendResult(
            transfer_id=state["transfer_id"],
            peer=state["peer"],
            package_id=state["package_id"],
            size=state["size"],
            bytes_sent=state["bytes_sent"],
            receipt=receipt,
            cosignature_stored=state["witness_error"] is None,
            witness_error=state["witness_error"],
        )


def link_name(state: dict[str, Any]) -> str:
    return str(state.get("peer_name") or state.get("peer"))


@dataclass(frozen=True)
class TransferSummary:
    """What an operator sees of one transfer: no purpose, items or hashes, only how far it got."""

    transfer_id: str
    direction: str  # outgoing, incoming
    peer_node_id: str
    size: int
    chunks: int
    acknowledged: int  # chunks the receiving side holds
    status: str
    in_progress: bool
    created_at: datetime | None
    updated_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, state: dict[str, Any]) -> TransferSummary:
        chunks = int(state.get("chunks") or 0)
        held = chunks if state.get("status") == DELIVERED else int(state.get("held_chunks") or 0)
        return cls(
            transfer_id=str(state["transfer_id"]),
            direction=str(state["direction"]),
            peer_node_id=str(state["peer"]),
            size=int(state.get("size") or 0),
            chunks=chunks,
            acknowledged=min(held, chunks),
            status=str(state.get("status")),
            in_progress=state.get("status") in IN_PROGRESS,
            created_at=_parsed(state.get("created_at")),
            updated_at=_parsed(state.get("updated_at")),
            last_error=state.get("last_error") or state.get("reason") or state.get("witness_error"),
        )


def _parsed(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


@dataclass
class EvidenceTransfers:
    """Both sides of evidence transfers for one node."""

    sender: TransferSender
    receiver: TransferReceiver
    witnessing: Witnessing
    identity: IdentityService

    def send_package(
        self,
        actor: Actor,
        peer_id: str,
        *,
        item_ids: Iterable[str] = (),
        case_reference: str | None = None,
        purpose: str,
        legal_basis: str | None = None,
        progress: Progress | None = None,
    ) -> SendResult:
        """Export and send in one go (``prepare`` then ``resume``)."""
        state = self.sender.prepare(
            actor, peer_id, item_ids=item_ids, case_reference=case_reference, purpose=purpose, legal_basis=legal_basis
        )
        return self.sender.resume(actor, state["transfer_id"], progress)

    def resume(self, actor: Actor, transfer_id: str, progress: Progress | None = None) -> SendResult:
        return self.sender.resume(actor, transfer_id, progress)

    def witness(self, actor: Actor, peer_id: str) -> WitnessResult:
        return self.sender.witness(actor, peer_id)

    def transfers(self) -> list[dict[str, Any]]:
        """Outgoing and incoming transfers with their state, newest first."""
        listed = self.sender.transfers() + self.receiver.transfers()
        return sorted(listed, key=lambda t: str(t.get("created_at")), reverse=True)

    def with_peer(self, actor: Actor, peer_node_id: str) -> list[TransferSummary]:
        """Transfers to and from one peer, newest first. Raises PermissionDenied without READ_EVIDENCE."""
        self.identity.authorize(actor, Permission.READ_EVIDENCE)
        return [TransferSummary.of(t) for t in self.transfers() if t.get("peer") == peer_node_id]

    def in_progress(self, actor: Actor) -> dict[str, int]:
        """Per peer node id, how many transfers to or from it are not finished. Raises PermissionDenied without
        READ_EVIDENCE."""
        self.identity.authorize(actor, Permission.READ_EVIDENCE)
        counts: dict[str, int] = {}
        for t in self.transfers():
            if t.get("status") in IN_PROGRESS:
                counts[str(t["peer"])] = counts.get(str(t["peer"]), 0) + 1
        return counts


def transfers_of(node: Node, *, sleep: Callable[[float], None] = time.sleep) -> EvidenceTransfers:
    """Wire evidence transfers from a node's services and settings (cheap: no I/O)."""
    settings = node.settings
    witnessing = Witnessing(node.db, node.clock, node.audit, node.keys)
    sender = TransferSender(
        node.federation,
        node.evidence,
        node.evidence_packages,
        witnessing,
        node.audit,
        node.keys,
        node.clock,
        node.ids,
        settings.home,
        chunk_size=settings.federation_transfer_chunk_bytes,
        policy=RetryPolicy(settings.federation_transfer_retries, settings.federation_transfer_backoff_ms / 1000),
        sleep=sleep,
    )
    receiver = TransferReceiver(
        node.federation,
        node.evidence,
        node.evidence_packages,
        witnessing,
        node.clock,
        settings.home,
        node.keys.node_id,
        max_package_bytes=settings.evidence_package_max_bytes,
        max_chunk_bytes=MAX_CHUNK_BYTES,
        stale_after=timedelta(hours=settings.federation_transfer_stale_hours),
    )
    return EvidenceTransfers(sender, receiver, witnessing, node.identity)
