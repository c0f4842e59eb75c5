"""Property: whatever sequence of moves people try, no request reaches "sent" without every element the
catalogue requires, and none is refused or postponed without grounds, reasons, an approver and a record that
partial execution was considered. Hypothesis drives the real service on a real database."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.cooperation import states
from accord.cooperation.legal import Decision
from accord.cooperation.states import IllegalTransition
from accord.cooperation.validation import RequestIncomplete
from accord.errors import NotFound
from accord.identity.errors import PermissionDenied
from accord.node import Node
from tests.cooperation.conftest import Desks
from tests.cooperation.test_requests import WHY, preservation_fields

REQUIRED = [
    "requesting_authority",
    "requested_authority",
    "offences",
    "facts_summary",
    "data_to_preserve",
    "relationship_to_offence",
    "custodian",
    "necessity",
    "intends_mla",
]
DECISIONS = st.builds(
    Decision,
    grounds=st.lists(
        st.sampled_from(["essential_interests", "no_dual_criminality", "political_offence", "made_up"]), max_size=2
    ).map(tuple),
    reasons=st.one_of(st.none(), st.just("Reasons given to the requesting party.")),
    approved_by=st.one_of(st.none(), st.just("Director")),
    partial_considered=st.one_of(st.none(), st.booleans()),
    note=st.one_of(st.none(), st.just("details")),
)
MOVES = st.lists(
    st.tuples(st.sampled_from(["analyst", "authority", "pnp_poc"]), st.sampled_from(states.STATES), DECISIONS),
    min_size=1,
    max_size=12,
)


@pytest.mark.parametrize("instrument", ["UN", "BC"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dropped=st.sets(st.sampled_from(REQUIRED), max_size=3), moves=MOVES)
def test_no_path_sends_an_incomplete_request_or_refuses_without_grounds(
    node: Node, desks: Desks, instrument: str, dropped: set[str], moves: list[tuple[str, str, Decision]]
) -> None:
    requests = node.cooperation_requests
    fields: dict[str, Any] = {k: v for k, v in preservation_fields().items() if k not in dropped}
    request_id = requests.create(
        desks.analyst,
        request_type="preservation",
        instrument=instrument,
        requested_party=desks.world.pnp.id,
        fields=fields,
        language="en",
        case_reference="VN-A05-2026-0117",
    ).row.id
    actors = {"analyst": desks.analyst, "authority": desks.authority, "pnp_poc": desks.pnp_poc}
    for who, to, decision in moves:
        try:
            requests.transition(actors[who], request_id, to, decision)
        except (IllegalTransition, RequestIncomplete, PermissionDenied, NotFound):
            pass
    history = requests.get(desks.authority, request_id, WHY).document()["history"]
    if any(h["to"] == states.SENT for h in history):
        assert not dropped, f"sent without {sorted(dropped)}"
    allowed = {"essential_interests", "political_offence"} if instrument == "BC" else {"essential_interests"}
    for entry in history:
        if entry["to"] in (states.REFUSED, states.POSTPONED):
            assert entry["grounds"] and set(entry["grounds"]) <= allowed | {"dual_criminality_reservation"}
            assert "no_dual_criminality" not in entry["grounds"]
            assert entry["reasons"] and entry["approved_by"] and entry["partial_considered"] is True
