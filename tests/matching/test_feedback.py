"""Feedback on values (``POST /api/v1/feedback``) and the score every lookup result carries."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from accord.audit.models import AuditEntry
from accord.clock import FrozenClock
from accord.errors import InvalidInput
from accord.identity.errors import PermissionDenied
from accord.intel.models import Observable
from accord.matching.models import MAX_NOTE_LENGTH, ObservableFeedback
from accord.matching.scoring import FEEDBACK_WEIGHTS, RECENCY_POINTS
from accord.node import Node
from tests.conftest import START, World, count_rows
from tests.matching.conftest import NUMBER, WHY, Scam

FEEDBACK = "/api/v1/feedback"


def _post(client: Any, world: World, who: str, body: dict[str, Any]) -> Any:
    return client.post(FEEDBACK, json=body, headers=world.auth(who))


def _feedback_rows(node: Node) -> list[ObservableFeedback]:
    with node.db.reading() as session:
        return list(session.scalars(select(ObservableFeedback).order_by(ObservableFeedback.id)))


def test_a_partner_records_an_outcome_with_an_audit_entry(client, node: Node, world: World, scam: Scam) -> None:
    observed = (START - timedelta(hours=2)).isoformat()
    body = {"value": "091 234 5678", "outcome": "blocked", "observed_at": observed, "note": "blocked at 07:00"}
    answer = _post(client, world, "partner", body)
    assert answer.status_code == 201, answer.text
    document = answer.json()
    assert (document["type"], document["canonical"], document["outcome"]) == ("phone-number", NUMBER, "blocked")
    assert document["observed_at"] == observed and document["created_at"] == START.isoformat()
    (row,) = _feedback_rows(node)
    assert (row.party_id, row.username, row.outcome, row.note) == (world.bank.id, "partner", "blocked", body["note"])
    with node.db.reading() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "matching.feedback")).one()
        observable_id = session.scalars(select(Observable.id).where(Observable.value == NUMBER)).one()
    assert json.loads(entry.details) == {"outcome": "blocked", "observable_id": observable_id}
    assert entry.object_id == str(row.id) and row.observable_id == observable_id
    stored = json.dumps([entry.details, entry.object_id, entry.object_type])
    assert NUMBER not in stored and "234 5678" not in stored


def test_feedback_on_a_value_nobody_reported_creates_its_index_row(node: Node, world: World, scam: Scam) -> None:
    before = count_rows(node, "observables")
    record = node.matching.record_feedback(
        scam.partner, "DE89 3704 0044 0532 0130 00", None, "victim_payment", None, None, WHY
    )
    assert (record.type, record.canonical, record.observed_at) == ("bank-account", "DE89370400440532013000", START)
    assert count_rows(node, "observables") == before + 1
    (result,) = node.matching.lookup(scam.analyst, ["DE89370400440532013000"], None, WHY)
    assert not result.hits.found and result.score is not None
    parts = {part.name: part.points for part in result.score.parts}
    assert parts["reports"] == 0 and parts["feedback:victim_payment"] == FEEDBACK_WEIGHTS["victim_payment"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": NUMBER, "outcome": "stolen"}, "outcome"),
        (
            {"value": NUMBER, "outcome": "seen", "observed_at": (START + timedelta(minutes=6)).isoformat()},
            "observed_at",
        ),
        ({"value": NUMBER, "outcome": "seen", "observed_at": "2026-11-23T08:00:00"}, "observed_at"),
        ({"value": NUMBER, "outcome": "seen", "note": "x" * (MAX_NOTE_LENGTH + 1)}, "note"),
        ({"value": "not an identifier ###", "outcome": "seen"}, "value"),
        ({"value": NUMBER, "type": "postcode", "outcome": "seen"}, "type"),
        ({"value": NUMBER, "outcome": "seen", "who": "me"}, "who"),
        ({"outcome": "seen"}, "value"),
    ],
)
def test_bad_feedback_is_refused_naming_the_field(client, node: Node, world: World, body, field: str) -> None:
    answer = _post(client, world, "partner", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert _feedback_rows(node) == []


def test_a_time_a_little_ahead_of_the_clock_is_accepted(node: Node, world: World, scam: Scam) -> None:
    ahead = START + timedelta(minutes=4)
    record = node.matching.record_feedback(scam.partner, NUMBER, None, "seen", ahead, None, WHY)
    assert record.observed_at == ahead


def test_service_errors_carry_the_field(node: Node, world: World, scam: Scam) -> None:
    with pytest.raises(InvalidInput) as caught:
        node.matching.record_feedback(scam.partner, NUMBER, None, "seen", START + timedelta(hours=1), None, WHY)
    assert caught.value.field == "observed_at"


def test_auditors_give_no_feedback(client, node: Node, world: World) -> None:
    answer = _post(client, world, "auditor", {"value": NUMBER, "outcome": "seen"})
    assert answer.status_code == 403
    auditor = node.identity.authenticate_token(world.tokens["auditor"])
    with pytest.raises(PermissionDenied):
        node.matching.record_feedback(auditor, NUMBER, None, "seen", None, None, WHY)
    assert _feedback_rows(node) == []


def test_the_scam_number_scores_with_every_part_explained(client, world: World, scam: Scam) -> None:
    answer = client.post(
        "/api/v1/lookup", json={"values": [NUMBER]}, headers={**world.auth("pnp"), "Accord-Purpose": "case"}
    )
    (result,) = answer.json()["results"]
    assert result["score"] == {
        "value": 80.0,
        "parts": [
            {"name": "reports", "points": 10.0, "explanation": "2 reports: 2 x 5 = 10 points"},
            {"name": "parties", "points": 30.0, "explanation": "2 distinct reporting parties: 2 x 15 = 30 points"},
            {
                "name": "countries",
                "points": 10.0,
                "explanation": "2 countries (PH, VN), 1 beyond the first: 1 x 10 = 10 points",
            },
            {
                "name": "recency",
                "points": 30.0,
                "explanation": "last reported 0 days ago, half-life 90 days for phone-number: "
                "30 x 0.5^(0/90) = 30 points",
            },
        ],
    }


def test_a_value_nobody_knows_has_no_score(node: Node, world: World, scam: Scam) -> None:
    (result,) = node.matching.lookup(scam.analyst, ["+84987654321"], None, WHY)
    assert result.score is None and result.document()["score"] is None


def test_withheld_reports_count_once_per_party_and_give_no_date(node: Node, world: World, scam: Scam) -> None:
    # The analyst may not see the Philippine RED report: it counts as one report of one party, like the hit/no-hit
    # answer, and the recency is that of the GREEN report the analyst sees.
    (mine,) = node.matching.lookup(scam.analyst, [NUMBER], None, WHY)
    (theirs,) = node.matching.lookup(scam.pnp, [NUMBER], None, WHY)
    assert mine.score is not None and theirs.score is not None
    assert mine.score.parts[0].explanation == "2 reports: 2 x 5 = 10 points"
    assert mine.score.value == theirs.score.value


def test_recency_halves_after_one_half_life(node: Node, world: World, scam: Scam, clock: FrozenClock) -> None:
    (fresh,) = node.matching.lookup(scam.pnp, [NUMBER], None, WHY)
    clock.advance(timedelta(days=90))  # phone-number's half-life by default
    (later,) = node.matching.lookup(scam.pnp, [NUMBER], None, WHY)
    assert fresh.score is not None and later.score is not None
    assert (fresh.score.parts[3].points, later.score.parts[3].points) == (RECENCY_POINTS, RECENCY_POINTS / 2)
    assert later.score.value == fresh.score.value - RECENCY_POINTS / 2


def test_a_false_positive_lowers_the_score(node: Node, world: World, scam: Scam) -> None:
    (before,) = node.matching.lookup(scam.analyst, [NUMBER], None, WHY)
    node.matching.record_feedback(scam.partner, "0912345678", "phone-number", "false_positive", None, "ours", WHY)
    (after,) = node.matching.lookup(scam.analyst, [NUMBER], None, WHY)
    assert before.score is not None and after.score is not None
    assert after.score.value == before.score.value + FEEDBACK_WEIGHTS["false_positive"]
    assert after.score.parts[-1].name == "feedback:false_positive"
    assert "ours" not in json.dumps(after.document())  # the note stays with its writer
