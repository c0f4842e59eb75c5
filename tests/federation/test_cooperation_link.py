"""Cooperation requests between two served nodes (VN and PH over real loopback HTTP): a request to the party
standing for the other node travels there as a signed envelope, lands in the requested party's inbox with the
same id and reference, and every answer comes back the same way (UN Art. 40, 42)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from accord.cooperation.legal import Decision
from accord.cooperation.models import CooperationRequest
from accord.cooperation.states import IllegalTransition
from accord.federation.envelopes import COOPERATION_MESSAGE, open_envelope, seal
from accord.identity.actor import Actor
from tests.conftest import count_rows
from tests.cooperation.test_requests import preservation_fields
from tests.federation.conftest import TwoCountries
from tests.federation.cooperation_peers import WHY, Desks, desks_for, outbox_rows, post_envelope


@pytest.fixture
def desks(two_countries: TwoCountries, operator: Actor) -> Desks:
    return desks_for(two_countries, operator)


def test_a_request_reaches_the_peer_and_its_answers_come_back(desks: Desks) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    assert desks.vn_view(request_id)["state"] == "sent"  # received only once the peer's receipt is back
    assert count_rows(ph.node, "cooperation_requests") == 0

    assert vn.node.envelopes.deliver_due().delivered == 1
    sent = desks.vn_view(request_id)
    assert sent["state"] == "received" and sent["hold"]["state"] == "active"
    [row] = outbox_rows(vn.node)
    assert row["kind"] == "cooperation.request" and row["delivered_at"] is not None
    # The receipt is PH's signature over the envelope's id and hash.
    receipt = open_envelope(row["receipt"], sender=ph.node_id, sender_key=ph.node.keys.public_raw, recipient=vn.node_id)
    assert receipt.kind == "receipt" and receipt.body["envelope_id"] == row["envelope_id"]

    # PH: the same request, in the inbox of the party PH speaks for, from the party standing for VN.
    [arrived] = ph.node.cooperation_requests.listing(desks.ph_poc, "inbox", WHY)
    document = arrived.document()
    assert document["id"] == request_id and document["reference"] == sent["reference"]
    assert document["requesting_party"]["name"] == "A05 Cybercrime Unit"
    assert document["requested_party"]["id"] == ph.party.id
    assert document["state"] == "received" and document["hold"]["state"] == "active"
    assert document["fields"]["custodian"] == {"name": "Demo Mobile PH", "location": "Manila"}
    assert document["history"][0]["actor"] == f"a05.analyst@{vn.node_id}"

    desks.ph_move(request_id, "acknowledged")
    desks.ph_move(request_id, "executing")
    desks.ph_move(request_id, "executed", note="Records preserved under ticket 88.")
    ph.node.cooperation_requests.message(desks.ph_poc, request_id, "status_answer", "Preserved on 24 Nov.")
    report = ph.node.envelopes.deliver_due()
    assert report.delivered == 4 and report.retrying == 0
    kinds = [r["kind"] for r in outbox_rows(ph.node)]
    assert kinds == ["cooperation.transition", "cooperation.transition", "cooperation.response", "cooperation.message"]

    answered = desks.vn_view(request_id)
    assert answered["state"] == "executed" and answered["decided_at"] is not None
    steps = [(h["machine"], h["to"]) for h in answered["history"]]
    assert steps[-4:] == [
        ("request", "acknowledged"),
        ("request", "executing"),
        ("request", "executed"),
        ("message", "status_answer"),
    ]
    assert answered["history"][-2]["note"] == "Records preserved under ticket 88."
    assert answered["history"][-2]["from_node"] == ph.node_id
    assert count_rows(vn.node, "audit_entries", "action = 'cooperation.request.remote'") == 3


def test_a_refusal_carries_its_grounds_and_reasons_back(desks: Desks) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    vn.node.envelopes.deliver_due()
    desks.ph_move(request_id, "acknowledged")
    rules = ph.node.cooperation_requests.catalogue.request_type("preservation").rules("UN")
    reasons = "The data concern a matter under national security review."
    desks.ph_move(
        request_id,
        "refused",
        grounds=(sorted(rules.refusal_grounds)[0],),
        reasons=reasons,
        approved_by="Director, PNP ACG",
        partial_considered=True,
    )
    assert ph.node.envelopes.deliver_due().delivered == 2
    refused = desks.vn_view(request_id)
    assert refused["state"] == "refused"
    assert refused["history"][-1]["reasons"] == reasons  # UN 40(23): reasons go to the requesting party
    assert outbox_rows(ph.node)[-1]["kind"] == "cooperation.response"


def test_the_requesting_side_withdraws_and_the_peer_sees_it(desks: Desks) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    vn.node.envelopes.deliver_due()
    vn.node.cooperation_requests.transition(desks.vn_analyst, request_id, "withdrawn", Decision())
    vn.node.envelopes.deliver_due()
    assert desks.ph_view(request_id)["state"] == "withdrawn"
    with pytest.raises(IllegalTransition):
        desks.ph_move(request_id, "acknowledged")
    assert count_rows(ph.node, "federation_outbox") == 0  # a refused move sends nothing


def test_a_peer_may_only_make_its_own_sides_moves(desks: Desks) -> None:
    """PH speaks for the requested party: an envelope in which it withdraws VN's request (the requesting side's
    move) is refused with 409, and nothing changes."""
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    vn.node.envelopes.deliver_due()
    forged = _change_envelope(desks, request_id, machine="request", to="withdrawn", side="requesting")
    response = post_envelope(ph, vn.url, {"envelope": forged})
    assert response.status_code == 409
    assert response.json()["current_state"] == "received"
    forged = _change_envelope(desks, request_id, machine="request", to="withdrawn", side="requested")
    assert post_envelope(ph, vn.url, {"envelope": forged}).status_code == 409  # not a move the requested side makes
    assert desks.vn_view(request_id)["state"] == "received"


def test_a_message_about_a_request_the_peer_is_no_party_to_is_refused(desks: Desks, operator: Actor) -> None:
    """A request between two parties of the VN node: PH is no party to it and does not learn it exists."""
    vn, ph = desks.countries.vn, desks.countries.ph
    bank = vn.node.identity.add_party(operator, "Demo Bank VN", "bank", "VN")
    requests = vn.node.cooperation_requests
    local = requests.create(
        desks.vn_analyst,
        request_type="preservation",
        instrument="UN",
        requested_party=bank.id,
        fields=preservation_fields(),
        language="en",
        case_reference="VN-A05-2026-0118",
    ).row.id
    requests.transition(desks.vn_analyst, local, "sent", Decision())
    assert count_rows(vn.node, "federation_outbox") == 0  # both parties on this node: nothing travels
    forged = _change_envelope(desks, local, machine="message", to="status_answer", side="requested")
    response = post_envelope(ph, vn.url, {"envelope": forged})
    assert response.status_code == 404 and response.json()["kind"] == "cooperation request"
    with vn.node.db.reading() as session:
        row = session.scalars(select(CooperationRequest).where(CooperationRequest.id == local)).one()
        assert row.state == "received"
    assert count_rows(vn.node, "federation_inbox") == 0


def _change_envelope(desks: Desks, request_id: str, *, machine: str, to: str, side: str) -> str:
    """A well-signed envelope from PH carrying a change PH chose (to test what VN lets a peer do)."""
    vn, ph = desks.countries.vn, desks.countries.ph
    kind = COOPERATION_MESSAGE if machine == "message" else "cooperation.transition"
    body = {
        "request_id": request_id,
        "machine": machine,
        "to": to,
        "side": side,
        "actor": "pnp.poc",
        "details": {"text": "Done."} if machine == "message" else {},
    }
    envelope = seal(
        ph.node.keys.private_key,
        envelope_id=ph.node.ids.new_id("envelope"),
        kind=kind,
        sender=ph.node_id,
        recipient=vn.node_id,
        issued_at=ph.node.clock.now(),
        body=body,
    )
    return envelope.token
