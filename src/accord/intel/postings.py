"""Writing the observable index: a batch's identifiers become observables (one row per canonical value) and
postings (one per value and object), and postings follow their object's latest version.

Split from intel.service, whose reads and imports call these inside their write transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from accord.intel.holdings import AGGREGATE_ABOVE
from accord.intel.ingest import Accepted
from accord.intel.models import IntelObject, Observable, Posting
from accord.store.bulk import upsert, upsert_adding


@dataclass(frozen=True)
class Indexed:
    """What a batch's postings did to aggregated values (intel.holdings): whether it posted to one, and which
    values it took past the threshold."""

    posted_to_aggregated: bool
    crossing: frozenset[int]


def index_postings(
    session: Session, fresh: list[Accepted], owner: str, country: str, group: str | None, now: datetime
) -> Indexed:
    """Upsert the batch's observables, counting the posting rows written for each, then its postings."""
    per_pair: Counter[tuple[str, str]] = Counter()
    written: set[tuple[str, str, str]] = set()
    for item in fresh:
        for ident in item.identifiers:
            key = (ident.kind, ident.value, item.checked.stix_id)
            if key not in written:
                written.add(key)
                per_pair[(ident.kind, ident.value)] += 1
    if not per_pair:
        return Indexed(False, frozenset())
    rows_in = [{"kind": k, "value": v, "postings_written": n} for (k, v), n in sorted(per_pair.items())]
    by_pair: dict[tuple[str, str], int] = {}
    aggregated: set[int] = set()
    crossing: set[int] = set()
    returned = upsert_adding(session, Observable, rows_in, ["kind", "value"], "postings_written", ["aggregated"])
    for observable_id, kind, value, total, is_aggregated in returned:
        by_pair[(kind, value)] = observable_id
        if is_aggregated:
            aggregated.add(observable_id)
        elif total > AGGREGATE_ABOVE:
            crossing.add(observable_id)
    rows = {}
    for item in fresh:
        for ident in item.identifiers:
            posting = (by_pair[(ident.kind, ident.value)], item.checked.stix_id)
            rows[posting] = {
                "observable_id": posting[0],
                "stix_id": posting[1],
                "owner_party_id": owner,
                "country": country,
                "tlp": str(item.tlp),
                "sharing_group_id": group,
                "raw": ident.raw,
                "first_seen": now,
                "last_seen": now,
                "aggregated": posting[0] in aggregated,
                "revoked": item.checked.revoked,
            }
    upsert(
        session,
        Posting,
        list(rows.values()),
        ["observable_id", "stix_id"],
        ["tlp", "sharing_group_id", "last_seen", "revoked"],
    )
    return Indexed(bool(aggregated), frozenset(crossing))


def follow_latest(session: Session, ids: list[str], country_of: Callable[[Session, str], str]) -> None:
    """Postings are per (observable, object), not per version: they carry the marking, owner, country and
    revocation of the object's latest version, which is what search and lookups show and check. Without this,
    importing an older GREEN version after a RED one (or deleting the RED one's successor) would leave search
    answering at the wrong level. Set-based: one update per distinct (TLP, owner, group, revoked) among the
    latest versions."""
    if not ids:
        return
    latest = session.execute(
        select(
            IntelObject.stix_id,
            IntelObject.tlp,
            IntelObject.owner_party_id,
            IntelObject.sharing_group_id,
            IntelObject.revoked,
        ).where(IntelObject.stix_id.in_(ids), IntelObject.is_latest.is_(True))
    ).all()
    by_marking: dict[tuple[str, str, str | None, bool], list[str]] = {}
    for stix_id, tlp, owner, group, revoked in latest:
        by_marking.setdefault((tlp, owner, group, revoked), []).append(stix_id)
    for (tlp, owner, group, revoked), same in by_marking.items():
        session.execute(
            update(Posting)
            .where(Posting.stix_id.in_(same))
            .values(
                tlp=tlp,
                owner_party_id=owner,
                sharing_group_id=group,
                country=country_of(session, owner),
                revoked=revoked,
            )
        )
