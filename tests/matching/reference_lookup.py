"""The bulk lookup as it was before it was made fast (issue 4), kept as the oracle of the differential test
(``test_lookup_differential.py``): one value at a time, the visibility rule through a ``Tlp`` per posting, each
result built as dataclasses and converted with ``document()``.

Copied from ``accord.matching`` (service, correlation, visibility, feedback, scoring) and
``accord.intel.markings.Audience.allows`` at commit 958c4c4, trimmed to what a lookup's answer needs, and
depending on none of those functions, so that a change there cannot change the oracle with it. What it still
shares with the service is what the optimisation does not touch: the normalisers, the tables, ``Audience``'s
fields and SQL condition, the party directory and the warninglists.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from accord.identity.actor import Actor, PartyView
from accord.intel.markings import Audience
from accord.intel.models import IntelObject, Observable, Posting
from accord.intel.normalise import Canonical, InvalidIdentifier, detect, normalise
from accord.intel.vocabulary import Tlp
from accord.matching.models import ObservableFeedback
from accord.node import Node, load_half_lives

Key = tuple[str, str]
UNKNOWN = "unknown"
CHUNK = 500
MAX_REPORTS_PER_VALUE = 50
OWNER_ONLY = frozenset({Tlp.AMBER_STRICT, Tlp.RED})

POINTS_PER_REPORT, REPORTS_CAP = 5, 20
POINTS_PER_PARTY, PARTIES_CAP = 15, 30
POINTS_PER_EXTRA_COUNTRY, COUNTRIES_CAP = 10, 20
RECENCY_POINTS = 30
FEEDBACK_WEIGHTS = {
    "confirmed_by_police": 25,
    "victim_payment": 20,
    "blocked": 10,
    "taken_down": 10,
    "seen": 5,
    "false_positive": -30,
}
FEEDBACK_REPEATS = 2
DEFAULT_KIND, DEFAULT_HALF_LIFE_DAYS = "default", 90.0


@dataclass(frozen=True)
class Holding:
    party_id: str
    country: str
    tlp: str
    sharing_group_id: str | None
    reports: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Report:
    stix_id: str
    stix_type: str
    party_id: str
    country: str
    tlp: str
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Correlation:
    holdings: tuple[Holding, ...]
    reports: tuple[Report, ...]

    @property
    def parties(self) -> frozenset[str]:
        return frozenset(h.party_id for h in self.holdings)

    @property
    def countries(self) -> frozenset[str]:
        return frozenset(h.country for h in self.holdings)


@dataclass(frozen=True)
class Tally:
    count: int
    latest: datetime


def allows(audience: Audience, owner: str, tlp: str, group: str | None) -> bool:
    if audience.operator or (audience.party_id is not None and owner == audience.party_id):
        return True
    level = Tlp(tlp)
    if level in OWNER_ONLY:
        return False
    if group is not None:
        return group in audience.groups
    return level in audience.levels


def reference_lookup(
    node: Node, actor: Actor, values: Sequence[str], types: Sequence[str | None] | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The documents of ``MatchingService.lookup(actor, values, types, ...)`` and its audit entry's details."""
    region = actor.country or node.settings.node_country or None
    parsed = [_canonical(raw, types[i] if types else None, region) for i, raw in enumerate(values)]
    keys = {(str(item.kind), item.value) for item in parsed if isinstance(item, Canonical)}
    audience = node.intel.audience(actor)
    with node.db.snapshot() as session:
        correlations = _correlate(session, keys, audience)
        feedback = _tally(session, keys)
    now = node.clock.now()
    half_lives = load_half_lives(node.settings)
    parties = node.identity.parties_by_id({h.party_id for c in correlations.values() for h in c.holdings})
    documents = []
    for raw, item in zip(values, parsed, strict=True):
        if isinstance(item, InvalidIdentifier):
            kind = None if item.kind == UNKNOWN else item.kind
            documents.append(_document(raw, kind, None, item.reason, _NO_HITS, [], False, None))
            continue
        key = (str(item.kind), item.value)
        correlation = correlations.get(key)
        given = feedback.get(key, {})
        score = None
        if correlation or given:
            score = _score(_evidence(key[0], correlation, given, audience, now), half_lives)
        documents.append(
            _document(
                raw,
                str(item.kind),
                item.value,
                None,
                _hits(correlation, audience, parties) if correlation else _NO_HITS,
                [wl.name for wl in node.matching.warninglists.matching(str(item.kind), item.value)],
                len(correlation.countries) > 1 if correlation else False,
                score,
            )
        )
    details: dict[str, Any] = {
        "values": len(values),
        "valid": sum(1 for d in documents if d["error"] is None),
        "with_hits": sum(1 for d in documents if d["hits"]["found"]),
        "with_restricted_hits": sum(1 for d in documents if d["hits"]["restricted"] is not None),
    }
    if actor.token_id:
        details["token"] = actor.token_id
    return documents, details


_NO_HITS: dict[str, Any] = {"found": False, "visible_count": 0, "visible": [], "restricted": None}


def _document(
    raw: str,
    kind: str | None,
    canonical: str | None,
    error: str | None,
    hits: dict[str, Any],
    warninglists: list[str],
    cross_border: bool,
    score: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "input": raw,
        "type": kind,
        "canonical": canonical,
        "error": error,
        "hits": {
            "found": hits["found"],
            "visible_count": hits["visible_count"],
            "visible": [dict(hit) for hit in hits["visible"]],
            "restricted": hits["restricted"],
        },
        "warninglists": warninglists,
        "cross_border": cross_border,
        "score": score,
    }


def _canonical(raw: str, kind: str | None, region: str | None) -> Canonical | InvalidIdentifier:
    if not raw.strip():
        return InvalidIdentifier(kind or UNKNOWN, raw, "empty value")
    try:
        return normalise(kind, raw, default_region=region) if kind else detect(raw, default_region=region)
    except InvalidIdentifier as exc:
        return exc


# --- correlation ---------------------------------------------------------------------------------------------


def _chunks(keys: Iterable[Key], size: int) -> Iterator[tuple[str, list[str]]]:
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in keys:
        by_kind[kind].add(value)
    for kind in sorted(by_kind):
        values = sorted(by_kind[kind])
        for start in range(0, len(values), size):
            yield kind, values[start : start + size]


def _live_postings(statement: Any, chunk: tuple[str, list[str]]) -> Any:
    kind, values = chunk
    return (
        statement.join(Posting, Posting.observable_id == Observable.id)
        .join(IntelObject, and_(IntelObject.stix_id == Posting.stix_id, IntelObject.is_latest.is_(True)))
        .where(Observable.kind == kind, Observable.value.in_(values), IntelObject.revoked.is_(False))
    )


def _correlate(session: Session, keys: Iterable[Key], audience: Audience) -> dict[Key, Correlation]:
    found: dict[Key, Correlation] = {}
    for chunk in _chunks(keys, CHUNK):
        holdings = _holdings(session, chunk)
        visible = [
            value
            for (_kind, value), held in holdings.items()
            if any(allows(audience, h.party_id, h.tlp, h.sharing_group_id) for h in held)
        ]
        reports = _reports(session, (chunk[0], visible), audience) if visible else {}
        for key, held in holdings.items():
            found[key] = Correlation(tuple(held), tuple(reports.get(key, ())))
    return found


def _holdings(session: Session, chunk: tuple[str, list[str]]) -> dict[Key, list[Holding]]:
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


def _reports(session: Session, chunk: tuple[str, list[str]], audience: Audience) -> dict[Key, list[Report]]:
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
    statement = (
        select(*columns)
        .where(ranked.c.rank <= MAX_REPORTS_PER_VALUE)
        .order_by(ranked.c.kind, ranked.c.value, ranked.c.rank)
    )
    reports: dict[Key, list[Report]] = defaultdict(list)
    for kind, value, stix_id, stix_type, owner, country, tlp, first, last in session.execute(statement):
        reports[(kind, value)].append(Report(stix_id, stix_type, owner, country, tlp, first, last))
    return reports


def _tally(session: Session, keys: Iterable[Key]) -> dict[Key, dict[str, Tally]]:
    found: dict[Key, dict[str, Tally]] = defaultdict(dict)
    for kind, values in _chunks(keys, CHUNK):
        statement = (
            select(Observable.value, ObservableFeedback.outcome, func.count(), func.max(ObservableFeedback.observed_at))
            .join(ObservableFeedback, ObservableFeedback.observable_id == Observable.id)
            .where(Observable.kind == kind, Observable.value.in_(values))
            .group_by(Observable.value, ObservableFeedback.outcome)
        )
        for value, outcome, count, latest in session.execute(statement):
            found[(kind, value)][outcome] = Tally(count, latest)
    return dict(found)


# --- visibility ----------------------------------------------------------------------------------------------


def _name(parties: Mapping[str, PartyView], party_id: str) -> str:
    return parties[party_id].name if party_id in parties else party_id


def _hits(correlation: Correlation, audience: Audience, parties: Mapping[str, PartyView]) -> dict[str, Any]:
    visible_count = 0
    withheld: dict[str, str] = {}
    for holding in correlation.holdings:
        if allows(audience, holding.party_id, holding.tlp, holding.sharing_group_id):
            visible_count += holding.reports
        else:
            withheld[holding.party_id] = holding.country
    visible = [
        {
            "stix_id": report.stix_id,
            "stix_type": report.stix_type,
            "party_id": report.party_id,
            "party": _name(parties, report.party_id),
            "country": report.country,
            "tlp": report.tlp,
            "first_seen": report.first_seen.isoformat(),
            "last_seen": report.last_seen.isoformat(),
        }
        for report in correlation.reports
    ]
    restricted = None
    if withheld:
        contacts = sorted(
            (
                {
                    "party_id": party_id,
                    "party": _name(parties, party_id),
                    "country": country,
                    "contact": parties[party_id].contact if party_id in parties else None,
                }
                for party_id, country in withheld.items()
            ),
            key=lambda c: (c["country"], c["party"]),
        )
        restricted = {
            "parties": len(contacts),
            "countries": sorted({c["country"] for c in contacts}),
            "contacts": contacts,
        }
    found = visible_count > 0 or restricted is not None
    return {"found": found, "visible_count": visible_count, "visible": visible, "restricted": restricted}


# --- score ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    kind: str
    reports: int
    parties: int
    countries: tuple[str, ...]
    last_seen: datetime | None
    feedback: Mapping[str, Tally]
    now: datetime


def _evidence(
    kind: str, correlation: Correlation | None, feedback: Mapping[str, Tally], audience: Audience, now: datetime
) -> Evidence:
    if correlation is None:
        return Evidence(kind, 0, 0, (), None, feedback, now)
    reports = 0
    withheld: set[str] = set()
    dated: list[datetime] = []
    for holding in correlation.holdings:
        if allows(audience, holding.party_id, holding.tlp, holding.sharing_group_id):
            reports += holding.reports
            dated.append(holding.last_seen)
        else:
            withheld.add(holding.party_id)
    return Evidence(
        kind=kind,
        reports=reports + len(withheld),
        parties=len(correlation.parties),
        countries=tuple(sorted(correlation.countries)),
        last_seen=max(dated, default=None),
        feedback=feedback,
        now=now,
    )


def _n(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _capped(count: int, each: int, cap: int) -> tuple[float, str]:
    raw = count * each
    return float(min(raw, cap)), f"{count} x {each} = {raw} points" + (f", capped at {cap}" if raw > cap else "")


def _part(name: str, points: float, explanation: str) -> dict[str, Any]:
    return {"name": name, "points": points, "explanation": explanation}


def _score(evidence: Evidence, half_lives: Mapping[str, float]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    points, how = _capped(evidence.reports, POINTS_PER_REPORT, REPORTS_CAP)
    parts.append(_part("reports", points, f"{evidence.reports} reports: {how}"))
    points, how = _capped(evidence.parties, POINTS_PER_PARTY, PARTIES_CAP)
    parts.append(_part("parties", points, f"{evidence.parties} distinct reporting parties: {how}"))
    extra = max(len(evidence.countries) - 1, 0)
    points, how = _capped(extra, POINTS_PER_EXTRA_COUNTRY, COUNTRIES_CAP)
    names = ", ".join(evidence.countries) or "none"
    parts.append(
        _part("countries", points, f"{len(evidence.countries)} countries ({names}), {extra} beyond the first: {how}")
    )
    parts.append(_recency(evidence, half_lives))
    for outcome, weight in FEEDBACK_WEIGHTS.items():
        tally = evidence.feedback.get(outcome)
        if tally is None:
            continue
        counted = min(tally.count, FEEDBACK_REPEATS)
        label = outcome.replace("_", " ")
        parts.append(
            _part(
                f"feedback:{outcome}",
                float(counted * weight),
                f"{tally.count} x {label} (latest {tally.latest.date().isoformat()}), counted at most "
                f"{FEEDBACK_REPEATS} times: {counted} x {weight:+d} = {counted * weight:+d} points",
            )
        )
    total = sum(part["points"] for part in parts)
    clamped = min(max(total, 0.0), 100.0)
    if clamped != total:
        parts.append(_part("bounds", clamped - total, f"the parts sum to {_n(total)}; a score is kept within 0-100"))
    return {"value": round(clamped, 1), "parts": parts}


def _recency(evidence: Evidence, half_lives: Mapping[str, float]) -> dict[str, Any]:
    half_life = half_lives.get(evidence.kind, half_lives.get(DEFAULT_KIND, DEFAULT_HALF_LIFE_DAYS))
    if evidence.last_seen is None:
        return _part("recency", 0.0, "no dated report to measure recency from: 0 points")
    age_days = max((evidence.now - evidence.last_seen).total_seconds() / 86_400, 0.0)
    factor = math.pow(0.5, age_days / half_life)
    points = round(RECENCY_POINTS * factor, 1)
    return _part(
        "recency",
        points,
        f"last reported {_n(round(age_days, 1))} days ago, half-life {_n(half_life)} days for {evidence.kind}: "
        f"{RECENCY_POINTS} x 0.5^({_n(round(age_days, 1))}/{_n(half_life)}) = {_n(points)} points",
    )
