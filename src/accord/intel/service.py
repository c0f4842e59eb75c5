"""The intelligence store: import STIX 2.1, read it back under TLP 2.0, search by any identifier.

Every read path goes through ``_visible`` (markings) and writes an audit entry, because STIX objects
about scams carry personal data (victims' and suspects' phone numbers and accounts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from accord.audit.service import AuditLog, Disclosure
from accord.canonical_json import canonical_bytes
from accord.clock import Clock
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity import validation
from accord.identity.actor import Actor
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.intel import misp
from accord.intel.collections import ObjectFilter, StoredVersion, versions_statement
from accord.intel.ingest import Accepted, check_batch
from accord.intel.markings import Audience
from accord.intel.models import ImportStatus, IntelObject, Observable, Posting, SharingGroup, SharingGroupMember
from accord.intel.normalise import InvalidIdentifier, detect, normalise
from accord.intel.tabular import ColumnMap, rows_to_objects
from accord.intel.vocabulary import MARKING_ID_FOR, Tlp
from accord.store.bulk import insert_missing, upsert
from accord.store.engine import Database

BATCH = 500  # objects per transaction: big enough for executemany, small enough to keep locks short
MAX_SEARCH_HITS = 200
MAX_EXPORT = 100_000


@dataclass(frozen=True)
class IntelPolicy:
    default_tlp: Tlp
    amber_audience: tuple[str, ...]
    node_country: str | None = None  # the region for national-format phone numbers when the caller has none


@dataclass
class ImportReport:
    """Per-object outcome, shaped like a TAXII 2.1 status resource (successes, failures, pendings)."""

    total: int = 0
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    duplicates: int = 0

    @property
    def status(self) -> str:
        return "complete"


@dataclass(frozen=True)
class SearchHit:
    stix_id: str
    stix_type: str
    tlp: str
    owner_party_id: str
    country: str
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class SearchResult:
    kind: str
    canonical: str
    hits: list[SearchHit]


class IntelService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        ids: IdSource,
        audit: AuditLog,
        identity: IdentityService,
        policy: IntelPolicy,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = ids
        self._audit = audit
        self._identity = identity
        self._policy = policy

    # -- import -------------------------------------------------------------------------------------------

    def import_objects(
        self,
        actor: Actor,
        objects: Iterable[Any],
        *,
        tlp: Tlp | None = None,
        owner: str | None = None,
        sharing_group: str | None = None,
        source: str,
    ) -> ImportReport:
        """Check and store objects in batches. Objects without a TLP marking get ``tlp`` (or the node default).

        The owner is the caller's party (the local operator must name one). With ``sharing_group`` (name or id,
        of a group the owner belongs to) the objects are seen by that group's members instead of the TLP
        community. Duplicates (same id and modified) are no-ops. Raises PermissionDenied, NotFound, InvalidInput.
        """
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        owner_key = owner or actor.party_id
        if owner_key is None:
            raise InvalidInput("party", "say which party owns this intelligence")
        if owner and actor.via != "operator" and owner not in {actor.party_id, actor.party_name}:
            raise InvalidInput("party", "you can only submit for your own party")
        party = self._identity.get_party(owner_key)
        group = self._group_for(party.id, sharing_group) if sharing_group else None
        report = ImportReport()
        batch: list[Any] = []
        for candidate in objects:
            batch.append(candidate)
            if len(batch) >= BATCH:
                self._import_batch(batch, tlp or self._policy.default_tlp, party.id, party.country, group, report)
                batch = []
        if batch:
            self._import_batch(batch, tlp or self._policy.default_tlp, party.id, party.country, group, report)
        self._audit.record(
            actor.audit_ref(),
            "intel.import",
            object_type="party",
            object_id=party.id,
            details={
                "source": source[:200],
                "total": report.total,
                "stored": len(report.successes) - report.duplicates,
                "duplicates": report.duplicates,
                "failed": len(report.failures),
            },
        )
        return report

    def _import_batch(
        self, batch: list[Any], default_tlp: Tlp, owner: str, country: str, group: str | None, report: ImportReport
    ) -> None:
        now = self._clock.now()
        checked = check_batch(batch, default_tlp, country, now)
        report.total += len(batch)
        report.failures += [{"id": object_id, "message": reason} for object_id, reason in checked.failures]
        if not checked.accepted:
            return
        with self._db.writing() as session:
            fresh = self._new_versions(session, checked.accepted)
            report.duplicates += len(checked.accepted) - len(fresh)
            for item in checked.accepted:
                report.successes.append({"id": item.checked.stix_id, "version": item.checked.modified})
            if not fresh:
                return
            session.execute(
                insert(IntelObject),
                [
                    {
                        "stix_id": a.checked.stix_id,
                        "stix_type": a.checked.stix_type,
                        "spec_version": a.checked.spec_version,
                        "modified": a.checked.modified,
                        "modified_at": a.checked.modified_at,
                        "revoked": a.checked.revoked,
                        "is_latest": False,
                        "tlp": str(a.tlp),
                        "owner_party_id": owner,
                        "sharing_group_id": group,
                        "added_at": now,
                        "content": canonical_bytes(a.checked.content).decode(),
                    }
                    for a in fresh
                ],
            )
            ids = sorted({a.checked.stix_id for a in fresh})
            self._mark_latest(session, ids)
            self._index(session, fresh, owner, country, group, now)

    @staticmethod
    def _new_versions(session: Session, accepted: list[Accepted]) -> list[Accepted]:
        keys = {(a.checked.stix_id, a.checked.modified) for a in accepted}
        ids = sorted({stix_id for stix_id, _ in keys})
        stored = session.execute(select(IntelObject.stix_id, IntelObject.modified).where(IntelObject.stix_id.in_(ids)))
        fresh: list[Accepted] = []
        seen: set[tuple[str, str]] = {(row[0], row[1]) for row in stored}
        for item in accepted:
            key = (item.checked.stix_id, item.checked.modified)
            if key not in seen:
                seen.add(key)
                fresh.append(item)
        return fresh

    @staticmethod
    def _mark_latest(session: Session, ids: list[str]) -> None:
        """Exactly one version per id is the latest: the greatest ``modified`` (one read and two updates a batch)."""
        newest: dict[str, tuple[Any, int]] = {}
        rows = session.execute(
            select(IntelObject.seq, IntelObject.stix_id, IntelObject.modified_at).where(IntelObject.stix_id.in_(ids))
        )
        for seq, stix_id, modified_at in rows:
            best = newest.get(stix_id)
            if best is None or (modified_at, seq) > best:
                newest[stix_id] = (modified_at, seq)
        session.execute(update(IntelObject).where(IntelObject.stix_id.in_(ids)).values(is_latest=False))
        latest = [seq for _at, seq in newest.values()]
        session.execute(update(IntelObject).where(IntelObject.seq.in_(latest)).values(is_latest=True))

    def _index(
        self, session: Session, fresh: list[Accepted], owner: str, country: str, group: str | None, now: Any
    ) -> None:
        pairs = {(i.kind, i.value) for a in fresh for i in a.identifiers}
        if not pairs:
            return
        insert_missing(session, Observable, [{"kind": k, "value": v} for k, v in sorted(pairs)], ["kind", "value"])
        by_pair: dict[tuple[str, str], int] = {}
        for kind in {k for k, _ in pairs}:
            values = [v for k, v in pairs if k == kind]
            for observable_id, value in session.execute(
                select(Observable.id, Observable.value).where(Observable.kind == kind, Observable.value.in_(values))
            ):
                by_pair[(kind, value)] = observable_id
        rows = {}
        for item in fresh:
            for ident in item.identifiers:
                key = (by_pair[(ident.kind, ident.value)], item.checked.stix_id)
                rows[key] = {
                    "observable_id": key[0],
                    "stix_id": key[1],
                    "owner_party_id": owner,
                    "country": country,
                    "tlp": str(item.tlp),
                    "sharing_group_id": group,
                    "raw": ident.raw,
                    "first_seen": now,
                    "last_seen": now,
                }
        upsert(
            session,
            Posting,
            list(rows.values()),
            ["observable_id", "stix_id"],
            ["tlp", "sharing_group_id", "last_seen"],
        )

    # -- reads (every one filtered by markings and audited) -------------------------------------------------

    @property
    def amber_audience(self) -> tuple[str, ...]:
        return self._policy.amber_audience

    def audience(self, actor: Actor) -> Audience:
        """What ``actor`` may see (markings.py holds the rule); one query for their sharing groups."""
        groups: list[str] = []
        if actor.party_id is not None:
            with self._db.reading() as session:
                groups = list(
                    session.scalars(
                        select(SharingGroupMember.group_id).where(SharingGroupMember.party_id == actor.party_id)
                    )
                )
        return Audience.of(actor, self._policy.amber_audience, groups)

    def get_object(
        self, actor: Actor, stix_id: str, disclosure: Disclosure, version: str | None = None
    ) -> dict[str, Any]:
        """The latest (or the given) version. An object the actor may not see is NotFound, like a missing one."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        if len(stix_id) > 300:
            raise NotFound("object", stix_id[:80])
        audience = self.audience(actor)
        with self._db.writing() as session:
            statement = select(IntelObject).where(IntelObject.stix_id == stix_id)
            statement = (
                statement.where(IntelObject.modified == version)
                if version is not None
                else statement.where(IntelObject.is_latest.is_(True))
            )
            row = session.scalars(statement).first()
            if row is None or not audience.allows(row.owner_party_id, row.tlp, row.sharing_group_id):
                raise NotFound("object", stix_id)
            self._audit.append(
                session,
                actor.audit_ref(),
                "intel.read",
                object_type=row.stix_type,
                object_id=stix_id,
                disclosure=disclosure,
            )
            content: dict[str, Any] = json.loads(row.content)
            return content

    def tlp_of(self, actor: Actor, stix_id: str, version: str | None = None) -> str:
        """The TLP of a version the actor may see (for display). Raises NotFound, PermissionDenied."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        with self._db.reading() as session:
            statement = select(IntelObject.tlp, IntelObject.owner_party_id, IntelObject.sharing_group_id).where(
                IntelObject.stix_id == stix_id[:300]
            )
            statement = (
                statement.where(IntelObject.modified == version)
                if version is not None
                else statement.where(IntelObject.is_latest.is_(True))
            )
            row = session.execute(statement).first()
        if row is None or not self.audience(actor).allows(row.owner_party_id, row.tlp, row.sharing_group_id):
            raise NotFound("object", stix_id[:80])
        return str(row.tlp)

    def versions(self, actor: Actor, stix_id: str) -> list[str]:
        """Every stored version of a visible object, oldest first."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        with self._db.reading() as session:
            rows = session.execute(
                select(IntelObject.modified, IntelObject.owner_party_id, IntelObject.tlp, IntelObject.sharing_group_id)
                .where(IntelObject.stix_id == stix_id[:300])
                .order_by(IntelObject.modified_at, IntelObject.seq)
            ).all()
        audience = self.audience(actor)
        visible = [modified for modified, owner, tlp, group in rows if audience.allows(owner, tlp, group)]
        if not visible:
            raise NotFound("object", stix_id[:80])
        return visible

    def search(self, actor: Actor, raw: str, disclosure: Disclosure, kind: str | None = None) -> SearchResult:
        """Normalise ``raw`` (typed or detected) and list the visible objects that hold it.

        Raises InvalidIdentifier when the value does not parse, PermissionDenied.
        """
        self._identity.authorize(actor, Permission.READ_INTEL)
        region = actor.country or self._policy.node_country
        canonical = normalise(kind, raw, default_region=region) if kind else detect(raw, default_region=region)
        audience = self.audience(actor)
        with self._db.writing() as session:
            statement = (
                select(Posting, IntelObject.stix_type)
                .join(Observable, Observable.id == Posting.observable_id)
                .join(IntelObject, and_(IntelObject.stix_id == Posting.stix_id, IntelObject.is_latest.is_(True)))
                .where(Observable.kind == str(canonical.kind), Observable.value == canonical.value)
                .where(IntelObject.revoked.is_(False))
                .order_by(Posting.last_seen.desc())
            )
            statement = statement.where(
                audience.condition(Posting.owner_party_id, Posting.tlp, Posting.sharing_group_id)
            )
            hits = [
                SearchHit(
                    stix_id=posting.stix_id,
                    stix_type=stix_type,
                    tlp=posting.tlp,
                    owner_party_id=posting.owner_party_id,
                    country=posting.country,
                    first_seen=posting.first_seen.isoformat(),
                    last_seen=posting.last_seen.isoformat(),
                )
                for posting, stix_type in session.execute(statement.limit(MAX_SEARCH_HITS))
            ]
            self._audit.append(
                session,
                actor.audit_ref(),
                "intel.search",
                object_type=str(canonical.kind),
                disclosure=disclosure,
                details={"hits": len(hits)},
            )
        return SearchResult(kind=str(canonical.kind), canonical=canonical.value, hits=hits)

    def export(
        self, actor: Actor, disclosure: Disclosure, *, types: list[str] | None = None, limit: int = MAX_EXPORT
    ) -> Iterator[dict[str, Any]]:
        """Latest versions the actor may see, as STIX objects, oldest added first (for a bundle)."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        if not 1 <= limit <= MAX_EXPORT:
            raise InvalidInput("limit", f"between 1 and {MAX_EXPORT}")
        self._audit.record(
            actor.audit_ref(),
            "intel.export",
            object_type="bundle",
            disclosure=disclosure,
            details={"types": types or [], "limit": limit},
        )
        statement = select(IntelObject.content).where(IntelObject.is_latest.is_(True)).order_by(IntelObject.seq)
        if types:
            statement = statement.where(IntelObject.stix_type.in_(types[:50]))
        audience = self.audience(actor)
        statement = statement.where(
            audience.condition(IntelObject.owner_party_id, IntelObject.tlp, IntelObject.sharing_group_id)
        )
        return self._stream(statement.limit(limit))

    def _stream(self, statement: Any) -> Iterator[dict[str, Any]]:
        with self._db.reading() as session:
            for (content,) in session.execute(statement):
                yield json.loads(content)

    # -- sharing groups -------------------------------------------------------------------------------------

    def create_sharing_group(self, actor: Actor, name: str, parties: Iterable[str]) -> dict[str, Any]:
        """A named set of parties to share with. Raises InvalidInput, AlreadyExists, NotFound, PermissionDenied."""
        self._identity.authorize(actor, Permission.MANAGE_PARTIES)
        label = validation.clean_text("name", name)
        members = sorted({self._identity.get_party(key).id for key in parties})
        if not members:
            raise InvalidInput("party", "a sharing group needs at least one member party")
        group_id = self._ids.new_id("sharing-group")
        with self._db.writing() as session:
            if session.scalar(select(SharingGroup.id).where(SharingGroup.name == label)):
                raise AlreadyExists("sharing group", label)
            session.add(SharingGroup(id=group_id, name=label, created_at=self._clock.now()))
            session.flush()
            session.add_all([SharingGroupMember(group_id=group_id, party_id=p) for p in members])
            self._audit.append(
                session,
                actor.audit_ref(),
                "sharing_group.create",
                object_type="sharing_group",
                object_id=group_id,
                details={"name": label, "parties": members},
            )
        return {"id": group_id, "name": label, "parties": members}

    def list_sharing_groups(self, actor: Actor) -> list[dict[str, Any]]:
        """Groups the actor's party belongs to (all of them for admins and the operator)."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        everything = actor.holds(Permission.MANAGE_PARTIES)
        with self._db.reading() as session:
            groups = session.scalars(select(SharingGroup).order_by(SharingGroup.name)).all()
            members = session.execute(select(SharingGroupMember.group_id, SharingGroupMember.party_id)).all()
        by_group: dict[str, list[str]] = {}
        for group_id, party_id in members:
            by_group.setdefault(group_id, []).append(party_id)
        return [
            {"id": g.id, "name": g.name, "parties": sorted(by_group.get(g.id, []))}
            for g in groups
            if everything or actor.party_id in by_group.get(g.id, [])
        ]

    def _group_for(self, party_id: str, key: str) -> str:
        with self._db.reading() as session:
            group = session.scalar(select(SharingGroup).where(or_(SharingGroup.id == key, SharingGroup.name == key)))
            if group is None:
                raise NotFound("sharing group", key[:80])
            member = session.get(SharingGroupMember, (group.id, party_id))
        if member is None:
            raise InvalidInput("sharing_group", f"the owning party is not a member of {group.name!r}")
        return group.id

    # -- CSV ----------------------------------------------------------------------------------------------

    def import_identifiers(
        self,
        actor: Actor,
        lines: Iterable[str],
        columns: ColumnMap,
        *,
        tlp: Tlp | None = None,
        owner: str | None = None,
        source: str,
    ) -> ImportReport:
        """Import a CSV of identifiers (one per row, see ``tabular``). Rows that do not normalise are reported
        as failures named ``line N``. Raises InvalidInput (column map), PermissionDenied, NotFound."""
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        party = self._identity.get_party(owner or actor.party_id or "")
        level = tlp or self._policy.default_tlp
        bad_rows: list[dict[str, str]] = []

        def objects() -> Iterator[dict[str, Any]]:
            rows = rows_to_objects(lines, columns, party.id, party.country, self._clock.now(), [MARKING_ID_FOR[level]])
            for item in rows:
                if isinstance(item, tuple):
                    bad_rows.append({"id": f"line {item[0]}", "message": item[1]})
                else:
                    yield item

        report = self.import_objects(actor, objects(), tlp=level, owner=party.id, source=source)
        report.total += len(bad_rows)
        report.failures = bad_rows + report.failures
        return report

    # -- MISP ---------------------------------------------------------------------------------------------

    def import_misp_event(
        self, actor: Actor, document: Any, *, tlp: Tlp | None = None, owner: str | None = None, source: str
    ) -> tuple[ImportReport, list[dict[str, str]]]:
        """Convert a MISP event to STIX and import it; returns the report and the attributes with no STIX
        equivalent. Raises InvalidBundle, PermissionDenied, NotFound, InvalidInput."""
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        converted = misp.event_to_stix(document, self._clock.now())
        report = self.import_objects(actor, converted.objects, tlp=tlp, owner=owner, source=source)
        return report, converted.skipped

    def export_misp_event(self, actor: Actor, disclosure: Disclosure, types: list[str] | None = None) -> dict[str, Any]:
        """The indicators the actor may see, as one MISP event (audited as an export)."""
        objects = self.export(actor, disclosure, types=types or ["indicator"])
        now = self._clock.now()
        event_uuid = self._ids.new_id("event").removeprefix("event--")
        return misp.stix_to_event(objects, f"Accord export {now:%Y-%m-%d %H:%M}Z", now, event_uuid)

    # -- collections (TAXII) -------------------------------------------------------------------------------

    def collection_page(
        self, actor: Actor, flt: ObjectFilter, disclosure: Disclosure
    ) -> tuple[list[StoredVersion], bool]:
        """One page of object versions in a TLP collection, oldest added first; True when more follow."""
        self._identity.authorize(actor, Permission.READ_INTEL)
        audience = self.audience(actor)
        with self._db.writing() as session:
            rows = session.execute(versions_statement(audience, flt)).all()
            more = len(rows) > flt.limit
            page = [
                StoredVersion(seq, stix_id, modified, added, content)
                for seq, stix_id, modified, added, content in rows[: flt.limit]
            ]
            self._audit.append(
                session,
                actor.audit_ref(),
                "intel.collection.read",
                object_type="collection",
                object_id=str(flt.tlp),
                disclosure=disclosure,
                details={"objects": len(page)},
            )
        return page, more

    def save_status(self, actor: Actor, status_id: str, body: dict[str, Any]) -> None:
        if actor.party_id is None:
            raise InvalidInput("party", "only users of a party import over TAXII")
        with self._db.writing() as session:
            session.add(
                ImportStatus(id=status_id, party_id=actor.party_id, created_at=self._clock.now(), body=json.dumps(body))
            )

    def get_status(self, actor: Actor, status_id: str) -> dict[str, Any]:
        """A status resource of an import by the caller's party. Raises NotFound."""
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        with self._db.reading() as session:
            row = session.get(ImportStatus, status_id[:64])
            if row is None or (actor.via != "operator" and row.party_id != actor.party_id):
                raise NotFound("status", status_id[:80])
            body: dict[str, Any] = json.loads(row.body)
            return body


__all__ = ["ImportReport", "IntelPolicy", "IntelService", "InvalidIdentifier", "SearchResult"]
