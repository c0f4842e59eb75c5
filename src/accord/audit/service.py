"""The audit log service: append inside the caller's transaction, list for auditors, verify the chain."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from accord.audit.batching import GroupCommit, Pending
from accord.audit.chain import HASHED_FIELDS, entry_body, entry_hash
from accord.audit.errors import AuditChainBroken
from accord.audit.models import GENESIS_HASH, AuditEntry, AuditHead
from accord.canonical_json import canonical_bytes
from accord.clock import Clock
from accord.errors import InvalidInput
from accord.store.engine import Database

MAX_PAGE = 200  # entries per page on the API and the UI
MAX_SEQ = 2**53 - 1  # RFC 8785 numbers are doubles; no sequence number can be larger (see chain.py)
MAX_TEXT = 500  # purpose and legal basis come from users; bound them
VERIFY_BATCH = 2000  # entries fetched per round trip while verifying


_HEAD_FOR_UPDATE = select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == 1).with_for_update()
_INSERT_ENTRY = insert(AuditEntry)
_MOVE_HEAD = (
    update(AuditHead).where(AuditHead.id == 1).values(seq=bindparam("new_seq"), entry_hash=bindparam("new_hash"))
)


def _has_control(value: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in value)


@dataclass(frozen=True)
class HeadCommitment:
    """A (sequence number, hash) the log once had: from a signed head exported earlier, or a peer's witness."""

    seq: int
    entry_hash: str


class Outcome(StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True)
class AuditActor:
    """Who acted, as the audit log keeps it (copies, so the log outlives the user and party rows)."""

    id: str | None
    name: str
    party_id: str | None


@dataclass(frozen=True)
class Disclosure:
    """Why personal data is being read: the purpose and, where given, the legal basis (data-protection duty)."""

    purpose: str | None = None
    legal_basis: str | None = None

    def __post_init__(self) -> None:
        for name in ("purpose", "legal_basis"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise InvalidInput(name, f"at most {MAX_TEXT} characters")
            if value is not None and _has_control(value):
                raise InvalidInput(name, "must not contain control characters")


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    at: datetime
    actor_id: str | None
    actor: str
    party_id: str | None
    action: str
    object_type: str | None
    object_id: str | None
    purpose: str | None
    legal_basis: str | None
    outcome: str
    details: dict[str, Any]
    entry_hash: str


@dataclass(frozen=True)
class VerifyReport:
    entries: int
    head_hash: str


@dataclass(frozen=True)
class AuditQuery:
    before_seq: int | None = None
    action_prefix: str | None = None
    actor: str | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput("limit", f"must be between 1 and {MAX_PAGE}")
        for name in ("action_prefix", "actor"):
            value = getattr(self, name)
            if value is not None and _has_control(value):
                raise InvalidInput(name, "must not contain control characters")


def _record(row: AuditEntry) -> AuditRecord:
    fields = {name: getattr(row, name) for name in HASHED_FIELDS if name != "prev_hash"}
    return AuditRecord(**{**fields, "details": json.loads(row.details)}, entry_hash=row.entry_hash)


def _entry(
    actor: AuditActor,
    action: str,
    object_type: str | None,
    object_id: str | None,
    disclosure: Disclosure | None,
    outcome: Outcome,
    details: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An entry's columns but its sequence number, time and hashes, which the append adds (in the caller's
    thread, so that a group commit's writer has less to do while it holds the write lock). Raises TypeError or
    ValueError when ``details`` is not JSON."""
    disclosure = disclosure or Disclosure()
    return {
        "actor_id": actor.id,
        "actor": actor.name,
        "party_id": actor.party_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "purpose": disclosure.purpose,
        "legal_basis": disclosure.legal_basis,
        "outcome": str(outcome),
        "details": canonical_bytes(dict(details or {})).decode(),
    }


class AuditLog:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._group = GroupCommit(db.writing_connection, self._write_entries)

    def append(
        self,
        session: Session,
        actor: AuditActor,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        disclosure: Disclosure | None = None,
        outcome: Outcome = Outcome.OK,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one entry in ``session``'s transaction, so the entry commits with the action or not at all.

        Returns the entry's sequence number.
        """
        entry = _entry(actor, action, object_type, object_id, disclosure, outcome, details)
        # Pending ORM changes go first, so a failing write fails before its entry is made.
        session.flush()
        [seq] = self._write_entries(session.connection(), [entry])
        return seq

    def _write_entries(self, connection: Connection, entries: list[dict[str, Any]]) -> list[int]:
        """Chain ``entries`` (from ``_entry``) onto the head, in order, in ``connection``'s transaction."""
        # Locking the head row serialises appends on PostgreSQL; on SQLite the writing transaction already
        # holds the database's write lock (BEGIN IMMEDIATE). Core statements, not ORM units of work: an append
        # comes with nearly every API call, and the ORM's bookkeeping cost more than the three statements.
        seq, head_hash = connection.execute(_HEAD_FOR_UPDATE).one()
        rows = []
        for entry in entries:
            seq += 1
            row = {**entry, "seq": seq, "at": self._clock.now(), "prev_hash": head_hash}
            head_hash = row["entry_hash"] = entry_hash(entry_body(**row))
            rows.append(row)
        connection.execute(_INSERT_ENTRY, rows)
        connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": head_hash})
        return [row["seq"] for row in rows]

    def record(
        self,
        actor: AuditActor,
        action: str,
        *,
        object_type: str | None = None,
        object_id: str | None = None,
        disclosure: Disclosure | None = None,
        outcome: Outcome = Outcome.OK,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one entry in a transaction of its own (for events with no other write, such as a denial).

        Returns once the entry is committed. Entries recorded at the same moment by several threads share one
        transaction (batching.GroupCommit).
        """
        entry = _entry(actor, action, object_type, object_id, disclosure, outcome, details)
        return self._group.submit(entry)

    def record_later(
        self,
        actor: AuditActor,
        action: str,
        *,
        on_committed: Callable[[], None] | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        disclosure: Disclosure | None = None,
        outcome: Outcome = Outcome.OK,
        details: Mapping[str, Any] | None = None,
    ) -> Pending:
        """``record`` without waiting: the entry is queued and its ``Pending`` returned at once. Whatever the
        entry stands for must not leave the node before ``Pending.outcome()`` returned (it raises if the entry
        could not be written). ``on_committed`` is called in the writer's thread once the outcome is known, for an
        event loop that waits without a thread of its own (``batching.LoopWaiter``)."""
        entry = _entry(actor, action, object_type, object_id, disclosure, outcome, details)
        return self._group.submit_later(entry, on_committed)

    def close(self) -> None:
        """Commit the entries waiting in ``record`` and stop its writer thread."""
        self._group.close()

    def query(self, session: Session, query: AuditQuery) -> list[AuditRecord]:
        statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(query.limit)
        if query.before_seq is not None:
            statement = statement.where(AuditEntry.seq < query.before_seq)
        if query.action_prefix:
            statement = statement.where(AuditEntry.action.startswith(query.action_prefix, autoescape=True))
        if query.actor:
            statement = statement.where(AuditEntry.actor == query.actor)
        return [_record(row) for row in session.scalars(statement)]

    def read(self, reader: AuditActor, query: AuditQuery, disclosure: Disclosure) -> list[AuditRecord]:
        """A page of entries for an auditor. The read is itself audited: entries name people and what they saw.

        The caller checks the reader's permission first (identity decides who may read the audit log).
        """
        with self._db.writing() as session:
            records = self.query(session, query)
            self.append(
                session,
                reader,
                "audit.read",
                object_type="audit",
                disclosure=disclosure,
                details={"entries": len(records), "before_seq": query.before_seq},
            )
            return records

    def own_activity(self, actor: AuditActor, limit: int = 10) -> list[AuditRecord]:
        """The actor's own latest entries (their own data; reading it is not a disclosure)."""
        with self._db.reading() as session:
            statement = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(min(limit, MAX_PAGE))
            statement = (
                statement.where(AuditEntry.actor_id == actor.id)
                if actor.id
                else statement.where(AuditEntry.actor == actor.name)
            )
            return [_record(row) for row in session.scalars(statement)]

    def iter_all(self, session: Session) -> Iterator[AuditRecord]:
        """Every entry, oldest first, fetched in batches (for exports)."""
        last = 0
        while True:
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(VERIFY_BATCH)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last = rows[-1].seq

    def head(self) -> HeadCommitment:
        with self._db.reading() as session:
            head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
            if head is None:
                raise AuditChainBroken(0, "head", "present", "missing")
            return HeadCommitment(seq=head.seq, entry_hash=head.entry_hash)

    def verify(self, expected: HeadCommitment | None = None) -> VerifyReport:
        """Recompute the chain from the first entry.

        Raises :class:`AuditChainBroken` naming the first entry that does not fit: a changed field (its hash
        differs), a deleted or inserted entry (sequence or predecessor hash differs), or a truncated tail
        (the head row no longer matches the last entry). With ``expected`` (a head signed earlier), also a
        log rewritten or cut back together with its head row: the entry at ``expected.seq`` must still
        carry ``expected.entry_hash``.
        """
        expected_seq, prev = 1, GENESIS_HASH
        # A snapshot, so that appends committing while we verify neither look like tampering nor hide it.
        with self._db.snapshot() as session:
            head = session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
            if head is None:
                raise AuditChainBroken(0, "head", "present", "missing")
            while expected_seq <= head.seq:
                try:
                    rows = session.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.seq >= expected_seq, AuditEntry.seq <= head.seq)
                        .order_by(AuditEntry.seq)
                        .limit(VERIFY_BATCH)
                    ).all()
                except (ValueError, TypeError) as exc:  # a stored value no longer reads back (e.g. a mangled time)
                    bad = self._first_unreadable(session, expected_seq, head.seq)
                    raise AuditChainBroken(bad, "row", "a readable entry", type(exc).__name__) from exc
                if not rows:
                    break
                for row in rows:
                    self._check_entry(row, expected_seq, prev)
                    if expected is not None and row.seq == expected.seq and row.entry_hash != expected.entry_hash:
                        raise AuditChainBroken(row.seq, "signed_head", expected.entry_hash, row.entry_hash)
                    prev, expected_seq = row.entry_hash, expected_seq + 1
            if expected_seq - 1 != head.seq:
                raise AuditChainBroken(head.seq, "head.seq", str(expected_seq - 1), str(head.seq))
            if head.entry_hash != prev:
                raise AuditChainBroken(head.seq, "head.entry_hash", prev, head.entry_hash)
            beyond = session.scalar(select(func.min(AuditEntry.seq)).where(AuditEntry.seq > head.seq))
            if beyond is not None:
                raise AuditChainBroken(beyond, "seq", f"no entry after the head ({head.seq})", str(beyond))
            if expected is not None and expected.seq > head.seq:
                raise AuditChainBroken(expected.seq, "signed_head", expected.entry_hash, "missing (log cut back)")
        return VerifyReport(entries=expected_seq - 1, head_hash=prev)

    @staticmethod
    def _first_unreadable(session: Session, start: int, end: int) -> int:
        """Find which entry of a batch cannot be read, one row at a time (only on the error path)."""
        seqs = session.scalars(
            select(AuditEntry.seq).where(AuditEntry.seq >= start, AuditEntry.seq <= end).order_by(AuditEntry.seq)
        )
        for seq in seqs.all()[:VERIFY_BATCH]:
            try:
                session.scalars(select(AuditEntry).where(AuditEntry.seq == seq)).one()
            except (ValueError, TypeError):
                return int(seq)
        return start

    @staticmethod
    def _check_entry(row: AuditEntry, expected_seq: int, prev: str) -> None:
        if row.seq != expected_seq:
            raise AuditChainBroken(expected_seq, "seq", str(expected_seq), str(row.seq))
        if row.prev_hash != prev:
            raise AuditChainBroken(row.seq, "prev_hash", prev, row.prev_hash)
        try:
            body = entry_body(**{name: getattr(row, name) for name in HASHED_FIELDS})
        except ValueError:  # details no longer parse as JSON: someone edited the row
            raise AuditChainBroken(row.seq, "details", "canonical JSON", row.details[:80]) from None
        computed = entry_hash(body)
        if computed != row.entry_hash:
            raise AuditChainBroken(row.seq, "entry_hash", computed, row.entry_hash)
