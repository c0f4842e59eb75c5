"""The intelligence store: import STIX 2.1, read it back under TLP 2.0, search by any identifier.

Every read path goes through ``_visible`` (markings) and writes an audit entry, because STIX objects
about scams carry personal data (victims' and suspects' phone numbers and accounts).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, text, update
from sqlalchemy.orm import Session

from accord.audit.service import AuditLog, Disclosure, Outcome
from accord.clock import Clock
from accord.errors import AlreadyExists, InvalidInput, NotFound
from accord.identity import validation
from accord.identity.actor import Actor
from accord.identity.epoch import EpochCache
from accord.identity.errors import PermissionDenied
from accord.identity.service import IdentityService
from accord.identity.vocabulary import Permission
from accord.ids import IdSource
from accord.intel import holdings, misp
from accord.intel.collections import MAX_FILTER_VALUES, ObjectFilter, StoredVersion, versions_statement
from accord.intel.ingest import Accepted, Checked
from accord.intel.markings import Audience
from accord.intel.models import (
    STIX_ID_LENGTH,
    ImportStatus,
    IntelObject,
    Observable,
    Posting,
    SharingGroup,
    SharingGroupMember,
)
from accord.intel.normalise import InvalidIdentifier, detect, normalise
from accord.intel.pipeline import CheckerPool, checked_batches
from accord.intel.postings import follow_latest, index_postings
from accord.intel.tabular import ColumnMap, rows_to_objects
from accord.intel.validate import parse_timestamp
from accord.intel.vocabulary import MARKING_ID_FOR, Tlp
from accord.store.bulk import insert_rows
from accord.store.engine import Database

BATCH = 500  # objects per transaction: big enough for executemany, small enough to keep locks short
MAX_SEARCH_HITS = 200
MAX_EXPORT = 100_000
GROUP_LISTS_CACHED = 4096  # parties whose sharing groups a process keeps (per identity epoch)


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


# Which versions a delete picks: "first", "last", "all", or the instant of a version's modified (TAXII 2.1
# section 3.4.2, the match[version] filter; an SCO's one version is named by its date added, as manifests show it).
VersionChoice = str | datetime
VERSION_WORDS = frozenset({"first", "last", "all"})


def parse_versions(field: str, values: Sequence[str]) -> tuple[VersionChoice, ...]:
    """``first``, ``last``, ``all`` or STIX timestamps, as TAXII's match[version] takes them. Raises InvalidInput."""
    if not values or len(values) > MAX_FILTER_VALUES:
        raise InvalidInput(field, f"between 1 and {MAX_FILTER_VALUES} values")
    return tuple(v if v in VERSION_WORDS else parse_timestamp(field, field, v) for v in values)


@dataclass(frozen=True)
class Deletion:
    """What a delete removed (each version's ``modified``) and how many versions of the object are left."""

    stix_id: str
    removed: list[str]
    remaining: int


def _chosen_versions(
    rows: Sequence[Any], versions: Sequence[VersionChoice], tlp: Tlp | None, spec_versions: Sequence[str]
) -> list[Any]:
    """The versions a TAXII read with the same filters returns (``collections.versions_statement``): ``first`` and
    ``last`` are the object's first and latest versions over the whole store, so a collection holds its ``last``
    only when the latest version carries that collection's TLP."""
    first_at = min((row.modified_at for row in rows), default=None)
    instants = {v for v in versions if isinstance(v, datetime)}
    picked = []
    for row in rows:
        if (tlp is not None and row.tlp != str(tlp)) or (spec_versions and row.spec_version not in spec_versions):
            continue
        if (
            "all" in versions
            or ("last" in versions and row.is_latest)
            or ("first" in versions and row.modified_at == first_at)
            or row.modified_at in instants
        ):
            picked.append(row)
    return picked


def _batches(objects: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for candidate in objects:
        batch.append(candidate)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


AfterStore = Callable[[Session, list[Accepted], set[str], str, str | None, datetime], Any]
VERSION_WRITER_LOCK = 0x4143434F5244  # "ACCORD": the advisory lock key of intel_objects writers on PostgreSQL


def _one_version_writer(session: Session) -> None:
    """PostgreSQL: one writer of versions at a time (SQLite's database write lock gives the same). Seq values then
    commit in order (peers' sync positions and TAXII `next` tokens are store positions, and a row committing
    below one already read would be skipped), and the read-modify-write of latest flags and of noisy values'
    holdings (intel.holdings) never interleaves with another import's or deletion's."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": VERSION_WRITER_LOCK})


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
        self._groups_seen: EpochCache[tuple[str, ...]] = EpochCache(GROUP_LISTS_CACHED)
        self._identity = identity
        self._policy = policy
        self._checkers = CheckerPool()  # bulk imports' checker processes, kept until close()
        # Called in the transaction of every stored batch with its new versions (fresh, ids known before, owner,
        # owner's country, instant). Other parts of the node hook in here without intel depending on them:
        # matching turns STIX sightings into feedback (matching/sightings.py, wired in node.open_node).
        self.after_store: list[AfterStore] = []

    # -- import -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the checker processes bulk imports started (Node.close calls this)."""
        self._checkers.close()

    def import_objects(
        self,
        actor: Actor,
        objects: Iterable[Any],
        *,
        tlp: Tlp | None = None,
        owner: str | None = None,
        sharing_group: str | None = None,
        source: str,
        workers: int = 0,
    ) -> ImportReport:
        """Check and store objects in batches. Objects without a TLP marking get ``tlp`` (or the node default).

        The owner is the caller's party (the local operator must name one). With ``sharing_group`` (name or id,
        of a group the owner belongs to) the objects are seen by that group's members instead of the TLP
        community. Duplicates (same id and modified) are no-ops. ``workers`` > 0 checks batches in that many
        processes (accord.intel.pipeline; for bulk imports). Raises PermissionDenied, NotFound, InvalidInput.
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
        level = tlp or self._policy.default_tlp
        batches = checked_batches(_batches(objects), level, party.country, self._clock.now, workers, self._checkers)
        for size, now, checked in batches:
            report.total += size
            self._store_batch(checked, party.id, party.country, group, now, report, bulk=workers > 0)
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

    def _store_batch(
        self,
        checked: Checked,
        owner: str,
        country: str,
        group: str | None,
        now: datetime,
        report: ImportReport,
        *,
        bulk: bool = False,
    ) -> None:
        report.failures += [{"id": object_id, "message": reason} for object_id, reason in checked.failures]
        if not checked.accepted:
            return
        with self._db.writing() as session:
            if bulk:  # a bulk import (checker processes): its connection gets the larger cache, a server's do not
                self._db.tune_for_bulk(session)
            _one_version_writer(session)
            fresh, known_ids = self._new_versions(session, checked.accepted)
            if fresh:
                self._insert_versions(session, fresh, known_ids, owner, country, group, now)
                for hook in self.after_store:
                    hook(session, fresh, known_ids, owner, country or None, now)
        # Counted once the transaction committed: a batch that failed to store is not reported as stored.
        report.duplicates += len(checked.accepted) - len(fresh)
        report.successes += [{"id": a.checked.stix_id, "version": a.checked.modified} for a in checked.accepted]

    def _insert_versions(
        self,
        session: Session,
        fresh: list[Accepted],
        known_ids: set[str],
        owner: str,
        country: str,
        group: str | None,
        now: datetime,
    ) -> None:
        # An object seen for the first time, once in this batch, is its own latest version; only the others
        # need _mark_latest's read and updates (most of a bulk import is the first kind).
        per_id = Counter(a.checked.stix_id for a in fresh)
        several = {stix_id for stix_id, count in per_id.items() if count > 1 or stix_id in known_ids}
        # New versions of stored objects can revoke, re-mark or revive postings of aggregated (noisy) values:
        # their live states before and after the batch keep those values' holdings right (intel.holdings).
        changed = per_id.keys() & known_ids
        before = holdings.live_states(session, changed) if changed else {}
        insert_rows(
            session,
            IntelObject,
            [
                {
                    "stix_id": a.checked.stix_id,
                    "stix_type": a.checked.stix_type,
                    "spec_version": a.checked.spec_version,
                    "modified": a.checked.modified,
                    "modified_at": a.checked.modified_at,
                    "revoked": a.checked.revoked,
                    "is_latest": a.checked.stix_id not in several,
                    "tlp": str(a.tlp),
                    "owner_party_id": owner,
                    "sharing_group_id": group,
                    "added_at": now,
                    "content": a.canonical,
                }
                for a in fresh
            ],
        )
        with_history = self._mark_latest(session, sorted(several)) if several else []
        indexed = index_postings(session, fresh, owner, country, group, now)
        follow_latest(session, with_history, self._country_of)
        if changed or indexed.posted_to_aggregated:
            holdings.apply(session, before, holdings.live_states(session, per_id.keys()))
        if indexed.crossing:  # after apply: these values' postings are counted from the store, not as changes
            holdings.start(session, indexed.crossing)

    @staticmethod
    def _new_versions(session: Session, accepted: list[Accepted]) -> tuple[list[Accepted], set[str]]:
        """The versions not stored yet (in input order, each once), and the ids that already have versions."""
        keys = {(a.checked.stix_id, a.checked.modified) for a in accepted}
        ids = sorted({stix_id for stix_id, _ in keys})
        stored = session.execute(select(IntelObject.stix_id, IntelObject.modified).where(IntelObject.stix_id.in_(ids)))
        fresh: list[Accepted] = []
        seen: set[tuple[str, str]] = {(row[0], row[1]) for row in stored}
        known_ids = {stix_id for stix_id, _ in seen}
        for item in accepted:
            key = (item.checked.stix_id, item.checked.modified)
            if key not in seen:
                seen.add(key)
                fresh.append(item)
        return fresh, known_ids

    @staticmethod
    def _mark_latest(session: Session, ids: list[str]) -> list[str]:
        """Exactly one version per id is the latest: the greatest ``modified`` (one read and two updates a batch).
        Returns the ids that have more than one version."""
        newest: dict[str, tuple[Any, int]] = {}
        counts: dict[str, int] = {}
        rows = session.execute(
            select(IntelObject.seq, IntelObject.stix_id, IntelObject.modified_at).where(IntelObject.stix_id.in_(ids))
        )
        for seq, stix_id, modified_at in rows:
            counts[stix_id] = counts.get(stix_id, 0) + 1
            best = newest.get(stix_id)
            if best is None or (modified_at, seq) > best:
                newest[stix_id] = (modified_at, seq)
        session.execute(update(IntelObject).where(IntelObject.stix_id.in_(ids)).values(is_latest=False))
        latest = [seq for _at, seq in newest.values()]
        session.execute(update(IntelObject).where(IntelObject.seq.in_(latest)).values(is_latest=True))
        return sorted(stix_id for stix_id, count in counts.items() if count > 1)

    def _country_of(self, session: Session, party_id: str) -> str:
        return self._identity.find_party(session, party_id).country

    # -- reads (every one filtered by markings and audited) -------------------------------------------------

    @property
    def amber_audience(self) -> tuple[str, ...]:
        return self._policy.amber_audience

    def audience(self, actor: Actor) -> Audience:
        """What ``actor`` may see (markings.py holds the rule); one query for their sharing groups."""
        if actor.via == "peer":
            # A peer node sees only what its sharing policy gives it (federation.sharing), never the markings
            # view a local party gets: that would pass on what other peers sent us (Convention Art. 36(3)).
            raise PermissionDenied(actor.username, "read intelligence here (peers read their shared feed)", "role")
        party_id = actor.party_id
        if party_id is None:
            return Audience.of(actor, self._policy.amber_audience, [])

        def read_groups() -> tuple[str, ...]:
            with self._db.reading() as session:
                statement = select(SharingGroupMember.group_id).where(SharingGroupMember.party_id == party_id)
                return tuple(session.scalars(statement))

        # Memberships move the identity epoch (identity.epoch), so a cached list is the current one.
        groups = read_groups() if actor.epoch is None else self._groups_seen.get(actor.epoch, party_id, read_groups)
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

    # -- deletion (TAXII 2.1 section 5.7, and the JSON API) ---------------------------------------------------

    def delete_object(
        self,
        actor: Actor,
        stix_id: str,
        versions: Sequence[VersionChoice],
        *,
        tlp: Tlp | None = None,
        spec_versions: Sequence[str] = (),
        source: str,
    ) -> Deletion:
        """Remove the chosen versions of an object, their index entries and its audit entry in one transaction.

        ``versions`` picks as TAXII's match[version] does; ``tlp`` keeps to one collection. Only the owning party
        deletes (and the node's operator, who could edit the database anyway). Raises PermissionDenied (no
        SUBMIT_INTEL; or a chosen version the actor sees belongs to another party, and then nothing is removed),
        NotFound (nothing chosen that the actor may see: the same answer as for an id that does not exist).
        """
        self._identity.authorize(actor, Permission.SUBMIT_INTEL)
        if len(stix_id) > STIX_ID_LENGTH:
            raise NotFound("object", stix_id[:80])
        audience = self.audience(actor)
        remaining = 0
        with self._db.writing() as session:
            # FOR UPDATE (PostgreSQL; SQLite's write lock is already whole-database): two deletes of one object
            # take turns, and the second sees only what the first left.
            rows = session.execute(
                select(
                    IntelObject.seq,
                    IntelObject.stix_type,
                    IntelObject.spec_version,
                    IntelObject.modified,
                    IntelObject.modified_at,
                    IntelObject.is_latest,
                    IntelObject.tlp,
                    IntelObject.owner_party_id,
                    IntelObject.sharing_group_id,
                )
                .where(IntelObject.stix_id == stix_id)
                .order_by(IntelObject.modified_at, IntelObject.seq)
                .with_for_update()
            ).all()
            chosen = [
                row
                for row in _chosen_versions(rows, versions, tlp, spec_versions)
                if audience.allows(row.owner_party_id, row.tlp, row.sharing_group_id)
            ]
            if not chosen:
                raise NotFound("object", stix_id)
            foreign = actor.via != "operator" and any(row.owner_party_id != actor.party_id for row in chosen)
            if not foreign:
                remaining = self._remove_versions(session, stix_id, [row.seq for row in chosen])
                self._audit.append(
                    session,
                    actor.audit_ref(),
                    "intel.delete",
                    object_type=chosen[0].stix_type,
                    object_id=stix_id,
                    details={
                        "source": source[:200],
                        "collection": str(tlp) if tlp is not None else None,
                        "versions": len(chosen),
                        "modified": [row.modified for row in chosen[:MAX_FILTER_VALUES]],
                        "remaining": remaining,
                    },
                )
        if foreign:
            # Recorded after the (empty) transaction: the denial must stay in the log though nothing changed.
            self._audit.record(
                actor.audit_ref(),
                "access.denied",
                outcome=Outcome.DENIED,
                object_type=chosen[0].stix_type,
                object_id=stix_id,
                details={"action": "intel.delete", "missing": "party"},
            )
            raise PermissionDenied(actor.username, f"delete {stix_id}", "party")
        return Deletion(stix_id, [row.modified for row in chosen], remaining)

    def _remove_versions(self, session: Session, stix_id: str, seqs: list[int]) -> int:
        """Delete versions by seq; returns how many versions of the object are left.

        Postings are keyed by (observable, object id), not by version. With the last version gone they go too;
        otherwise they stay and follow the new latest version (see postings.follow_latest). Observables are kept: they
        are bare canonical values with no owner or marking, no read path reaches one except through a posting,
        and removing one here would race with a concurrent import that is about to post to it (a foreign key
        failure there, on PostgreSQL).
        """
        _one_version_writer(session)
        before = holdings.live_states(session, [stix_id])
        # Nothing references intel_objects by key (import statuses hold ids in their JSON, as history).
        session.execute(delete(IntelObject).where(IntelObject.seq.in_(seqs)))
        remaining = len(session.execute(select(IntelObject.seq).where(IntelObject.stix_id == stix_id)).all())
        if not remaining:
            session.execute(delete(Posting).where(Posting.stix_id == stix_id))
        else:
            self._mark_latest(session, [stix_id])
            follow_latest(session, [stix_id], self._country_of)
        holdings.apply(session, before, holdings.live_states(session, [stix_id]))
        return remaining

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


__all__ = [
    "Deletion",
    "ImportReport",
    "IntelPolicy",
    "IntelService",
    "InvalidIdentifier",
    "SearchResult",
    "parse_versions",
]
