"""Evidence items and their custody: add, read, copy, seal, destroy, and every step written to the custody log.

Evidence belongs to the party that holds it: only that party's users (and the node operator) see an item; for
anyone else it does not exist (404, as for invisible intelligence). It crosses to another party or country
only inside a package (``package.py``), which the receiver verifies and records as "received".

Each change and its custody event commit in one transaction with the audit entry, so there is never an
item without its registration event, nor an event for a change that did not happen. Reads that hand out
evidence are audited with their purpose (data-protection duty) and, where the content itself is read, also
recorded as an "accessed" custody event (Convention req. 42: every access is part of the chain).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accord.audit.service import AuditLog, Disclosure
from accord.clock import Clock
from accord.errors import AccordError, InvalidInput, NotFound
from accord.evidence.blobstore import BlobMismatch, BlobStore, StoredBlob, read_chunks
from accord.evidence.checkpoint import (
    SIGNATURE_TYPE_COSIGNATURE_V1,
    Checkpoint,
    open_note,
    parse_cosignature_line,
    parse_vkey,
    verify_cosignature,
)
from accord.evidence.custody import CustodyLog, LoggedEvent, NewEvent, SignedCheckpoint
from accord.evidence.models import CustodyCheckpoint, CustodyCosignature, EvidenceItem
from accord.identity.actor import Actor
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.store.engine import Database

SOURCE_KINDS = ("seized-device", "provider-production", "open-source", "other")
# Events a user records by hand; the others (registered, accessed, copied, exported, received, destroyed) are
# written by the operations that cause them, so they cannot be claimed without happening.
MANUAL_EVENTS = ("analysed", "transferred", "sealed", "released")
HELD, SEALED, DESTROYED = "held", "sealed", "destroyed"
MAX_TEXT = 10_000
MAX_SHORT = 500
MAX_LISTED = 500
_BAD_NAME = re.compile(r"[/\\\x00]")


class EvidenceStateError(AccordError):
    """The item's state forbids the operation (a sealed original cannot be opened, a destroyed one at all)."""

    def __init__(self, item_id: str, state: str, operation: str) -> None:
        self.item_id = item_id
        self.state = state
        self.operation = operation
        super().__init__(f"evidence item {item_id} is {state}: cannot {operation}")


@dataclass(frozen=True)
class ItemMetadata:
    """What the person registering an item says about it (ISO/IEC 27037 acquisition record)."""

    case_reference: str
    description: str
    source_kind: str
    collector: str
    collected_at: datetime
    file_name: str
    media_type: str = "application/octet-stream"
    exhibit_number: str | None = None
    place: str | None = None
    legal_basis: str | None = None
    request_id: str | None = None
    use_conditions: str | None = None

    def checked(self) -> ItemMetadata:
        _text("case_reference", self.case_reference, 200, required=True)
        _text("description", self.description, MAX_TEXT, required=True)
        _text("collector", self.collector, 200, required=True)
        _text("media_type", self.media_type, 200, required=True)
        for name in ("exhibit_number", "request_id"):
            _text(name, getattr(self, name), 100)
        for name in ("place", "legal_basis"):
            _text(name, getattr(self, name), MAX_SHORT)
        _text("use_conditions", self.use_conditions, MAX_TEXT)
        if self.source_kind not in SOURCE_KINDS:
            raise InvalidInput("source_kind", f"must be one of {', '.join(SOURCE_KINDS)}")
        if self.collected_at.tzinfo is None:
            raise InvalidInput("collected_at", "needs a time zone (UTC offset)")
        check_file_name(self.file_name)
        return self


def check_file_name(name: str) -> str:
    """A file name as it will appear inside packages: one path segment, printable, at most 255 bytes."""
    if not name or name in (".", "..") or _BAD_NAME.search(name):
        raise InvalidInput("file_name", "must be a single file name without / or \\")
    if len(name.encode()) > 255 or any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name):
        raise InvalidInput("file_name", "must be at most 255 bytes of printable characters")
    if name != unicodedata.normalize("NFC", name) or name.strip() != name:
        raise InvalidInput("file_name", "must be NFC-normalised without leading or trailing spaces")
    return name


def _text(name: str, value: str | None, limit: int, *, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            raise InvalidInput(name, "is required")
        return
    if len(value) > limit:
        raise InvalidInput(name, f"at most {limit} characters")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        raise InvalidInput(name, "must not contain control characters")


@dataclass(frozen=True)
class ItemView:
    id: str
    party_id: str
    case_reference: str
    exhibit_number: str
    request_id: str | None
    parent_item_id: str | None
    sha256: str
    size_bytes: int
    media_type: str
    file_name: str
    description: str
    source_kind: str
    collector: str
    collected_at: datetime
    place: str | None
    legal_basis: str | None
    use_conditions: str | None
    origin_node_id: str | None
    origin_record_sha256: str | None
    state: str
    registered_at: datetime
    registered_by: str

    def document(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for name in ("collected_at", "registered_at"):
            out[name] = getattr(self, name).isoformat()
        return out


def item_view(row: EvidenceItem) -> ItemView:
    return ItemView(**{name: getattr(row, name) for name in ItemView.__dataclass_fields__})


@dataclass(frozen=True)
class CustodyEntry:
    """One event of an item's custody, with the proof that it is in the log's signed tree."""

    seq: int
    kind: str
    at: datetime
    document: dict[str, Any]
    leaf_hash: str
    inclusion_proof: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "event": self.document,
            "leaf_hash": self.leaf_hash,
            "inclusion_proof": self.inclusion_proof,
        }


@dataclass(frozen=True)
class ItemDetail:
    item: ItemView
    custody: list[CustodyEntry]
    checkpoint: SignedCheckpoint
    copies: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            **self.item.document(),
            "custody": [entry.as_json() for entry in self.custody],
            "checkpoint": self.checkpoint.note,
            "copies": self.copies,
        }


class EvidenceService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog,
        identity: IdentityService,
        blobs: BlobStore,
        custody: CustodyLog,
        max_item_bytes: int,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self.blobs = blobs
        self.custody = custody
        self.max_item_bytes = max_item_bytes

    # -- registering -----------------------------------------------------------------------------------------

    def add_item(
        self,
        actor: Actor,
        chunks: Iterable[bytes],
        meta: ItemMetadata,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> ItemView:
        """Stream a file into the store and register it. The hash is computed while the bytes arrive; with
        ``expected_sha256``/``expected_size`` a truncated or altered transfer is refused (BlobMismatch) and
        nothing is registered."""
        party_id = self._check_new_item(actor, meta, expected_sha256)
        blob = self.blobs.put(
            chunks, max_bytes=self.max_item_bytes, expected_sha256=expected_sha256, expected_size=expected_size
        )
        return self._register(actor, party_id, blob, meta)

    def add_file(
        self,
        actor: Actor,
        source: BinaryIO,
        meta: ItemMetadata,
        *,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> ItemView:
        """``add_item`` for a file open on this machine, read from its start: the store may read, hash and write
        it in parallel stages with direct I/O (``filecopy``), which is faster than streaming it through Python."""
        party_id = self._check_new_item(actor, meta, expected_sha256)
        blob = self.blobs.put_file(
            source,
            max_bytes=self.max_item_bytes,
            expected_sha256=expected_sha256,
            expected_size=expected_size,
            progress=progress,
        )
        return self._register(actor, party_id, blob, meta)

    def _check_new_item(self, actor: Actor, meta: ItemMetadata, expected_sha256: str | None) -> str:
        """Everything checked before a byte is stored; returns the acting party."""
        self._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        party_id = self._acting_party(actor)
        meta.checked()
        if expected_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", expected_sha256):
            raise InvalidInput("sha256", "must be 64 lowercase hex digits")
        return party_id

    def _register(self, actor: Actor, party_id: str, blob: StoredBlob, meta: ItemMetadata) -> ItemView:
        now = self._clock.now()
        item_id = self._ids.new_id("evidence-item")
        with self._db.writing() as session:
            exhibit = meta.exhibit_number or self._next_exhibit(session, party_id, meta.case_reference)
            row = EvidenceItem(
                id=item_id,
                party_id=party_id,
                case_reference=meta.case_reference,
                exhibit_number=exhibit,
                request_id=meta.request_id,
                parent_item_id=None,
                sha256=blob.sha256,
                size_bytes=blob.size,
                media_type=meta.media_type,
                file_name=meta.file_name,
                description=meta.description,
                source_kind=meta.source_kind,
                collector=meta.collector,
                collected_at=meta.collected_at,
                place=meta.place,
                legal_basis=meta.legal_basis,
                use_conditions=meta.use_conditions,
                origin_node_id=None,
                origin_record_sha256=None,
                state=HELD,
                registered_at=now,
                registered_by=actor.username,
            )
            session.add(row)
            session.flush()
            details = {
                "case_reference": meta.case_reference,
                "exhibit_number": exhibit,
                "file_name": meta.file_name,
                "size_bytes": str(blob.size),
                "source_kind": meta.source_kind,
                "collector": meta.collector,
                "collected_at": meta.collected_at.astimezone(UTC).isoformat(),
                "place": meta.place or "",
                "legal_basis": meta.legal_basis or "",
                "request_id": meta.request_id or "",
            }
            self._log(session, actor, row, "registered", None, details, previous=None)
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.add",
                object_type="evidence-item",
                object_id=item_id,
                details={"sha256": blob.sha256, "size": blob.size, "case": meta.case_reference},
            )
            return item_view(row)

    @staticmethod
    def _next_exhibit(session: Session, party_id: str, case_reference: str) -> str:
        count = session.scalar(
            select(func.count())
            .select_from(EvidenceItem)
            .where(EvidenceItem.party_id == party_id, EvidenceItem.case_reference == case_reference)
        )
        return f"EX-{int(count or 0) + 1:04d}"

    # -- reading ---------------------------------------------------------------------------------------------

    def items(self, actor: Actor, case_reference: str | None, disclosure: Disclosure) -> list[ItemView]:
        self._identity.authorize(actor, Permission.READ_EVIDENCE)
        statement = select(EvidenceItem).order_by(EvidenceItem.registered_at.desc(), EvidenceItem.id)
        if actor.via != "operator":
            statement = statement.where(EvidenceItem.party_id == self._acting_party(actor))
        if case_reference:
            statement = statement.where(EvidenceItem.case_reference == case_reference)
        with self._db.writing() as session:
            rows = session.scalars(statement.limit(MAX_LISTED)).all()
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.list",
                object_type="case",
                object_id=case_reference,
                disclosure=disclosure,
                details={"items": len(rows)},
            )
            return [item_view(row) for row in rows]

    def item(self, actor: Actor, item_id: str, disclosure: Disclosure) -> ItemDetail:
        self._identity.authorize(actor, Permission.READ_EVIDENCE)
        with self._db.writing() as session:
            row = self._visible(session, actor, item_id)
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.read",
                object_type="evidence-item",
                object_id=item_id,
                disclosure=disclosure,
            )
            last = max((e.seq for e in self.custody.events_of(session, [item_id])), default=-1)
            checkpoint = self.custody.covering_checkpoint(session, last + 1)
            custody = self._custody_entries(session, [item_id], checkpoint.checkpoint.tree_size)
            copies = list(session.scalars(select(EvidenceItem.id).where(EvidenceItem.parent_item_id == item_id)))
            return ItemDetail(item_view(row), custody, checkpoint, copies)

    def _custody_entries(self, session: Session, item_ids: list[str], tree_size: int) -> list[CustodyEntry]:
        events = [e for e in self.custody.events_of(session, item_ids) if e.seq < tree_size]
        proofs = self.custody.inclusion_proofs(session, [e.seq for e in events], tree_size)
        return [
            CustodyEntry(
                event.seq,
                event.kind,
                event.at,
                event.document(),
                event.leaf_hash.hex(),
                [h.hex() for h in proofs[event.seq]],
            )
            for event in events
        ]

    def open_content(
        self, actor: Actor, item_id: str, disclosure: Disclosure, *, purpose_kind: str = "download"
    ) -> tuple[ItemView, BinaryIO]:
        """The item's bytes. Recorded as an "accessed" custody event and audited. A sealed original must be
        released first (work on a copy instead: req. 44); a destroyed item has no bytes."""
        self._identity.authorize(actor, Permission.READ_EVIDENCE)
        if not disclosure.purpose:
            raise InvalidInput("purpose", "say why the evidence is opened")
        with self._db.writing() as session:
            row = self._visible(session, actor, item_id)
            if row.state != HELD:
                raise EvidenceStateError(item_id, row.state, "open its content")
            stream = self.blobs.open(row.sha256)
            self._log(session, actor, row, "accessed", disclosure.purpose, {"access": purpose_kind})
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.content.read",
                object_type="evidence-item",
                object_id=item_id,
                disclosure=disclosure,
            )
            return item_view(row), stream

    # -- custody actions -------------------------------------------------------------------------------------

    def record_event(
        self, actor: Actor, item_id: str, kind: str, purpose: str, details: dict[str, str] | None = None
    ) -> LoggedEvent:
        """A hand-recorded custody event (analysed, transferred, sealed, released). Sealing and releasing change
        the item's state, so a sealed original cannot be opened until released."""
        self._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        if kind not in MANUAL_EVENTS:
            raise InvalidInput("kind", f"must be one of {', '.join(MANUAL_EVENTS)}")
        _text("purpose", purpose, MAX_SHORT, required=True)
        details = _checked_details(details)
        with self._db.writing() as session:
            row = self._visible(session, actor, item_id, for_update=True)
            if row.state == DESTROYED:
                raise EvidenceStateError(item_id, row.state, f"record '{kind}'")
            if kind == "sealed" and row.state == SEALED:
                raise EvidenceStateError(item_id, row.state, "seal it again")
            if kind == "released" and row.state != SEALED:
                raise EvidenceStateError(item_id, row.state, "release it (it is not sealed)")
            if kind == "sealed":
                row.state = SEALED
            elif kind == "released":
                row.state = HELD
            event = self._log(session, actor, row, kind, purpose, details)
            self._audit.append(
                session,
                actor.audit_ref(),
                f"evidence.{kind}",
                object_type="evidence-item",
                object_id=item_id,
                details={"custody_index": event.seq},
            )
            return event

    def copy_item(self, actor: Actor, item_id: str, purpose: str) -> ItemView:
        """A working copy (req. 44): a new item with the same bytes and a link to its original, which can stay
        sealed. The copy's bytes are re-hashed from the store, so a copy of damaged bytes is refused."""
        self._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        _text("purpose", purpose, MAX_SHORT, required=True)
        with self._db.reading() as session:
            original = self._visible(session, actor, item_id)
            if original.state == DESTROYED:
                raise EvidenceStateError(item_id, original.state, "copy it")
            sha256 = original.sha256
        self.recheck_blob(sha256)
        now = self._clock.now()
        copy_id = self._ids.new_id("evidence-item")
        with self._db.writing() as session:
            original = self._visible(session, actor, item_id, for_update=True)
            if original.state == DESTROYED or original.sha256 != sha256:  # changed while the bytes were re-hashed
                raise EvidenceStateError(item_id, original.state, "copy it")
            copy = EvidenceItem(
                **{
                    name: getattr(original, name)
                    for name in ItemView.__dataclass_fields__
                    if name not in ("id", "parent_item_id", "exhibit_number", "state", "registered_at", "registered_by")
                },
                id=copy_id,
                parent_item_id=item_id,
                exhibit_number=f"{original.exhibit_number}-C{self._copies(session, item_id) + 1}",
                state=HELD,
                registered_at=now,
                registered_by=actor.username,
            )
            session.add(copy)
            session.flush()
            self._log(session, actor, original, "copied", purpose, {"copy": copy_id})
            self._log(
                session,
                actor,
                copy,
                "registered",
                purpose,
                {"copy_of": item_id, "exhibit_number": copy.exhibit_number},
                previous=None,
            )
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.copy",
                object_type="evidence-item",
                object_id=copy_id,
                details={"original": item_id},
            )
            return item_view(copy)

    @staticmethod
    def _copies(session: Session, item_id: str) -> int:
        count = session.scalar(
            select(func.count()).select_from(EvidenceItem).where(EvidenceItem.parent_item_id == item_id)
        )
        return int(count or 0)

    def destroy_item(self, actor: Actor, item_id: str, decision: str, approved_by: str) -> LoggedEvent:
        """Destruction only through a recorded decision (req. 48): the event keeps the item's hash, the decision
        and who approved it; the bytes are deleted once no other item holds them."""
        self._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        _text("decision", decision, MAX_SHORT, required=True)
        _text("approved_by", approved_by, 200, required=True)
        with self._db.writing() as session:
            row = self._visible(session, actor, item_id, for_update=True)
            if row.state == DESTROYED:
                raise EvidenceStateError(item_id, row.state, "destroy it again")
            row.state = DESTROYED
            event = self._log(session, actor, row, "destroyed", decision, {"approved_by": approved_by})
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.destroy",
                object_type="evidence-item",
                object_id=item_id,
                details={"sha256": row.sha256, "approved_by": approved_by},
            )
            still_used = session.scalar(
                select(func.count())
                .select_from(EvidenceItem)
                .where(EvidenceItem.sha256 == row.sha256, EvidenceItem.state != DESTROYED)
            )
            sha256 = row.sha256
        if not still_used:
            self.blobs.delete(sha256)
        return event

    def recheck_blob(self, sha256: str) -> None:
        """Re-hash stored bytes (req. 41: the hash is checked again at every copy, transfer and export)."""
        digest = hashlib.sha256()
        with self.blobs.open(sha256) as stream:
            for chunk in read_chunks(stream):
                digest.update(chunk)
        if digest.hexdigest() != sha256:
            raise BlobMismatch("sha256", sha256, digest.hexdigest())

    # -- the log ---------------------------------------------------------------------------------------------

    def checkpoint(self, actor: Actor) -> SignedCheckpoint:
        self._identity.authorize(actor, Permission.READ_EVIDENCE)
        with self._db.writing() as session:
            return self.custody.sign_checkpoint(session)

    def consistency(self, actor: Actor, old_size: int, new_size: int) -> list[bytes]:
        """RFC 9162 consistency proof between two sizes of the log (for a peer holding an older head)."""
        self._identity.authorize(actor, Permission.READ_EVIDENCE)
        with self._db.reading() as session:
            size = self.custody.size(session)
            if not 1 <= old_size <= new_size <= size:
                raise InvalidInput("from", f"need 1 <= from <= to <= {size} (the log's size)")
            return self.custody.consistency_proof(session, old_size, new_size)

    def add_cosignature(self, actor: Actor, tree_size: int, witness_vkey: str, line: str) -> dict[str, Any]:
        """Keep a witness's cosignature (C2SP tlog-cosignature) on one of our signed heads, once it verifies.
        Raises CheckpointError (bad key or line, or a signature that does not verify), NotFound."""
        self._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        witness = parse_vkey(witness_vkey, SIGNATURE_TYPE_COSIGNATURE_V1)
        cosignature = parse_cosignature_line(line)
        if cosignature.name != witness.name:
            raise InvalidInput("line", f"signed by {cosignature.name!r}, not by the witness {witness.name!r}")
        with self._db.writing() as session:
            row = session.get(CustodyCheckpoint, tree_size)
            if row is None:
                raise NotFound("signed checkpoint of size", str(tree_size))
            checkpoint = Checkpoint.parse(open_note(row.signed_note, self.custody.origin, self._public_key()))
            verify_cosignature(checkpoint, cosignature, witness.public_key)
            if session.get(CustodyCosignature, (tree_size, witness.name)) is None:
                session.add(
                    CustodyCosignature(
                        tree_size=tree_size,
                        witness_name=witness.name,
                        witness_key=witness_vkey,
                        line=cosignature.line().rstrip("\n"),
                        cosigned_at=datetime.fromtimestamp(cosignature.timestamp, UTC),
                        received_at=self._clock.now(),
                    )
                )
            self._audit.append(
                session,
                actor.audit_ref(),
                "evidence.cosignature",
                object_type="custody-checkpoint",
                object_id=str(tree_size),
                details={"witness": witness.name},
            )
        return {"tree_size": tree_size, "witness": witness.name, "timestamp": cosignature.timestamp}

    def _public_key(self) -> bytes:
        return self.custody.public_key()

    # -- helpers ---------------------------------------------------------------------------------------------

    def _log(
        self,
        session: Session,
        actor: Actor,
        row: EvidenceItem,
        kind: str,
        purpose: str | None,
        details: dict[str, str],
        *,
        previous: bytes | Callable[[], bytes | None] | None = lambda: None,
    ) -> LoggedEvent:
        self.custody.lock(session)  # before reading the item's last leaf: no two events chain to the same one
        prev = self.custody.last_leaf(session, row.id) if callable(previous) else previous
        [event] = self.custody.append(
            session,
            [
                NewEvent(
                    item_id=row.id,
                    kind=kind,
                    at=self._clock.now(),
                    actor=actor.username,
                    party_id=actor.party_id,
                    item_sha256=row.sha256,
                    previous=prev,
                    purpose=purpose,
                    details=details,
                )
            ],
        )
        return event

    def _acting_party(self, actor: Actor) -> str:
        if actor.party_id is None:
            raise InvalidInput("party", "evidence is held by a party; act as one of its users")
        return actor.party_id

    def _visible(self, session: Session, actor: Actor, item_id: str, *, for_update: bool = False) -> EvidenceItem:
        row = session.get(EvidenceItem, item_id, with_for_update=for_update)
        if row is None or (actor.via != "operator" and row.party_id != actor.party_id):
            raise NotFound("evidence item", item_id)
        return row


def _checked_details(details: dict[str, str] | None) -> dict[str, str]:
    details = dict(details or {})
    if len(details) > 20:
        raise InvalidInput("details", "at most 20 entries")
    for key, value in details.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidInput("details", "keys and values must be text")
        _text("details", key, 100, required=True)
        _text("details", value, MAX_SHORT)
    return details
