"""The custody log: every custody event of every evidence item is a leaf of one RFC 9162 Merkle tree.

A leaf is the RFC 8785 canonical JSON of the event (who, what, when, which item, the item's SHA-256 at that
moment, and the leaf hash of the item's previous event, so each item's history is also a hash chain:
Convention requirement 42). The node signs tree heads as C2SP checkpoints; an inclusion proof shows that an
event is in a signed tree, and a consistency proof that a later tree extends an earlier one, so a head signed
(and witnessed) once pins every event before it.

Appends keep the log's right edge (its "frontier": at most 64 perfect subtrees) and store every perfect subtree
they complete, so a proof is one indexed query for at most 2·log2(n) hashes, never a recomputation.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from accord.canonical_json import canonical_bytes
from accord.clock import Clock
from accord.errors import AccordError
from accord.evidence import merkle
from accord.evidence.checkpoint import Checkpoint, CheckpointError, open_note, sign_note, vkey
from accord.evidence.layout import custody_origin
from accord.evidence.models import CustodyCheckpoint, CustodyEvent, CustodyLogState, CustodySubtree
from accord.identity.node_keys import NodeKeys
from accord.store.engine import Database

LEAF_VERSION = 1
VERIFY_BATCH = 5000
KEY_QUERY_BATCH = 200  # (level, idx) pairs per query; proofs need at most about 130

# Built once: appends run these on every custody action.
_SIZE_FOR_UPDATE = select(CustodyLogState.size).where(CustodyLogState.id == 1).with_for_update()
_CREATE_STATE = insert(CustodyLogState).values(id=1, size=0)
_SET_SIZE = update(CustodyLogState).where(CustodyLogState.id == 1).values(size=bindparam("new_size"))
_INSERT_EVENT = insert(CustodyEvent)
_INSERT_SUBTREE = insert(CustodySubtree)
_LAST_LEAF = (
    select(CustodyEvent.leaf_hash)
    .where(CustodyEvent.item_id == bindparam("item_id"))
    .order_by(CustodyEvent.seq.desc())
    .limit(1)
)


class CustodyLogBroken(AccordError):
    """The stored log does not match itself or a head the node signed: someone changed the database."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"custody log broken at {where}: {reason}")


@dataclass(frozen=True)
class NewEvent:
    """An event to append. ``previous`` is the leaf hash of the item's previous event (None for its first)."""

    item_id: str
    kind: str
    at: datetime
    actor: str
    party_id: str | None
    item_sha256: str
    previous: bytes | None
    purpose: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    item_id: str
    kind: str
    at: datetime
    body: str
    leaf_hash: bytes

    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: str  # the C2SP signed note, signature lines included


@dataclass(frozen=True)
class LogVerifyReport:
    events: int
    subtrees: int
    checkpoints: int
    root_hash: bytes


def leaf_body(origin: str, event: NewEvent) -> bytes:
    """The exact bytes hashed as the event's leaf (RFC 8785 canonical JSON)."""
    return canonical_bytes(
        {
            "v": LEAF_VERSION,
            "log": origin,
            "item": event.item_id,
            "kind": event.kind,
            "at": event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": event.actor,
            "party": event.party_id,
            "item_sha256": event.item_sha256,
            "previous": event.previous.hex() if event.previous is not None else None,
            "purpose": event.purpose,
            "details": dict(event.details or {}),
        }
    )


class CustodyLog:
    def __init__(self, db: Database, clock: Clock, keys: Callable[[], NodeKeys]) -> None:
        self._db = db
        self._clock = clock
        self._keys = keys
        # This process's last append: the log's size before it, and the frontier after it. The append may have
        # rolled back or been overtaken by another process's: _frontier checks it against the store first.
        self._last_append: tuple[int, int, tuple[bytes, ...]] | None = None

    @property
    def origin(self) -> str:
        return custody_origin(self._keys().node_id)

    def vkey(self) -> str:
        keys = self._keys()
        return vkey(self.origin, keys.public_raw)

    def public_key(self) -> bytes:
        return self._keys().public_raw

    # -- appending -------------------------------------------------------------------------------------------

    def append(self, session: Session, events: Sequence[NewEvent]) -> list[LoggedEvent]:
        """Append ``events`` in the caller's transaction (they commit with the action they record, or not at
        all). Locking the state row serialises appends on PostgreSQL; SQLite writers hold the write lock.

        Core statements, not the ORM's unit of work: an event is appended with every custody action, and the
        ORM's bookkeeping cost more than the statements (as in audit.AuditLog.append)."""
        session.flush()  # pending ORM rows (a new item the events name) go first
        connection = session.connection()
        size = connection.execute(_SIZE_FOR_UPDATE).scalar_one_or_none()
        if size is None:
            connection.execute(_CREATE_STATE)
            size = 0
        frontier = self._frontier(session, size)
        origin = self.origin
        rows: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        logged: list[LoggedEvent] = []
        for event in events:
            body = leaf_body(origin, event)
            leaf = merkle.leaf_hash(body)
            seq = frontier.size
            for level, idx, digest in frontier.append(leaf):
                nodes.append({"level": level, "idx": idx, "hash": digest})
            text = body.decode()
            rows.append(
                {
                    "seq": seq,
                    "item_id": event.item_id,
                    "kind": event.kind,
                    "at": event.at,
                    "body": text,
                    "leaf_hash": leaf,
                }
            )
            logged.append(LoggedEvent(seq, event.item_id, event.kind, event.at, text, leaf))
        if rows:
            connection.execute(_INSERT_EVENT, rows)
        if nodes:
            connection.execute(_INSERT_SUBTREE, nodes)
        connection.execute(_SET_SIZE, {"new_size": frontier.size})
        self._last_append = (size, frontier.size, frontier.hashes)
        return logged

    def _frontier(self, session: Session, size: int) -> merkle.Frontier:
        """The frontier of the stored log of ``size`` leaves (the caller holds the append lock).

        The frontier after this process's last append is reused when the store holds the same hashes for the
        subtrees that append touched (those reaching past the size it started from). Its first leaves were read
        under the same lock from the committed log, which never changes, so only an append that rolled back
        (and another process's appends of the same number of events since) can make it differ, and then it
        differs in a touched subtree. For one event, one indexed read instead of up to 64."""
        if size == 0:
            return merkle.Frontier.empty()
        keys = merkle.frontier_keys(size)
        last = self._last_append
        if last is not None and last[1] == size:
            start, _, hashes = last
            touched = [n for n, (level, idx) in enumerate(keys) if (idx + 1) << level > start]
            stored = fetch_subtrees(session, [keys[n] for n in touched])
            if all(stored[keys[n]] == hashes[n] for n in touched):
                return merkle.Frontier(size, hashes)
        found = fetch_subtrees(session, keys)
        return merkle.Frontier(size, [found[key] for key in keys])

    # -- reading ---------------------------------------------------------------------------------------------

    def size(self, session: Session) -> int:
        size = session.scalar(select(CustodyLogState.size).where(CustodyLogState.id == 1))
        return int(size or 0)

    def events_of(self, session: Session, item_ids: Iterable[str]) -> list[LoggedEvent]:
        ids = list(item_ids)
        if not ids:
            return []
        rows = session.scalars(
            select(CustodyEvent).where(CustodyEvent.item_id.in_(ids)).order_by(CustodyEvent.seq)
        ).all()
        return [LoggedEvent(r.seq, r.item_id, r.kind, r.at, r.body, bytes(r.leaf_hash)) for r in rows]

    def last_leaf(self, session: Session, item_id: str) -> bytes | None:
        digest = session.connection().execute(_LAST_LEAF, {"item_id": item_id}).scalar_one_or_none()
        return bytes(digest) if digest is not None else None

    def root(self, session: Session, size: int) -> bytes:
        keys = merkle.root_keys(size)
        hashes = fetch_subtrees(session, keys)
        return merkle.root_hash(size, lambda level, idx: hashes[(level, idx)])

    def inclusion_proof(self, session: Session, seq: int, tree_size: int) -> list[bytes]:
        keys = merkle.inclusion_proof_keys(seq, tree_size)
        hashes = fetch_subtrees(session, keys)
        return merkle.inclusion_proof(seq, tree_size, lambda level, idx: hashes[(level, idx)])

    def inclusion_proofs(self, session: Session, seqs: Sequence[int], tree_size: int) -> dict[int, list[bytes]]:
        """Proofs for many events against one tree, with one fetch of every subtree they need (a package of
        thousands of events must not cost a query per event)."""
        keys = [key for seq in seqs for key in merkle.inclusion_proof_keys(seq, tree_size)]
        hashes = fetch_subtrees(session, keys)
        return {seq: merkle.inclusion_proof(seq, tree_size, lambda level, idx: hashes[(level, idx)]) for seq in seqs}

    def consistency_proofs(self, session: Session, old_sizes: Sequence[int], new_size: int) -> dict[int, list[bytes]]:
        """Consistency proofs from many earlier sizes to ``new_size``, with one fetch of their subtrees."""
        keys = [key for old in old_sizes for key in merkle.consistency_proof_keys(old, new_size)]
        hashes = fetch_subtrees(session, keys)
        return {
            old: merkle.consistency_proof(old, new_size, lambda level, idx: hashes[(level, idx)]) for old in old_sizes
        }

    def consistency_proof(self, session: Session, old_size: int, new_size: int) -> list[bytes]:
        keys = merkle.consistency_proof_keys(old_size, new_size)
        hashes = fetch_subtrees(session, keys)
        return merkle.consistency_proof(old_size, new_size, lambda level, idx: hashes[(level, idx)])

    # -- signed heads ----------------------------------------------------------------------------------------

    def lock(self, session: Session) -> None:
        """Take the log's lock for the rest of the transaction. Call it before reading an item's last leaf, so
        two transactions cannot both chain to the same previous event (PostgreSQL; SQLite has one writer)."""
        session.flush()
        session.connection().execute(_SIZE_FOR_UPDATE)

    def covering_checkpoint(self, session: Session, needed_size: int) -> SignedCheckpoint:
        """The newest signed head if it covers ``needed_size`` events, else a new one: reading an item does not
        sign a head each time (every head signed is one more an export must prove consistency from)."""
        latest = session.scalars(
            select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size.desc()).limit(1)
        ).first()
        if latest is not None and latest.tree_size >= needed_size:
            return SignedCheckpoint(self._checkpoint(latest.tree_size, bytes(latest.root_hash)), latest.signed_note)
        return self.sign_checkpoint(session)

    def sign_checkpoint(self, session: Session) -> SignedCheckpoint:
        """A signed checkpoint of the log as it stands in ``session`` (reusing the one for this size if the
        node signed it before, so heads are one per size and never contradict each other). Holds the log's
        lock, so two requests signing the same size at once cannot both insert it."""
        self.lock(session)
        size = self.size(session)
        existing = session.get(CustodyCheckpoint, size)
        if existing is not None:
            return SignedCheckpoint(self._checkpoint(size, bytes(existing.root_hash)), existing.signed_note)
        root = self.root(session, size) if size else merkle.EMPTY_ROOT
        checkpoint = self._checkpoint(size, root)
        keys = self._keys()
        note = sign_note(checkpoint.body(), self.origin, keys.public_raw, keys.sign)
        session.add(CustodyCheckpoint(tree_size=size, root_hash=root, signed_note=note, signed_at=self._clock.now()))
        session.flush()
        return SignedCheckpoint(checkpoint, note)

    def _checkpoint(self, size: int, root: bytes) -> Checkpoint:
        return Checkpoint(origin=self.origin, tree_size=size, root_hash=root)

    def checkpoints(self, session: Session, up_to: int | None = None) -> list[CustodyCheckpoint]:
        statement = select(CustodyCheckpoint).order_by(CustodyCheckpoint.tree_size)
        if up_to is not None:
            statement = statement.where(CustodyCheckpoint.tree_size <= up_to)
        return list(session.scalars(statement).all())

    # -- checking the whole log ------------------------------------------------------------------------------

    def verify(self) -> LogVerifyReport:
        """Recompute the whole log from its leaves, on one consistent snapshot.

        Checks, naming the first thing that does not fit: each event's stored leaf hash is the hash of its body;
        the body agrees with the event's columns; each item's events chain (``previous``); every stored
        subtree equals the recomputed one; every signed checkpoint's signature verifies and its root equals the
        recomputed root at its size (so the log was never rewritten or cut back under a head the node signed).
        """
        keys = self._keys()
        origin = self.origin
        with self._db.snapshot() as session:
            size = self.size(session)
            signed = {row.tree_size: row for row in self.checkpoints(session)}
            frontier = merkle.Frontier.empty()
            recomputed: dict[int, list[bytes]] = {}
            last_of_item: dict[str, bytes] = {}
            next_seq = 0
            if 0 in signed:
                self._check_signed(signed[0], merkle.EMPTY_ROOT, keys.public_raw)
            while True:
                rows = session.execute(
                    select(
                        CustodyEvent.seq,
                        CustodyEvent.item_id,
                        CustodyEvent.kind,
                        CustodyEvent.body,
                        CustodyEvent.leaf_hash,
                    )
                    .where(CustodyEvent.seq >= next_seq)
                    .order_by(CustodyEvent.seq)
                    .limit(VERIFY_BATCH)
                ).all()
                if not rows:
                    break
                for seq, item_id, kind, body, stored_leaf in rows:
                    if seq != next_seq:
                        raise CustodyLogBroken(f"event {next_seq}", f"missing (next stored event is {seq})")
                    leaf = merkle.leaf_hash(body.encode())
                    if leaf != bytes(stored_leaf):
                        raise CustodyLogBroken(f"event {seq}", "its body does not hash to its stored leaf hash")
                    _check_body(seq, body, origin, item_id, kind, last_of_item.get(item_id))
                    last_of_item[item_id] = leaf
                    for level, idx, digest in frontier.append(leaf):
                        recomputed.setdefault(level, []).append(digest)
                        del idx
                    next_seq += 1
                    if next_seq in signed:
                        self._check_signed(signed[next_seq], frontier.root(), keys.public_raw)
            if next_seq != size:
                raise CustodyLogBroken("log state", f"says {size} events, {next_seq} are stored")
            beyond = [s for s in signed if s > size]
            if beyond:
                raise CustodyLogBroken(f"checkpoint {beyond[0]}", f"signed for {beyond[0]} events, log has {size}")
            subtrees = self._check_subtrees(session, recomputed)
            return LogVerifyReport(next_seq, subtrees, len(signed), frontier.root() if size else merkle.EMPTY_ROOT)

    def _check_signed(self, row: CustodyCheckpoint, root: bytes, public_raw: bytes) -> None:
        where = f"checkpoint {row.tree_size}"
        try:
            body = open_note(row.signed_note, self.origin, public_raw)
        except CheckpointError as exc:
            raise CustodyLogBroken(where, f"signature: {exc}") from None
        checkpoint = Checkpoint.parse(body)
        if checkpoint.tree_size != row.tree_size or checkpoint.root_hash != bytes(row.root_hash):
            raise CustodyLogBroken(where, "the stored size or root differs from the signed note")
        if checkpoint.root_hash != root:
            raise CustodyLogBroken(
                where, f"signed root {checkpoint.root_hash.hex()[:12]}… differs from recomputed {root.hex()[:12]}…"
            )

    @staticmethod
    def _check_subtrees(session: Session, recomputed: dict[int, list[bytes]]) -> int:
        count = 0
        stored_levels = set(session.scalars(select(CustodySubtree.level).distinct()).all())
        for level in sorted(stored_levels | set(recomputed)):
            expected = recomputed.get(level, [])
            stored = session.execute(
                select(CustodySubtree.idx, CustodySubtree.hash)
                .where(CustodySubtree.level == level)
                .order_by(CustodySubtree.idx)
                .execution_options(yield_per=VERIFY_BATCH)
            )
            position = 0
            for idx, digest in stored:
                if idx != position or position >= len(expected):
                    raise CustodyLogBroken(f"subtree level {level} index {idx}", "not derived from the events")
                if bytes(digest) != expected[position]:
                    raise CustodyLogBroken(f"subtree level {level} index {idx}", "hash differs from its leaves")
                position += 1
            if position != len(expected):
                raise CustodyLogBroken(f"subtree level {level} index {position}", "missing")
            count += position
        return count


def _check_body(seq: int, body: str, origin: str, item_id: str, kind: str, previous: bytes | None) -> None:
    try:
        document = json.loads(body)
    except ValueError:
        raise CustodyLogBroken(f"event {seq}", "body is not JSON") from None
    if not isinstance(document, dict) or document.get("log") != origin:
        raise CustodyLogBroken(f"event {seq}", "body is not an event of this node's log")
    if document.get("item") != item_id or document.get("kind") != kind:
        raise CustodyLogBroken(f"event {seq}", "item or kind column differs from the hashed body")
    expected = previous.hex() if previous is not None else None
    if document.get("previous") != expected:
        raise CustodyLogBroken(f"event {seq}", "does not chain to the item's previous event")


@functools.lru_cache(maxsize=KEY_QUERY_BATCH)
def _subtrees_query(count: int) -> Select[int, int, bytes]:
    """The subtrees at ``count`` (level, idx) pairs given as parameters level0, idx0, ...: built once per count,
    where building the expression on each call cost more than running it. An OR of ANDs, because SQLite runs a
    row-value ``IN (VALUES ...)`` as a scan of the table, and this as one index seek per pair."""
    pairs = (
        and_(CustodySubtree.level == bindparam(f"level{n}"), CustodySubtree.idx == bindparam(f"idx{n}"))
        for n in range(count)
    )
    return select(CustodySubtree.level, CustodySubtree.idx, CustodySubtree.hash).where(or_(*pairs))


def fetch_subtrees(session: Session, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The hashes of the perfect subtrees ``keys`` (level 0: leaf hashes), in as few queries as possible."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[int, int], bytes] = {}
    leaves = [idx for level, idx in wanted if level == 0]
    inner = [(level, idx) for level, idx in wanted if level > 0]
    for start in range(0, len(leaves), KEY_QUERY_BATCH):
        batch = leaves[start : start + KEY_QUERY_BATCH]
        for seq, digest in session.execute(
            select(CustodyEvent.seq, CustodyEvent.leaf_hash).where(CustodyEvent.seq.in_(batch))
        ):
            found[(0, seq)] = bytes(digest)
    for start in range(0, len(inner), KEY_QUERY_BATCH):
        batch_keys = inner[start : start + KEY_QUERY_BATCH]
        parameters: dict[str, int] = {}
        for n, (level, idx) in enumerate(batch_keys):
            parameters[f"level{n}"], parameters[f"idx{n}"] = level, idx
        for level, idx, digest in session.connection().execute(_subtrees_query(len(batch_keys)), parameters):
            found[(level, idx)] = bytes(digest)
    missing = [key for key in wanted if key not in found]
    if missing:
        level, idx = missing[0]
        raise CustodyLogBroken(f"subtree level {level} index {idx}", "missing from the store")
    return found
