"""STIX 2.1 ``sighting`` objects as feedback (issue 4, part 5): a party that imports (or receives from a peer) a
sighting of an indicator or an identifier object has seen those identifiers, and says so in the same terms as
feedback given through the API or the UI, so the score counts it.

A sighting (STIX 2.1 section 5.2) names what was seen in ``sighting_of_ref``. Each identifier that object
carries (an SCO's value, or the equality comparisons of an indicator's pattern) gets one feedback row from the
sighting's owner party, observed at the sighting's ``last_seen`` (else ``first_seen``, else ``created``). The
outcome is ``seen``, unless the sighting says otherwise: ``x_accord_outcome`` (one of feedback.Outcome), or
OpenCTI's ``x_opencti_negative: true`` (a sighting that turned out to be a false positive). Only a sighting's
first version counts, so a sighting updated with a new ``count`` is not counted twice; a sighting of an object
this node does not hold is stored but counts for nothing (yet).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accord.intel.extract import pattern_identifiers, sco_identifiers
from accord.intel.ingest import Accepted
from accord.intel.models import IntelObject, Observable
from accord.intel.normalise import InvalidIdentifier, normalise
from accord.intel.pattern_parser import fast_comparisons
from accord.intel.validate import parse_timestamp
from accord.matching.feedback import MAX_CLOCK_SKEW, Outcome
from accord.matching.models import ObservableFeedback
from accord.store.bulk import insert_rows, upsert_returning_ids

SIGHTING_USER = "stix-sighting"  # the feedback's "username": a sighting comes with its party, not a person
MAX_TARGETS = 1_000  # sightings in one batch whose targets are read (a batch is at most that anyway)


def record_sightings(
    session: Session, fresh: list[Accepted], known_ids: set[str], owner: str, region: str | None, now: datetime
) -> int:
    """Feedback rows for the first versions of sightings in a freshly stored batch (in its transaction). Returns
    how many rows were written."""
    sightings = [
        json.loads(a.canonical)
        for a in fresh
        if a.checked.stix_type == "sighting" and a.checked.stix_id not in known_ids
    ][:MAX_TARGETS]
    firsts: dict[str, dict[str, Any]] = {}
    for sighting in sightings:
        firsts.setdefault(sighting["id"], sighting)  # two versions of a new sighting in one batch: the first
    targets = _targets(session, {s["sighting_of_ref"] for s in firsts.values()})
    rows: list[dict[str, Any]] = []
    for sighting in firsts.values():
        target = targets.get(sighting["sighting_of_ref"])
        if target is None:
            continue
        observed = _observed_at(sighting, now)
        outcome = _outcome(sighting)
        for kind, value in _identifiers(target, region):
            rows.append(
                {"kind": kind, "value": value, "outcome": outcome, "observed_at": observed, "id": sighting["id"]}
            )
    if not rows:
        return 0
    keys = sorted({(r["kind"], r["value"]) for r in rows})
    ids = upsert_returning_ids(session, Observable, [{"kind": k, "value": v} for k, v in keys], ["kind", "value"])
    observable_of = {(kind, value): observable_id for observable_id, kind, value in ids}
    insert_rows(
        session,
        ObservableFeedback,
        [
            {
                "observable_id": observable_of[(r["kind"], r["value"])],
                "party_id": owner,
                "username": SIGHTING_USER,
                "outcome": r["outcome"],
                "observed_at": r["observed_at"],
                "note": f"STIX {r['id']}",
                "created_at": now,
            }
            for r in rows
        ],
    )
    return len(rows)


def _targets(session: Session, stix_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The latest stored version of each sighted object (intel_objects is indexed by stix_id)."""
    if not stix_ids:
        return {}
    rows = session.execute(
        select(IntelObject.stix_id, IntelObject.content).where(
            IntelObject.stix_id.in_(sorted(stix_ids)), IntelObject.is_latest.is_(True)
        )
    )
    return {stix_id: json.loads(content) for stix_id, content in rows}


def _identifiers(target: dict[str, Any], region: str | None) -> set[tuple[str, str]]:
    pattern = target.get("pattern")
    if target.get("type") == "indicator" and target.get("pattern_type") == "stix" and isinstance(pattern, str):
        raw = list(pattern_identifiers(pattern, fast_comparisons(pattern)))
    else:
        raw = list(sco_identifiers(target))
    found = set()
    for kind, value in raw:
        try:
            canonical = normalise(kind, value, default_region=region)
        except InvalidIdentifier:
            continue  # the index never held it either
        found.add((str(canonical.kind), canonical.value))
    return found


def _observed_at(sighting: dict[str, Any], now: datetime) -> datetime:
    for key in ("last_seen", "first_seen", "created"):
        if isinstance(sighting.get(key), str):
            when = parse_timestamp(key, key, sighting[key])
            return min(when, now + MAX_CLOCK_SKEW)
    return now


def _outcome(sighting: dict[str, Any]) -> str:
    declared = sighting.get("x_accord_outcome")
    if isinstance(declared, str) and declared in {o.value for o in Outcome}:
        return declared
    if sighting.get("x_opencti_negative") is True:
        return Outcome.FALSE_POSITIVE.value
    return Outcome.SEEN.value
