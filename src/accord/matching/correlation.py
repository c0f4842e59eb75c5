"""Correlation: for a set of canonical values, who holds each one — parties, countries, objects, first and last
seen, counts — computed from the observable index when asked.

The index (``intel.models``: one ``Observable`` row per canonical value, one ``Posting`` per object that holds it)
already is the correlation: there are no pairwise correlation rows to build, rebuild or keep in step (what made
MISP's correlation table grow to 291 GB for 4.9 GB of data). This module only reads it, set-based: the values of
one call are asked for in chunks of ``CHUNK`` values of one kind (their index rows), then their postings in chunks
of ``CHUNK`` index rows, never one statement a value.

Postings of revoked objects do not count (as in ``IntelService.search``: the object's latest version decides,
and a revoked object is one its producer withdrew, STIX 2.1 section 3.6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from itertools import groupby
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.orm import Session

from accord.intel.holdings import NEWEST_KEPT, decode_newest, newest_order
from accord.intel.markings import Audience
from accord.intel.models import Observable, ObservableHolding, Posting

S = TypeVar("S", bound=Select[*tuple[Any, ...]])
Key = tuple[str, str]  # (identifier kind, canonical value): the observable index's unique key
Chunk = tuple[str, list[str]]  # one kind and up to CHUNK of its canonical values

# Values per statement, all of one kind: one bound parameter each, far under SQLite's 32,766 and PostgreSQL's
# 65,535. ``kind = ? AND value IN (...)`` is a lookup in the (kind, value) unique index on both (EXPLAIN: SQLite
# "SEARCH observables USING COVERING INDEX ... (kind=? AND value=?)"; PostgreSQL, on 300,000 analysed rows, a
# bitmap index scan with both columns in its "Index Cond").
CHUNK = 500
# Objects listed per value, newest first. A value held by 100,000 reports (the "noisy value" that broke MISP
# searches) still answers with counts and per-party figures; its object list stops here. Each aggregated holding
# keeps this many newest postings, so the list is exact.
MAX_REPORTS_PER_VALUE = NEWEST_KEPT


@dataclass(frozen=True)
class Holding:
    """The postings of one value that share owner, country, TLP and sharing group: one visibility decision."""

    party_id: str
    country: str
    tlp: str
    sharing_group_id: str | None
    reports: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Report:
    """One posting the reader may see: which object holds the value, whose it is, when it was seen."""

    stix_id: str
    stix_type: str
    party_id: str
    country: str
    tlp: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Correlation:
    """Everything the index knows about one value. ``holdings`` covers every posting (a reader's view is drawn
    from it by ``visibility``); ``reports`` only those the reader may see, newest first, at most
    ``MAX_REPORTS_PER_VALUE``."""

    kind: str
    value: str
    holdings: tuple[Holding, ...]
    reports: tuple[Report, ...]

    @property
    def parties(self) -> frozenset[str]:
        return frozenset(h.party_id for h in self.holdings)

    @property
    def countries(self) -> frozenset[str]:
        return frozenset(h.country for h in self.holdings)

    @property
    def report_count(self) -> int:
        return sum(h.reports for h in self.holdings)

    @property
    def first_seen(self) -> datetime:
        return min(h.first_seen for h in self.holdings)

    @property
    def last_seen(self) -> datetime:
        return max(h.last_seen for h in self.holdings)

    @property
    def cross_border(self) -> bool:
        """Held by parties of more than one country. Computed over every posting, not only those the reader may
        see: the flag tells no more than a hit/no-hit answer does, which names the holders' countries anyway."""
        return len(self.countries) > 1


def correlate(session: Session, keys: Iterable[Key], audience: Audience) -> dict[Key, Correlation]:
    """The correlation of every key that has postings of live objects (keys without any are left out).

    ``audience`` decides which postings come back as ``reports``; ``holdings`` cover all of them. See
    ``correlate_entries``: this is it after ``index_entries``.
    """
    return correlate_entries(session, index_entries(session, keys), audience)


@dataclass(frozen=True)
class Entry:
    """A value's row in the observable index: its id, how many posting rows were written for it (an upper bound
    on its postings, live or not) and whether its holdings are aggregated (intel.holdings)."""

    observable_id: int
    postings: int
    aggregated: bool = False


def index_entries(session: Session, keys: Iterable[Key]) -> dict[Key, Entry]:
    """The index's row of each key that has one (reported, or given feedback): one statement per chunk of CHUNK
    values of one kind, ``kind = ? AND value IN (...)`` in the (kind, value) unique index, without reading a
    posting or an object."""
    found: dict[Key, Entry] = {}
    for kind, values in chunks(keys, CHUNK):
        for observable_id, value, postings, aggregated in session.connection().execute(
            _ENTRIES, {"kind": kind, "values": values}
        ):
            found[(kind, value)] = Entry(observable_id, postings, aggregated)
    return found


def correlate_entries(session: Session, entries: Mapping[Key, Entry], audience: Audience) -> dict[Key, Correlation]:
    """``correlate`` of values whose index rows are known (``index_entries``).

    A value with at most ``AGGREGATE_ABOVE`` postings written (nearly all) is read posting by posting, one
    statement per chunk of CHUNK values, in the postings alone (a posting carries its object's revocation, and a
    report's type is its id's prefix); the holdings and the reports are drawn from the same rows. A noisier
    value's holdings are kept aggregated (intel.holdings): a few rows, each with its newest postings, whatever
    its number of reports — one statement per chunk too.
    """
    decided: dict[tuple[str, str | None, str], bool] = {}  # the rule, once per owner, TLP and group of the call

    def allows(owner: str, tlp: str, group: str | None) -> bool:
        key = (owner, group, tlp)
        allowed = decided.get(key)
        if allowed is None:
            allowed = decided[key] = audience.allows(owner, tlp, group)
        return allowed

    few = {entry.observable_id: key for key, entry in entries.items() if entry.postings > 0 and not entry.aggregated}
    many = {entry.observable_id: key for key, entry in entries.items() if entry.aggregated}
    found: dict[Key, Correlation] = {}
    if few:
        statement = _postings_statement(audience)
        ids = list(few)
        for start in range(0, len(ids), CHUNK):
            rows = session.connection().execute(statement, {"ids": ids[start : start + CHUNK]})
            for observable_id, postings in groupby(rows, key=itemgetter(0)):
                found[few[observable_id]] = _from_postings(few[observable_id], list(postings), allows)
    if many:
        ids = list(many)
        for start in range(0, len(ids), CHUNK):
            rows = session.connection().execute(_AGGREGATES, {"ids": ids[start : start + CHUNK]})
            for observable_id, groups in groupby(rows, key=itemgetter(0)):
                found[many[observable_id]] = _from_aggregates(many[observable_id], list(groups), allows)
    return found


def stix_type_of(stix_id: str) -> str:
    """STIX 2.1 section 2.9: an identifier is "<object type>--<UUID>" (checked at ingest), so a report's type
    needs no read of its object."""
    return stix_id.partition("--")[0]


def chunks(keys: Iterable[Key], size: int) -> Iterator[Chunk]:
    """(kind, up to ``size`` distinct values of that kind), covering every key."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    for kind in sorted(by_kind):
        values = sorted(by_kind[kind])
        for start in range(0, len(values), size):
            yield kind, values[start : start + size]


# The chunk's kind and values, or observable ids, are bound at execution (expanded into one parameter each): the
# statements are built and compiled once, not once per chunk with a bound parameter object per value.
KIND: BindParameter[str] = bindparam("kind")
VALUES: BindParameter[list[str]] = bindparam("values", expanding=True)
IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)

_ENTRIES = select(Observable.id, Observable.value, Observable.postings_written, Observable.aggregated).where(
    Observable.kind == KIND, Observable.value.in_(VALUES)
)


def _live_postings(statement: S) -> S:
    """``statement`` over the postings of the observables ``ids`` whose object's latest version is not revoked
    (a posting carries that version's flag: intel.postings.follow_latest), in the postings' primary key alone."""
    return statement.select_from(Posting).where(Posting.observable_id.in_(IDS), Posting.revoked.is_(False))


# Cached per audience (a frozen value: party, levels, groups): building the statement cost more than running it
# for a single-value lookup. Statements are immutable, so threads share them safely.
@lru_cache(maxsize=256)
def _postings_statement(audience: Audience) -> Select[*tuple[Any, ...]]:
    """Every live posting of the observables ``ids``, with whether ``audience`` may see it, newest first per
    observable (the order reports are listed in)."""
    visible = audience.condition(Posting.owner_party_id, Posting.tlp, Posting.sharing_group_id)
    return _live_postings(
        select(
            Posting.observable_id,
            Posting.owner_party_id,
            Posting.country,
            Posting.tlp,
            Posting.sharing_group_id,
            Posting.stix_id,
            Posting.first_seen,
            Posting.last_seen,
            visible.label("visible"),
        )
    ).order_by(Posting.observable_id, Posting.last_seen.desc(), Posting.stix_id)


def _from_postings(key: Key, postings: list[Any], allows: Callable[[str, str, str | None], bool]) -> Correlation:
    """The correlation of one value from its live postings, newest first: the holdings grouped (in the order
    SQLite's GROUP BY gives them, then newest first, as ``_from_aggregates`` orders them) and the visible reports
    newest first."""
    grouped: dict[tuple[str, str, str, str | None], list[Any]] = {}
    reports: list[Report] = []
    for _id, owner, country, tlp, group, stix_id, first, last, visible in postings:
        figures = grouped.get((owner, country, tlp, group))
        if figures is None:
            grouped[(owner, country, tlp, group)] = [1, first, last]
        else:
            figures[0] += 1
            if first < figures[1]:
                figures[1] = first
            if last > figures[2]:
                figures[2] = last
        if visible and len(reports) < MAX_REPORTS_PER_VALUE:
            reports.append(Report(stix_id, stix_type_of(stix_id), owner, country, tlp, first, last))
    if len(grouped) == 1:
        (((owner, country, tlp, group), (count, first, last)),) = grouped.items()
        holdings = [Holding(owner, country, tlp, group, count, first, last)]
    else:
        holdings = [
            Holding(owner, country, tlp, group, count, first, last)
            for (owner, country, tlp, group), (count, first, last) in sorted(grouped.items(), key=_group_order)
        ]
        holdings.sort(key=lambda h: (h.last_seen, h.party_id), reverse=True)
    if not any(allows(h.party_id, h.tlp, h.sharing_group_id) for h in holdings):
        reports = []  # as ``correlate`` always did: reports only for a value with a holding the reader may see
    return Correlation(key[0], key[1], tuple(holdings), tuple(reports))


def _group_order(item: tuple[tuple[str, str, str, str | None], Any]) -> tuple[str, str, str, bool, str]:
    owner, country, tlp, group = item[0]
    return owner, country, tlp, group is not None, group or ""  # NULL first, as in SQLite's GROUP BY


# The holdings rows of the aggregated observables ``ids``, grouped by observable (``_from_aggregates`` orders a
# value's rows itself).
_AGGREGATES = (
    select(
        ObservableHolding.observable_id,
        ObservableHolding.owner_party_id,
        ObservableHolding.country,
        ObservableHolding.tlp,
        ObservableHolding.sharing_group,
        ObservableHolding.reports,
        ObservableHolding.first_seen,
        ObservableHolding.last_seen,
        ObservableHolding.newest,
    )
    .where(ObservableHolding.observable_id.in_(IDS))
    .order_by(ObservableHolding.observable_id)
)


def _from_aggregates(key: Key, rows: list[Any], allows: Callable[[str, str, str | None], bool]) -> Correlation:
    """The correlation of an aggregated value: its holdings as stored, and the newest reports the reader may
    see, merged from the newest postings kept in each holding they may see (each keeps as many as a result
    lists, so the merge is exact)."""
    ordered = sorted(
        (
            ((owner, country, tlp, group or None), (count, first, last, newest))
            for _id, owner, country, tlp, group, count, first, last, newest in rows
        ),
        key=_group_order,
    )
    holdings = [
        Holding(owner, country, tlp, group, count, first, last)
        for (owner, country, tlp, group), (count, first, last, _newest) in ordered
    ]
    holdings.sort(key=lambda h: (h.last_seen, h.party_id), reverse=True)
    candidates: list[tuple[tuple[int, str], Report]] = []
    for (owner, country, tlp, group), (_count, _first, _last, newest) in ordered:
        if allows(owner, tlp, group):
            for stix_id, first, last in decode_newest(newest):
                entry = (stix_id, first, last)
                report = Report(stix_id, stix_type_of(stix_id), owner, country, tlp, first, last)
                candidates.append((newest_order(entry), report))
    candidates.sort(key=itemgetter(0))
    reports = tuple(report for _order, report in candidates[:MAX_REPORTS_PER_VALUE])
    return Correlation(key[0], key[1], tuple(holdings), reports)
