"""Correlation: for a set of canonical values, who holds each one — parties, countries, objects, first and last
seen, counts — computed from the observable index when asked.

The index (``intel.models``: one ``Observable`` row per canonical value, one ``Posting`` per object that holds it)
already is the correlation: there are no pairwise correlation rows to build, rebuild or keep in step (what made
MISP's correlation table grow to 291 GB for 4.9 GB of data). This module only reads it, set-based: the values of
one call are asked for in chunks of ``CHUNK`` values of one kind, one or two statements a chunk, never one
statement a value.

Postings of revoked objects do not count (as in ``IntelService.search``: the object's latest version decides,
and a revoked object is one its producer withdrew, STIX 2.1 section 3.6).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session

from accord.intel.markings import Audience
from accord.intel.models import IntelObject, Observable, Posting

S = TypeVar("S", bound=Select[*tuple[Any, ...]])
Key = tuple[str, str]  # (identifier kind, canonical value): the observable index's unique key
Chunk = tuple[str, list[str]]  # one kind and up to CHUNK of its canonical values

# Values per statement, all of one kind: one bound parameter each, far under SQLite's 32,766 and PostgreSQL's
# 65,535. ``kind = ? AND value IN (...)`` is a lookup in the (kind, value) unique index on both (EXPLAIN: SQLite
# "SEARCH observables USING COVERING INDEX ... (kind=? AND value=?)"; PostgreSQL, on 300,000 analysed rows, a
# bitmap index scan with both columns in its "Index Cond").
CHUNK = 500
# Objects listed per value, newest first. A value held by 100,000 reports (the "noisy value" that broke MISP
# searches) still answers with counts and per-party figures; its object list stops here.
MAX_REPORTS_PER_VALUE = 50


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


def correlate(
    session: Session, keys: Iterable[Key], audience: Audience, *, reports_per_value: int = MAX_REPORTS_PER_VALUE
) -> dict[Key, Correlation]:
    """The correlation of every key that has postings of live objects (keys without any are left out).

    ``audience`` decides which postings come back as ``reports``; ``holdings`` cover all of them. Per chunk: one
    grouped statement for the holdings and, when some holding is visible, one for the newest visible reports of
    each value.
    """
    found: dict[Key, Correlation] = {}
    for chunk in chunks(keys, CHUNK):
        holdings = _holdings(session, chunk)
        visible = [value for (_kind, value), held in holdings.items() if any(_allows(audience, h) for h in held)]
        reports = _reports(session, (chunk[0], visible), audience, reports_per_value) if visible else {}
        for key, held in holdings.items():
            found[key] = Correlation(key[0], key[1], tuple(held), tuple(reports.get(key, ())))
    return found


def _allows(audience: Audience, holding: Holding) -> bool:
    return audience.allows(holding.party_id, holding.tlp, holding.sharing_group_id)


def chunks(keys: Iterable[Key], size: int) -> Iterator[Chunk]:
    """(kind, up to ``size`` distinct values of that kind), covering every key."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    for kind in sorted(by_kind):
        values = sorted(by_kind[kind])
        for start in range(0, len(values), size):
            yield kind, values[start : start + size]


def _live_postings(statement: S, chunk: Chunk) -> S:
    """``statement`` over the postings of the chunk's values whose object's latest version is not revoked."""
    kind, values = chunk
    return (
        statement.join(Posting, Posting.observable_id == Observable.id)
        .join(IntelObject, and_(IntelObject.stix_id == Posting.stix_id, IntelObject.is_latest.is_(True)))
        .where(Observable.kind == kind, Observable.value.in_(values), IntelObject.revoked.is_(False))
    )


def _holdings(session: Session, chunk: Chunk) -> dict[Key, list[Holding]]:
    grouping = (
        Observable.kind,
        Observable.value,
        Posting.owner_party_id,
        Posting.country,
        Posting.tlp,
        Posting.sharing_group_id,
    )
    statement = _live_postings(
        select(*grouping, func.count(), func.min(Posting.first_seen), func.max(Posting.last_seen)), chunk
    ).group_by(*grouping)
    held: dict[Key, list[Holding]] = defaultdict(list)
    for kind, value, owner, country, tlp, group, count, first, last in session.execute(statement):
        held[(kind, value)].append(Holding(owner, country, tlp, group, count, first, last))
    for holdings in held.values():
        holdings.sort(key=lambda h: (h.last_seen, h.party_id), reverse=True)
    return held


def _reports(session: Session, chunk: Chunk, audience: Audience, limit: int) -> dict[Key, list[Report]]:
    rank = (
        func.row_number()
        .over(partition_by=Posting.observable_id, order_by=(Posting.last_seen.desc(), Posting.stix_id))
        .label("rank")
    )
    ranked = (
        _live_postings(
            select(
                Observable.kind,
                Observable.value,
                Posting.stix_id,
                IntelObject.stix_type,
                Posting.owner_party_id,
                Posting.country,
                Posting.tlp,
                Posting.first_seen,
                Posting.last_seen,
                rank,
            ),
            chunk,
        )
        .where(audience.condition(Posting.owner_party_id, Posting.tlp, Posting.sharing_group_id))
        .subquery()
    )
    columns = [column for column in ranked.c if column.name != "rank"]
    statement = select(*columns).where(ranked.c.rank <= limit).order_by(ranked.c.kind, ranked.c.value, ranked.c.rank)
    reports: dict[Key, list[Report]] = defaultdict(list)
    for kind, value, stix_id, stix_type, owner, country, tlp, first, last in session.execute(statement):
        reports[(kind, value)].append(Report(stix_id, stix_type, owner, country, tlp, first, last))
    return reports
