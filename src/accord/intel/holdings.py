"""Holdings of noisy values, kept as running aggregates so that a lookup never reads a value's every posting.

A value's holdings are its live postings (those whose object's latest version is not revoked) grouped by owner,
country, TLP and sharing group: the unit a visibility decision is made on (matching.visibility). For nearly every
value they are computed from its few postings when asked (matching.correlation). A value reported more than
``AGGREGATE_ABOVE`` times (the "noisy value" of issue 4: one helpline number in 100,000 reports, which made
MISP's correlation table explode) is *aggregated* instead: one ``observable_holdings`` row per group holds the
count, first and last seen, and the ``NEWEST_KEPT`` newest postings, so that a lookup costs a few rows however
many reports there are.

Keeping them right. Every write that can change a live posting of an aggregated value brackets itself with
``live_states`` of the objects it touches (postings are found through a partial index that holds only the
postings of aggregated values) and hands both snapshots to ``apply``:

- a posting that appears adds to its group (count, first/last seen, newest list);
- a posting that changes within its group without narrowing its dates (a re-posting moves ``last_seen`` on) is
  replaced in place;
- a posting that leaves a group (revoked, re-marked, deleted) subtracts from it; if it held the group's first or
  last date, or a place in a full newest list, the group is recomputed from its postings (the only step that
  reads a noisy value's postings, and only on such rare writes).

A value becomes aggregated in the write that takes its count of written postings past the threshold: its
postings are flagged and its groups computed from them (at most a batch more than the threshold). ``rebuild``
recomputes every aggregated value from the postings in one pass; tests hold the running aggregates to it.
"""

from __future__ import annotations

import heapq
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, delete, func, select, true, update
from sqlalchemy.orm import Session

from accord.intel.models import Observable, ObservableHolding, Posting
from accord.store.bulk import upsert

# A value with more posting rows written than this is aggregated. The same as the number of reports a lookup
# lists, so that every value a lookup reads posting by posting has at most a listful of them.
AGGREGATE_ABOVE = 50
NEWEST_KEPT = 50  # postings kept per group, newest first: what a lookup lists at most (matching.correlation)
CHUNK = 500  # object ids or observable ids per statement

EPOCH, MICROSECOND = datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1)
GroupKey = tuple[str, str, str, str]  # owner party, country, TLP, sharing group ("" for none)
PostingKey = tuple[int, str]  # (observable id, object id): a posting's primary key


@dataclass(frozen=True)
class PostingState:
    """What a live posting of an aggregated value contributes to its group."""

    observable_id: int
    stix_id: str
    group: GroupKey
    first_seen: datetime
    last_seen: datetime


@dataclass
class Figures:
    """One group's running aggregate; ``newest`` is (stix_id, first_seen, last_seen), newest first."""

    reports: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    newest: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def add(self, posting: PostingState) -> None:
        self.add_all([posting])

    def add_all(self, postings: Collection[PostingState]) -> None:
        for posting in postings:
            self.reports += 1
            if self.first_seen is None or posting.first_seen < self.first_seen:
                self.first_seen = posting.first_seen
            if self.last_seen is None or posting.last_seen > self.last_seen:
                self.last_seen = posting.last_seen
        entries = [(p.stix_id, p.first_seen, p.last_seen) for p in postings]
        self.newest = heapq.nsmallest(NEWEST_KEPT, [*self.newest, *entries], key=newest_order)

    def replace(self, old: PostingState, new: PostingState) -> None:
        """``new`` is ``old`` with dates that cover old's: the count stays, the dates can only widen."""
        self.newest = [entry for entry in self.newest if entry[0] != old.stix_id]
        self.reports -= 1
        self.add(new)

    def remove(self, posting: PostingState) -> bool:
        """Subtract ``posting``; False when the figures cannot be known without reading the group again."""
        full = len(self.newest) >= NEWEST_KEPT
        listed = any(entry[0] == posting.stix_id for entry in self.newest)
        self.reports -= 1
        self.newest = [entry for entry in self.newest if entry[0] != posting.stix_id]
        if self.reports <= 0:  # empty: what arrives next starts the figures afresh
            self.reports, self.first_seen, self.last_seen, self.newest = 0, None, None, []
            return True
        return not (posting.first_seen == self.first_seen or posting.last_seen == self.last_seen or (listed and full))


def newest_order(entry: tuple[str, datetime, datetime]) -> tuple[int, str]:
    """Newest first, then by object id: the order a lookup lists reports in (byte order of ids, as SQLite and a
    C-collated PostgreSQL sort them). In whole microseconds: a float timestamp cannot tell them all apart."""
    return -((entry[2] - EPOCH) // MICROSECOND), entry[0]


IDS: BindParameter[list[Any]] = bindparam("ids", expanding=True)
_STATE_COLUMNS = (
    Posting.observable_id,
    Posting.stix_id,
    Posting.owner_party_id,
    Posting.country,
    Posting.tlp,
    Posting.sharing_group_id,
    Posting.first_seen,
    Posting.last_seen,
)


def _live(statement: Any) -> Any:
    """Postings whose object's latest version is not revoked (a posting carries its flag: postings.follow_latest)."""
    return statement.where(Posting.revoked.is_(False))


# ``aggregated == true()``, the partial index's own condition, so that both planners use it (EXPLAIN: SQLite
# "SEARCH observable_postings USING INDEX ix_observable_postings_aggregated_stix_id (stix_id=?)").
_STATES_OF_OBJECTS = _live(select(*_STATE_COLUMNS)).where(Posting.aggregated == true(), Posting.stix_id.in_(IDS))
_STATES_OF_OBSERVABLES = _live(select(*_STATE_COLUMNS)).where(Posting.observable_id.in_(IDS))
_ROWS = select(ObservableHolding).where(ObservableHolding.observable_id.in_(IDS))


def _state(row: Any) -> PostingState:
    observable_id, stix_id, owner, country, tlp, group, first, last = row
    return PostingState(observable_id, stix_id, (owner, country, tlp, group or ""), first, last)


def live_states(session: Session, stix_ids: Collection[str]) -> dict[PostingKey, PostingState]:
    """The live postings of aggregated values held by these objects, by primary key."""
    found: dict[PostingKey, PostingState] = {}
    ids = sorted(stix_ids)
    for start in range(0, len(ids), CHUNK):
        for row in session.execute(_STATES_OF_OBJECTS, {"ids": ids[start : start + CHUNK]}):
            state = _state(row)
            found[(state.observable_id, state.stix_id)] = state
    return found


def apply(
    session: Session, before: Mapping[PostingKey, PostingState], after: Mapping[PostingKey, PostingState]
) -> None:
    """Bring the aggregates of the groups these postings were or are in from ``before`` to ``after`` (the live
    states of the same objects around one write, in the same transaction, after the write)."""
    removed: dict[tuple[int, GroupKey], list[PostingState]] = defaultdict(list)
    added: dict[tuple[int, GroupKey], dict[str, PostingState]] = defaultdict(dict)
    for posting in before.keys() | after.keys():
        old, new = before.get(posting), after.get(posting)
        if old == new:
            continue
        if old is not None:
            removed[(old.observable_id, old.group)].append(old)
        if new is not None:
            added[(new.observable_id, new.group)][new.stix_id] = new
    touched = removed.keys() | added.keys()
    if not touched:
        return
    figures = _load(session, {observable_id for observable_id, _group in touched})
    stale: set[tuple[int, GroupKey]] = set()
    for group_key in touched:
        group = figures.setdefault(group_key, Figures())
        arriving = added.get(group_key, {})
        for old in removed.get(group_key, []):
            new = arriving.pop(old.stix_id, None)
            if new is not None and new.first_seen <= old.first_seen and new.last_seen >= old.last_seen:
                group.replace(old, new)
                continue
            if new is not None:
                arriving[new.stix_id] = new  # it narrowed: counted as a new arrival after the removal below
            if not group.remove(old):
                stale.add(group_key)
        group.add_all(arriving.values())
    for group_key in stale:
        figures[group_key] = _recompute(session, *group_key)
    _store(session, {group_key: figures[group_key] for group_key in touched})


def start(session: Session, observable_ids: Collection[int]) -> None:
    """Aggregate these values from now on: flag them and their postings, and compute their groups."""
    ids = sorted(observable_ids)
    for begin in range(0, len(ids), CHUNK):
        chunk = ids[begin : begin + CHUNK]
        session.execute(update(Observable).where(Observable.id.in_(chunk)).values(aggregated=True))
        session.execute(update(Posting).where(Posting.observable_id.in_(chunk)).values(aggregated=True))
        members: dict[tuple[int, GroupKey], list[PostingState]] = defaultdict(list)
        for row in session.execute(_STATES_OF_OBSERVABLES, {"ids": chunk}):
            state = _state(row)
            members[(state.observable_id, state.group)].append(state)
        groups = {key: Figures() for key in members}
        for key, states in members.items():
            groups[key].add_all(states)  # one merge a group: a noisy value's 100,000 postings, not one at a time
        _store(session, groups)


def rebuild(session: Session) -> int:
    """Recompute every aggregated value's groups from its postings (one pass over them); returns the values."""
    ids = list(session.scalars(select(Observable.id).where(Observable.aggregated.is_(True)).order_by(Observable.id)))
    for begin in range(0, len(ids), CHUNK):
        chunk = ids[begin : begin + CHUNK]
        session.execute(delete(ObservableHolding).where(ObservableHolding.observable_id.in_(chunk)))
    start(session, ids)
    return len(ids)


def _load(session: Session, observable_ids: Iterable[int]) -> dict[tuple[int, GroupKey], Figures]:
    figures: dict[tuple[int, GroupKey], Figures] = {}
    ids = sorted(observable_ids)
    for begin in range(0, len(ids), CHUNK):
        for row in session.scalars(_ROWS, {"ids": ids[begin : begin + CHUNK]}):
            figures[(row.observable_id, (row.owner_party_id, row.country, row.tlp, row.sharing_group))] = Figures(
                row.reports, row.first_seen, row.last_seen, decode_newest(row.newest)
            )
    return figures


def _recompute(session: Session, observable_id: int, group: GroupKey) -> Figures:
    owner, country, tlp, sharing_group = group
    condition = and_(
        Posting.observable_id == observable_id,
        Posting.owner_party_id == owner,
        Posting.country == country,
        Posting.tlp == tlp,
        Posting.sharing_group_id == sharing_group if sharing_group else Posting.sharing_group_id.is_(None),
    )
    count, first, last = session.execute(
        _live(
            select(func.count(), func.min(Posting.first_seen), func.max(Posting.last_seen)).select_from(Posting)
        ).where(condition)
    ).one()
    rows = session.execute(
        _live(select(Posting.stix_id, Posting.first_seen, Posting.last_seen))
        .where(condition)
        .order_by(Posting.last_seen.desc(), Posting.stix_id)
        .limit(NEWEST_KEPT)
    )
    return Figures(count, first, last, [(stix_id, f, la) for stix_id, f, la in rows])


def _store(session: Session, figures: Mapping[tuple[int, GroupKey], Figures]) -> None:
    gone = [key for key, group in figures.items() if group.reports <= 0]
    for observable_id, (owner, country, tlp, sharing_group) in gone:
        session.execute(
            delete(ObservableHolding).where(
                ObservableHolding.observable_id == observable_id,
                ObservableHolding.owner_party_id == owner,
                ObservableHolding.country == country,
                ObservableHolding.tlp == tlp,
                ObservableHolding.sharing_group == sharing_group,
            )
        )
    rows = [
        {
            "observable_id": observable_id,
            "owner_party_id": owner,
            "country": country,
            "tlp": tlp,
            "sharing_group": sharing_group,
            "reports": group.reports,
            "first_seen": group.first_seen,
            "last_seen": group.last_seen,
            "newest": encode_newest(group.newest),
        }
        for (observable_id, (owner, country, tlp, sharing_group)), group in sorted(figures.items())
        if group.reports > 0
    ]
    upsert(
        session,
        ObservableHolding,
        rows,
        ["observable_id", "owner_party_id", "country", "tlp", "sharing_group"],
        ["reports", "first_seen", "last_seen", "newest"],
    )


def encode_newest(newest: list[tuple[str, datetime, datetime]]) -> str:
    return json.dumps([[stix_id, first.isoformat(), last.isoformat()] for stix_id, first, last in newest])


def decode_newest(text: str) -> list[tuple[str, datetime, datetime]]:
    return [
        (stix_id, datetime.fromisoformat(first), datetime.fromisoformat(last))
        for stix_id, first, last in json.loads(text)
    ]
