"""Evidence crossing a border: export to a package, and import of a package received from another node.

Export appends an "exported" event to each item's custody, signs a tree head covering it, and writes the
package with every event's inclusion proof and consistency proofs from the log's earlier heads. Import runs
the offline verifier over the package, storing each evidence file as its bytes are checked (one read), and
only when every step passed registers the items with a "received" event; otherwise the new blobs are removed
and nothing is registered (Convention req. 41: a mismatch blocks the operation).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from accord.audit.service import Disclosure, Outcome
from accord.errors import AccordError, InvalidInput
from accord.evidence import layout
from accord.evidence.blobstore import StoredBlob
from accord.evidence.case_uco import CustodyEventDescription, EvidenceItemDescription, describe_package
from accord.evidence.custody import NewEvent
from accord.evidence.models import CustodyCosignature, EvidenceItem, KnownCheckpoint
from accord.evidence.package import PackageContents, StagedFile, staging_dir, write_package
from accord.evidence.safezip import ZipLimits
from accord.evidence.service import DESTROYED, HELD, EvidenceService, ItemView, check_file_name, item_view
from accord.evidence.verify import KnownCheckpoint as TrustedCheckpoint
from accord.evidence.verify import PackageReport, verify_package
from accord.identity.actor import Actor
from accord.identity.node_keys import NodeKeys
from accord.identity.vocabulary import Permission

MAX_PACKAGE_ITEMS = 10_000
MAX_EARLIER_HEADS = 10_000  # consistency proofs carried from the most recent earlier heads (about 1.3 KB each)
_ITEM_ID = re.compile(r"^evidence-item--[0-9a-f-]{36}$")


class PackageRejected(AccordError):
    """A received package failed verification; nothing of it was kept."""

    def __init__(self, report: PackageReport) -> None:
        self.report = report
        failed = report.first_failure()
        reason = failed.line(len(report.steps)) if failed else "verification failed"
        super().__init__(f"package rejected: {reason}")


@dataclass(frozen=True)
class ExportResult:
    package_id: str
    path: Path
    sha256: str
    items: list[str]
    tree_size: int
    events: int


@dataclass(frozen=True)
class ImportResult:
    package_id: str
    origin_node_id: str
    items: list[ItemView]
    report: PackageReport


class EvidencePackages:
    def __init__(self, evidence: EvidenceService, keys: Callable[[], NodeKeys], limits: ZipLimits) -> None:
        self._evidence = evidence
        self._keys = keys
        self.limits = limits

    # -- export ----------------------------------------------------------------------------------------------

    def export(
        self,
        actor: Actor,
        target: Path,
        disclosure: Disclosure,
        *,
        item_ids: Iterable[str] = (),
        case_reference: str | None = None,
        recipient: str | None = None,
    ) -> ExportResult:
        ev = self._evidence
        ev._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        if not disclosure.purpose:
            raise InvalidInput("purpose", "say why the evidence is exported")
        if recipient is not None and len(recipient) > 200:
            raise InvalidInput("recipient", "at most 200 characters")
        rows = self._selected(actor, list(item_ids), case_reference)
        for row in rows:
            ev.recheck_blob(row.sha256)  # req. 41: re-hash before anything is recorded
        package_id = ev._ids.new_id("evidence-package")
        now = ev._clock.now()
        keys = self._keys()
        with ev._db.writing() as session:
            ev.custody.lock(session)  # before reading each item's last leaf (see CustodyLog.lock)
            for row in rows:
                current = session.get(EvidenceItem, row.id)
                if current is None or current.state == DESTROYED or current.sha256 != row.sha256:
                    raise InvalidInput("items", f"item {row.id} changed while it was re-hashed; export again")
            exported = []
            for row in rows:
                exported.extend(
                    ev.custody.append(
                        session,
                        [
                            NewEvent(
                                item_id=row.id,
                                kind="exported",
                                at=now,
                                actor=actor.username,
                                party_id=actor.party_id,
                                item_sha256=row.sha256,
                                previous=ev.custody.last_leaf(session, row.id),
                                purpose=disclosure.purpose,
                                details={"package_id": package_id, "recipient": recipient or ""},
                            )
                        ],
                    )
                )
            signed = ev.custody.sign_checkpoint(session)
            size = signed.checkpoint.tree_size
            events = ev.custody.events_of(session, [row.id for row in rows])
            proofs = ev.custody.inclusion_proofs(session, [e.seq for e in events], size)
            custody = {
                "origin": ev.custody.origin,
                "tree_size": size,
                "events": [
                    {
                        "index": e.seq,
                        "body": e.body,
                        "leaf_hash": e.leaf_hash.hex(),
                        "inclusion_proof": [h.hex() for h in proofs[e.seq]],
                    }
                    for e in events
                ],
            }
            earlier = [cp for cp in ev.custody.checkpoints(session, up_to=size - 1) if cp.tree_size > 0]
            earlier = earlier[-MAX_EARLIER_HEADS:]
            head_proofs = ev.custody.consistency_proofs(session, [cp.tree_size for cp in earlier], size)
            lines_by_size: dict[int, list[str]] = {}
            for tree_size, line in session.execute(
                select(CustodyCosignature.tree_size, CustodyCosignature.line)
                .where(CustodyCosignature.tree_size <= size)
                .order_by(CustodyCosignature.tree_size, CustodyCosignature.witness_name)
            ):
                lines_by_size.setdefault(tree_size, []).append(line)
            consistency = {
                "tree_size": size,
                "earlier": [
                    {
                        "tree_size": cp.tree_size,
                        "root_hash": bytes(cp.root_hash).hex(),
                        "signed_note": cp.signed_note,
                        "proof": [h.hex() for h in head_proofs[cp.tree_size]],
                        "cosignatures": lines_by_size.get(cp.tree_size, []),
                    }
                    for cp in earlier
                ],
            }
            cosignatures = lines_by_size.get(size, [])
            note = signed.note + "".join(line + "\n" for line in cosignatures)
            party = ev._identity.parties_by_id({actor.party_id} if actor.party_id else set())
            ev._audit.append(
                session,
                actor.audit_ref(),
                "evidence.export",
                object_type="evidence-package",
                object_id=package_id,
                disclosure=disclosure,
                details={"items": [row.id for row in rows], "recipient": recipient, "tree_size": size},
            )
            by_item: dict[str, list[int]] = {}
            for e in events:
                by_item.setdefault(e.item_id, []).append(e.seq)
            party_document = _party_document(party.get(actor.party_id or ""))
            statement: dict[str, Any] = {
                "format": layout.FORMAT,
                "package_id": package_id,
                "created_at": now.isoformat(),
                "created_by": actor.username,
                "node_id": keys.node_id,
                "origin": ev.custody.origin,
                "party": party_document,
                "purpose": disclosure.purpose,
                "legal_basis": disclosure.legal_basis,
                "recipient": recipient,
                "checkpoint": {"tree_size": size, "root_hash": signed.checkpoint.root_hash.hex()},
                "items": [_item_document(item_view(row), by_item[row.id]) for row in rows],
            }
            case_uco = describe_package(
                [_description(item_view(row), str(party_document["name"])) for row in rows],
                [_event_description(e.seq, e.document()) for e in events],
                package_id=package_id,
                node_id=keys.node_id,
            )
            contents = PackageContents(
                statement=statement,
                custody=custody,
                checkpoint_note=note,
                consistency=consistency,
                node_vkey=ev.custody.vkey(),
                case_uco=case_uco,
                bag_info={
                    "Source-Organization": str(party_document["name"]),
                    "External-Identifier": package_id,
                    "External-Description": f"Accord evidence package: {len(rows)} item(s)",
                    "Contact-Name": actor.username,
                    "Accord-Node": keys.node_id,
                    "Accord-Format": layout.FORMAT,
                },
            )
            files = [
                StagedFile(row.id, layout.item_path(row.id, row.file_name), ev.blobs.local_path(row.sha256), row.sha256)
                for row in rows
            ]
        # The events and the signed head are committed first and the package is written after, outside the
        # transaction: a 10 GB export must not hold the database's write lock (SQLite has one writer) for
        # minutes. If writing fails, the failure is audited; the "exported" events then name a package that
        # was never delivered, which the audit entry explains.
        try:
            with staging_dir(target.parent / ".accord-staging") as staging:
                digest = write_package(staging, target, files, contents, keys.sign)
        except BaseException as exc:
            ev._audit.record(
                actor.audit_ref(),
                "evidence.export",
                object_type="evidence-package",
                object_id=package_id,
                disclosure=disclosure,
                outcome=Outcome.FAILED,
                details={"failure": f"{type(exc).__name__}: {exc}"[:300]},
            )
            raise
        return ExportResult(package_id, target, digest, [row.id for row in rows], size, len(events))

    def _selected(self, actor: Actor, item_ids: list[str], case_reference: str | None) -> list[EvidenceItem]:
        ev = self._evidence
        if bool(item_ids) == bool(case_reference):
            raise InvalidInput("items", "name either items or one case")
        if len(item_ids) > MAX_PACKAGE_ITEMS:
            raise InvalidInput("items", f"at most {MAX_PACKAGE_ITEMS} items per package")
        with ev._db.reading() as session:
            if case_reference:
                statement = select(EvidenceItem).where(
                    EvidenceItem.case_reference == case_reference, EvidenceItem.state != DESTROYED
                )
                if actor.via != "operator":
                    statement = statement.where(EvidenceItem.party_id == actor.party_id)
                rows = list(session.scalars(statement.order_by(EvidenceItem.registered_at, EvidenceItem.id)))
                if not rows:
                    raise InvalidInput("case", f"no evidence held in case {case_reference!r}")
                if len(rows) > MAX_PACKAGE_ITEMS:
                    raise InvalidInput("case", f"more than {MAX_PACKAGE_ITEMS} items; export them in parts")
            else:
                rows = [ev._visible(session, actor, item_id) for item_id in dict.fromkeys(item_ids)]
            for row in rows:
                if row.state == DESTROYED:
                    raise InvalidInput("items", f"item {row.id} was destroyed; only its record remains")
            session.expunge_all()
            return rows

    # -- verification and import -----------------------------------------------------------------------------

    def known_checkpoints(self) -> list[TrustedCheckpoint]:
        ev = self._evidence
        with ev._db.reading() as session:
            rows = session.scalars(select(KnownCheckpoint).order_by(KnownCheckpoint.origin, KnownCheckpoint.tree_size))
            return [TrustedCheckpoint(r.signed_note, r.origin, bytes(r.public_key)) for r in rows.all()]

    def import_package(
        self, actor: Actor, path: Path, disclosure: Disclosure, *, expected_node: str | None = None
    ) -> ImportResult:
        ev = self._evidence
        ev._identity.authorize(actor, Permission.HANDLE_EVIDENCE)
        party_id = ev._acting_party(actor)
        if not disclosure.purpose:
            raise InvalidInput("purpose", "say why the evidence is received")
        stored: list[StoredBlob] = []

        def sink(name: str, chunks: Iterable[bytes]) -> None:
            stored.append(ev.blobs.put(chunks, max_bytes=ev.max_item_bytes))

        report: PackageReport | None = None
        try:
            report = verify_package(path, limits=self.limits, known=self.known_checkpoints(), sink=sink)
            if not report.ok:
                raise PackageRejected(report)
            self._check_sender(report, expected_node)
            return self._register_received(actor, party_id, report, disclosure, stored)
        except BaseException as exc:
            # Nothing of a refused package stays: the files this import stored go (files other items hold stay).
            for blob in stored:
                if blob.created:
                    self._delete_if_unused(blob.sha256)
            failed = report.first_failure() if report is not None else None
            ev._audit.record(
                actor.audit_ref(),
                "evidence.import",
                object_type="evidence-package",
                object_id=str(((report.statement if report else None) or {}).get("package_id")),
                disclosure=disclosure,
                outcome=Outcome.FAILED,
                details={"failure": failed.line(len(report.steps)) if failed and report else str(exc)[:300]},
            )
            raise

    def _check_sender(self, report: PackageReport, expected_node: str | None) -> None:
        """The package's key must be a peer's, or the node the importer says they expect: a package cannot vouch
        for its own key (anyone can sign one)."""
        node_id = report.node_id or ""
        if expected_node is not None:
            if node_id != expected_node:
                raise InvalidInput("expected_node", f"the package is signed by {node_id}, not by {expected_node}")
            return
        from accord.federation.models import Peer

        with self._evidence._db.reading() as session:
            peer = session.get(Peer, node_id)
        if peer is None or peer.status != "active":
            raise InvalidInput(
                "expected_node",
                f"the package is signed by {node_id}, which is not an active peer of this node; check that id with "
                "the sender and give it as the expected node",
            )

    def _delete_if_unused(self, sha256: str) -> None:
        ev = self._evidence
        with ev._db.reading() as session:
            used = session.scalar(select(EvidenceItem.id).where(EvidenceItem.sha256 == sha256).limit(1))
        if used is None:
            ev.blobs.delete(sha256)

    def _register_received(
        self, actor: Actor, party_id: str, report: PackageReport, disclosure: Disclosure, stored: list[StoredBlob]
    ) -> ImportResult:
        ev = self._evidence
        statement, checkpoint = report.statement, report.checkpoint
        assert statement is not None and checkpoint is not None and report.public_key is not None  # noqa: S101
        origin_node = str(statement["node_id"])
        if origin_node == self._keys().node_id:
            raise InvalidInput("package", "this package was made by this node; it is already here")
        record = {
            "statement": statement,
            "checkpoint": report.checkpoint_note,
            "custody": [{k: v for k, v in e.items() if not k.startswith("_")} for e in report.custody],
        }
        items = [_checked_item(item) for item in statement["items"]]
        record_blob = ev.blobs.put([json.dumps(record, sort_keys=True).encode()], max_bytes=ev.max_item_bytes)
        stored.append(record_blob)
        now = ev._clock.now()
        views = []
        with ev._db.writing() as session:
            for item in items:
                item_id = str(item["id"])
                if session.get(EvidenceItem, item_id) is not None:
                    raise InvalidInput("package", f"item {item_id} is already held by this node")
                row = EvidenceItem(
                    id=item_id,
                    party_id=party_id,
                    case_reference=_short(item.get("case_reference"), 200),
                    exhibit_number=_short(item.get("exhibit_number"), 100),
                    request_id=_short(item.get("request_id"), 64) or None,
                    parent_item_id=None,
                    sha256=str(item["sha256"]),
                    size_bytes=item["size_bytes"],
                    media_type=_short(item.get("media_type"), 200) or "application/octet-stream",
                    file_name=str(item["file_name"]),
                    description=_short(item.get("description"), 10_000),
                    source_kind=_short(item.get("source_kind"), 32),
                    collector=_short(item.get("collector"), 200),
                    collected_at=item["collected_at"],
                    place=_short(item.get("place"), 500) or None,
                    legal_basis=_short(item.get("legal_basis"), 500) or None,
                    use_conditions=_short(item.get("use_conditions"), 10_000) or None,
                    origin_node_id=origin_node,
                    origin_record_sha256=record_blob.sha256,
                    state=HELD,
                    registered_at=now,
                    registered_by=actor.username,
                )
                session.add(row)
                session.flush()
                ev.custody.append(
                    session,
                    [
                        NewEvent(
                            item_id=item_id,
                            kind="received",
                            at=now,
                            actor=actor.username,
                            party_id=party_id,
                            item_sha256=row.sha256,
                            previous=None,
                            purpose=disclosure.purpose,
                            details={
                                "from_node": origin_node,
                                "package_id": str(statement["package_id"]),
                                "origin_tree_size": str(checkpoint.tree_size),
                                "origin_root_hash": checkpoint.root_hash.hex(),
                                "origin_events": ",".join(str(i) for i in item["events"]),
                            },
                        )
                    ],
                )
                views.append(item_view(row))
            if session.get(KnownCheckpoint, (checkpoint.origin, checkpoint.tree_size)) is None:
                session.add(
                    KnownCheckpoint(
                        origin=checkpoint.origin,
                        tree_size=checkpoint.tree_size,
                        root_hash=checkpoint.root_hash,
                        signed_note=report.checkpoint_note,
                        public_key=report.public_key,
                        seen_at=now,
                    )
                )
            ev._audit.append(
                session,
                actor.audit_ref(),
                "evidence.import",
                object_type="evidence-package",
                object_id=str(statement["package_id"]),
                disclosure=disclosure,
                details={"from_node": origin_node, "items": [v.id for v in views]},
            )
        return ImportResult(str(statement["package_id"]), origin_node, views, report)


def _checked_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item of a verified package, checked before anything is written: the signature says who sent it, not
    that its fields fit this node's rules."""
    item_id = str(item.get("id"))
    if not _ITEM_ID.match(item_id):
        raise InvalidInput("package", f"item id {item_id[:80]!r} is not an Accord evidence item id")
    size = item.get("size_bytes")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput("package", f"item {item_id}: size_bytes is not a number of bytes")
    check_file_name(str(item.get("file_name")))
    if not re.fullmatch(r"[0-9a-f]{64}", str(item.get("sha256"))):
        raise InvalidInput("package", f"item {item_id}: sha256 is not a SHA-256")
    try:
        collected = datetime.fromisoformat(str(item.get("collected_at")))
    except ValueError:
        raise InvalidInput("package", f"item {item_id}: collected_at is not a time") from None
    if collected.tzinfo is None:
        raise InvalidInput("package", f"item {item_id}: collected_at has no UTC offset")
    if not isinstance(item.get("events"), list):
        raise InvalidInput("package", f"item {item_id}: no custody event indexes")
    return {**item, "collected_at": collected}


def _short(value: Any, limit: int) -> str:
    text = "" if value is None else str(value)
    if len(text) > limit:
        raise InvalidInput("package", f"a field is longer than {limit} characters")
    return text


def _party_document(party: Any) -> dict[str, Any]:
    if party is None:
        return {"id": None, "name": "node operator", "country": None}
    return {"id": party.id, "name": party.name, "country": party.country}


def _item_document(item: ItemView, events: list[int]) -> dict[str, Any]:
    return {
        "id": item.id,
        "path": layout.item_path(item.id, item.file_name),
        "file_name": item.file_name,
        "sha256": item.sha256,
        "size_bytes": item.size_bytes,
        "media_type": item.media_type,
        "case_reference": item.case_reference,
        "exhibit_number": item.exhibit_number,
        "description": item.description,
        "source_kind": item.source_kind,
        "collector": item.collector,
        "collected_at": item.collected_at.isoformat(),
        "place": item.place,
        "legal_basis": item.legal_basis,
        "request_id": item.request_id,
        "use_conditions": item.use_conditions,
        "parent_item_id": item.parent_item_id,
        "origin_node_id": item.origin_node_id,
        "events": events,
    }


def _description(item: ItemView, party_name: str) -> EvidenceItemDescription:
    return EvidenceItemDescription(
        id=item.id,
        file_name=item.file_name,
        sha256=item.sha256,
        size_bytes=item.size_bytes,
        media_type=item.media_type,
        description=item.description,
        source_kind=item.source_kind,
        collector=item.collector,
        collector_party=party_name,
        collected_at=item.collected_at,
        place=item.place,
        legal_basis=item.legal_basis,
        case_reference=item.case_reference,
        exhibit_number=item.exhibit_number,
        parent_item_id=item.parent_item_id,
    )


def _event_description(index: int, document: dict[str, Any]) -> CustodyEventDescription:
    return CustodyEventDescription(
        index=index,
        item_id=str(document["item"]),
        kind=str(document["kind"]),
        actor=str(document["actor"]),
        actor_party=str(document.get("party") or ""),
        at=datetime.fromisoformat(str(document["at"]).replace("Z", "+00:00")),
        purpose=document.get("purpose"),
        details={str(k): str(v) for k, v in (document.get("details") or {}).items()},
    )
