"""STIX sightings count as feedback: the sighting's party saw every identifier of the sighted object, at the
sighting's time, with the outcome it declares (OpenCTI's negative flag: a false positive)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from accord.matching.models import ObservableFeedback
from accord.matching.sightings import SIGHTING_USER
from accord.node import Node
from tests.conftest import World
from tests.matching.conftest import NUMBER, WHY, Scam


def sighting(n: int, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": f"sighting--{uuid.uuid5(uuid.NAMESPACE_URL, f'https://accord.test/sighting/{n}')}",
        "created": "2026-11-20T08:00:00.000Z",
        "modified": "2026-11-20T08:00:00.000Z",
        "sighting_of_ref": target,
        "first_seen": "2026-11-19T07:00:00Z",
        "last_seen": "2026-11-20T06:30:00Z",
        "count": 3,
        **extra,
    }


def rows(node: Node) -> list[ObservableFeedback]:
    with node.db.reading() as session:
        return list(session.scalars(select(ObservableFeedback).order_by(ObservableFeedback.id)))


def test_a_sighting_of_an_indicator_is_feedback_from_its_party(node: Node, world: World, scam: Scam) -> None:
    report = node.intel.import_objects(scam.partner, [sighting(1, scam.green["id"])], source="test")
    assert not report.failures
    [row] = rows(node)
    assert (row.party_id, row.username, row.outcome) == (world.bank.id, SIGHTING_USER, "seen")
    assert row.observed_at.isoformat() == "2026-11-20T06:30:00+00:00"
    assert row.note == f"STIX {sighting(1, scam.green['id'])['id']}"
    # The lookup's score counts it like feedback given through the API.
    [result] = node.matching.lookup(scam.analyst, [NUMBER], ["phone-number"], WHY)
    assert result.score is not None
    [part] = [p for p in result.score.document()["parts"] if p["name"] == "feedback:seen"]  # type: ignore[union-attr]
    assert part["explanation"].startswith("1 x seen (latest 2026-11-20)")


def test_outcomes_versions_and_unknown_targets(node: Node, world: World, scam: Scam) -> None:
    negative = sighting(2, scam.green["id"], x_opencti_negative=True)
    blocked = sighting(3, scam.green["id"], x_accord_outcome="blocked")
    nowhere = sighting(4, "indicator--00000000-0000-4000-8000-000000000000")
    node.intel.import_objects(scam.partner, [negative, blocked, nowhere], source="test")
    assert sorted(r.outcome for r in rows(node)) == ["blocked", "false_positive"]
    # A later version of the same sighting (its count went up) is not counted again; a re-import is a no-op.
    updated = {**negative, "modified": "2026-11-21T08:00:00.000Z", "count": 9}
    node.intel.import_objects(scam.partner, [updated, blocked], source="test")
    assert len(rows(node)) == 2
