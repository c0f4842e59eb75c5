"""Cooperation requests on both databases: drafts checked against the legal catalogue, the state machine and its
legal guards, the immutable history, preservation holds and their clocks on a frozen clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.cooperation.legal import Decision
from accord.cooperation.states import IllegalTransition
from accord.cooperation.validation import RequestIncomplete
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.errors import PermissionDenied
from accord.node import Node
from tests.conftest import count_rows
from tests.cooperation.conftest import Desks

WHY = Disclosure(purpose="case VN-A05-2026-0117")


def preservation_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "requesting_authority": "A05, Ministry of Public Security, Ha Noi",
        "requested_authority": "PNP Anti-Cybercrime Group, 24/7 point of contact",
        "offences": ["UN-7"],
        "facts_summary": "Victims received SMS from a fake bank hotline and paid into a wallet.",
        "data_to_preserve": [
            {
                "description": "Subscriber and traffic records of +63 917 123 4567, 1-31 Oct 2026",
                "category": "traffic_data",
            }
        ],
        "relationship_to_offence": "The number sent the scam messages.",
        "custodian": {"name": "Demo Mobile PH", "location": "Manila"},
        "necessity": "Providers keep traffic data for 90 days only.",
        "intends_mla": True,
    }
    fields.update(changes)
    return {k: v for k, v in fields.items() if v is not None}


def _draft(node: Node, desks: Desks, **changes: Any) -> str:
    view = node.cooperation_requests.create(
        desks.analyst,
        request_type="preservation",
        instrument="UN",
        requested_party=desks.world.pnp.id,
        fields=preservation_fields(**changes),
        language="en",
        case_reference="VN-A05-2026-0117",
    )
    return view.row.id


def _move(node: Node, actor: Actor, request_id: str, to: str, **decision: Any) -> dict[str, Any]:
    return node.cooperation_requests.transition(actor, request_id, to, Decision(**decision)).document()


def test_catalogue_lists_request_types_with_required_fields(node: Node) -> None:
    view = node.cooperation_requests.catalogue.public_view()
    preservation = view["request_types"]["preservation"]
    required = {r["field"]: r["article"] for r in preservation["instruments"]["UN"]["required"]}
    assert {"requesting_authority", "offences", "facts_summary", "data_to_preserve", "custodian"} <= set(required)
    assert required["intends_mla"].startswith("UN 42(3)")
    assert view["catalogue_version"] == node.cooperation_requests.catalogue.version


def test_a_preservation_request_from_draft_to_executed(node: Node, desks: Desks, clock: FrozenClock) -> None:
    request_id = _draft(node, desks)
    draft = node.cooperation_requests.get(desks.analyst, request_id, WHY).document()
    assert draft["state"] == "draft" and draft["blocking"] == []
    assert draft["fields"]["confidential"] is True and draft["fields"]["do_not_notify_user"] is True  # defaults
    assert draft["reference"].startswith("VN-2026-")
    sent = _move(node, desks.analyst, request_id, "sent")
    assert sent["state"] == "received"  # both parties are on this node: delivered at once
    assert sent["hold"]["state"] == "active"
    hold_clock = next(c for c in sent["clocks"] if c["name"] == "preservation_hold")
    assert hold_clock["due_at"] == (clock.now() + timedelta(days=60)).isoformat()
    assert len(hold_clock["alerts"]) == 3
    clock.advance(timedelta(hours=2))
    _move(node, desks.pnp_poc, request_id, "acknowledged")
    _move(node, desks.pnp_poc, request_id, "executing")
    done = _move(node, desks.pnp_poc, request_id, "executed")
    assert [(h["from"], h["to"]) for h in done["history"] if h["machine"] == "request"] == [
        (None, "draft"),
        ("draft", "sent"),
        ("sent", "received"),
        ("received", "acknowledged"),
        ("acknowledged", "executing"),
        ("executing", "executed"),
    ]
    assert all(h["catalogue_version"] == node.cooperation_requests.catalogue.version for h in done["history"])
    assert count_rows(node, "audit_entries", "action = 'cooperation.request.transition'") == 4


def test_missing_elements_are_listed_with_their_articles(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks, custodian=None, intends_mla=False, facts_summary=None)
    with pytest.raises(RequestIncomplete) as refused:
        _move(node, desks.analyst, request_id, "sent")
    problems = {p.field: p for p in refused.value.problems}
    assert set(problems) == {"custodian", "intends_mla", "facts_summary"}
    assert all(p.article and p.article.startswith("UN 42(3)") for p in problems.values())
    assert node.cooperation_requests.get(desks.analyst, request_id, WHY).row.state == "draft"  # nothing moved
    assert count_rows(node, "cooperation_transitions") == 1


def test_unknown_custodian_needs_an_explanation(node: Node, desks: Desks) -> None:
    with pytest.raises(RequestIncomplete) as refused:
        _draft(node, desks, custodian={"unknown": True})
    assert [p.field for p in refused.value.problems] == ["custodian"]
    request_id = _draft(node, desks, custodian=None)
    with pytest.raises(RequestIncomplete) as refused:
        _move(node, desks.analyst, request_id, "sent")
    assert [(p.field, p.article) for p in refused.value.problems] == [("custodian", "UN 42(3)(d)")]
    node.cooperation_requests.update(
        desks.analyst, request_id, {"fields": {"custodian": {"unknown": True, "explanation": "VoIP reseller"}}}
    )
    assert _move(node, desks.analyst, request_id, "sent")["state"] == "received"


def test_illegal_transitions_name_both_states(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    with pytest.raises(IllegalTransition) as refused:
        _move(node, desks.analyst, request_id, "executed")
    assert (refused.value.current, refused.value.requested) == ("draft", "executed")
    _move(node, desks.analyst, request_id, "sent")
    with pytest.raises(IllegalTransition):  # the requesting side cannot acknowledge its own request
        _move(node, desks.authority, request_id, "acknowledged")
    with pytest.raises(PermissionDenied):  # an analyst of the requested party may not answer for it
        _move(node, desks.pnp_analyst, request_id, "acknowledged")
    assert count_rows(node, "audit_entries", "action = 'access.denied'") == 1


def test_refusal_needs_allowed_grounds_reasons_approver_and_partial_execution(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    _move(node, desks.analyst, request_id, "sent")
    _move(node, desks.pnp_poc, request_id, "acknowledged")
    with pytest.raises(RequestIncomplete) as refused:
        _move(node, desks.pnp_poc, request_id, "refused")
    assert {p.field for p in refused.value.problems} == {"grounds", "reasons", "approved_by", "partial_considered"}
    with pytest.raises(RequestIncomplete) as refused:
        _move(
            node,
            desks.pnp_poc,
            request_id,
            "refused",
            grounds=("no_dual_criminality",),
            reasons="not an offence here",
            approved_by="Director, DOJ-OOC",
            partial_considered=True,
        )
    assert "never a ground" in refused.value.problems[0].reason  # no dual criminality is never one for preservation
    done = _move(
        node,
        desks.pnp_poc,
        request_id,
        "refused",
        grounds=("essential_interests",),
        reasons="Execution would prejudice an ongoing national security operation.",
        approved_by="Director, DOJ-OOC",
        partial_considered=True,
    )
    last = done["history"][-1]
    assert last["grounds"] == ["essential_interests"] and last["approved_by"] == "Director, DOJ-OOC"
    assert last["partial_considered"] is True


def test_language_must_be_accepted_by_the_requested_party(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    node.cooperation_requests.update(desks.analyst, request_id, {"language": "vi"})
    with pytest.raises(RequestIncomplete) as refused:
        _move(node, desks.analyst, request_id, "sent")
    assert [p.field for p in refused.value.problems] == ["language"]


def test_internal_approval_needs_another_person_with_the_right(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    _move(node, desks.analyst, request_id, "pending_approval")
    with pytest.raises(PermissionDenied):
        _move(node, desks.analyst, request_id, "sent")
    sent = _move(node, desks.authority, request_id, "sent")
    assert next(h for h in sent["history"] if h["to"] == "sent")["approved_by"] == "vn.authority"


def test_requested_side_only_sees_a_request_once_sent(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    assert node.cooperation_requests.listing(desks.pnp_poc, "inbox", WHY) == []
    from accord.errors import NotFound

    with pytest.raises(NotFound):
        node.cooperation_requests.get(desks.pnp_poc, request_id, WHY)
    _move(node, desks.analyst, request_id, "sent")
    assert [v.row.id for v in node.cooperation_requests.listing(desks.pnp_poc, "inbox", WHY)] == [request_id]
    assert [v.row.id for v in node.cooperation_requests.listing(desks.analyst, "outbox", WHY)] == [request_id]


def test_hold_alerts_and_expiry_on_a_frozen_clock(node: Node, desks: Desks, clock: FrozenClock) -> None:
    request_id = _draft(node, desks)
    _move(node, desks.analyst, request_id, "sent")
    requests = node.cooperation_requests
    clock.advance(timedelta(days=45))
    assert requests.tick()["alerts"] == 0
    clock.advance(timedelta(days=1))  # D-14
    assert requests.tick()["alerts"] == 2  # both parties
    assert requests.tick()["alerts"] == 0  # once only
    clock.advance(timedelta(days=7))  # D-7
    assert requests.tick()["alerts"] == 2
    clock.advance(timedelta(days=6))  # D-1
    assert requests.tick()["alerts"] == 2
    clock.advance(timedelta(days=1))  # day 60
    assert requests.tick()["expired"] == 1
    view = requests.get(desks.analyst, request_id, WHY).document()
    assert view["hold"]["state"] == "expired"
    kinds = [n["kind"] for n in requests.notifications(desks.analyst)]
    assert kinds.count("hold-expired") == 1 and sum(k.startswith("hold-D-") for k in kinds) == 3


def test_an_mla_request_keeps_the_preservation_alive(node: Node, desks: Desks, clock: FrozenClock) -> None:
    preservation = _draft(node, desks)
    _move(node, desks.analyst, preservation, "sent")
    clock.advance(timedelta(days=50))
    mla = node.cooperation_requests.create(
        desks.analyst,
        request_type="mla_stored_data",
        instrument="UN",
        requested_party=desks.world.pnp.id,
        language="en",
        fields={"linked_preservation": preservation},
    ).row.id
    catalogue = node.cooperation_requests.catalogue
    required = catalogue.request_types["mla_stored_data"].rules("UN").required
    filler = {
        "offences": ["UN-7"],
        "data_to_preserve": preservation_fields()["data_to_preserve"],
        "custodian": {"name": "Demo Mobile PH"},
        "intends_mla": True,
        "identifiers": [{"value": "+639171234567", "type": "phone-number"}],
    }
    fields = {
        r.field: filler.get(r.field, _text_for(catalogue, r.field))
        for r in required
        if r.field not in ("linked_preservation",)
    }
    node.cooperation_requests.update(desks.analyst, mla, {"fields": fields})
    _move(node, desks.analyst, mla, "sent")
    held = node.cooperation_requests.get(desks.analyst, preservation, WHY).document()
    assert held["hold"]["state"] == "mla_received"
    clock.advance(timedelta(days=30))  # past day 60: the hold does not expire while the MLA is pending
    assert node.cooperation_requests.tick()["expired"] == 0
    _move(node, desks.pnp_poc, mla, "acknowledged")
    _move(node, desks.pnp_poc, mla, "executing")
    _move(node, desks.pnp_poc, mla, "executed")
    released = node.cooperation_requests.get(desks.analyst, preservation, WHY).document()
    assert released["hold"]["state"] == "released"


def _text_for(catalogue: Any, field: str) -> Any:
    spec = catalogue.fields[field]
    if spec.type == "boolean":
        return spec.must_be if spec.must_be is not None else True
    if spec.type == "checklist":
        return dict.fromkeys(spec.items, True)
    if spec.type == "choice":
        return spec.items[0]
    if spec.type == "date_range":
        return {"from": "2026-10-01", "to": "2026-10-31"}
    if spec.type == "custodian":
        return {"name": "Demo Mobile PH"}
    if spec.type == "offences":
        return ["UN-7"]
    if spec.type == "identifiers":
        return [{"value": "+639171234567", "type": "phone-number"}]
    if spec.type == "language":
        return "en"
    return f"{spec.title} for the test"


def test_extension_before_expiry(node: Node, desks: Desks, clock: FrozenClock) -> None:
    request_id = _draft(node, desks)
    _move(node, desks.analyst, request_id, "sent")
    requests = node.cooperation_requests
    with pytest.raises(RequestIncomplete):
        requests.hold_transition(desks.analyst, request_id, "extension_requested")
    requests.hold_transition(desks.analyst, request_id, "extension_requested", justification="MLA being translated")
    expires = clock.now() + timedelta(days=60)
    with pytest.raises(RequestIncomplete):
        requests.hold_transition(desks.pnp_poc, request_id, "extended", until=expires - timedelta(days=1))
    view = requests.hold_transition(desks.pnp_poc, request_id, "extended", until=expires + timedelta(days=30))
    assert view.document()["hold"]["expires_at"] == (expires + timedelta(days=30)).isoformat()
    with pytest.raises(IllegalTransition):
        requests.hold_transition(desks.authority, request_id, "released")  # the requested side releases


def test_emergency_acknowledgement_escalates_after_15_minutes(node: Node, desks: Desks, clock: FrozenClock) -> None:
    request_id = _draft(node, desks)
    node.cooperation_requests.update(desks.analyst, request_id, {"urgency": "emergency"})
    _move(node, desks.analyst, request_id, "sent")
    clock.advance(timedelta(minutes=14))
    assert node.cooperation_requests.tick()["escalations"] == 0
    clock.advance(timedelta(minutes=2))
    assert node.cooperation_requests.tick()["escalations"] == 1
    overdue = node.cooperation_requests.listing(desks.pnp_poc, "overdue", WHY)
    assert [v.row.id for v in overdue] == [request_id]
    messages = [n["message"] for n in node.cooperation_requests.notifications(desks.pnp_poc)]
    assert any("escalated" in m for m in messages)


def test_history_is_append_only(node: Node, desks: Desks) -> None:
    _draft(node, desks)
    with pytest.raises(Exception, match="append-only"), node.db.engine.begin() as connection:
        connection.execute(text("UPDATE cooperation_transitions SET to_state = 'executed'"))


def test_unknown_fields_and_bad_values_are_refused(node: Node, desks: Desks) -> None:
    with pytest.raises(RequestIncomplete) as refused:
        _draft(node, desks, secret_field="x", offences=["XX-999"])
    assert {p.field for p in refused.value.problems} == {"secret_field", "offences"}
    with pytest.raises(InvalidInput) as bad:
        node.cooperation_requests.create(
            desks.analyst, request_type="teleportation", instrument="UN", requested_party=desks.world.pnp.id, fields={}
        )
    assert bad.value.field == "type"
    assert count_rows(node, "cooperation_requests") == 0


def test_alerts_are_emailed_through_a_real_smtp_server(
    node: Node, desks: Desks, clock: FrozenClock, operator: Actor
) -> None:
    """A local SMTP sink (aiosmtpd) receives the D-14 alert for both parties' cooperation staff."""
    import socket

    from aiosmtpd.controller import Controller

    from accord.cooperation.notify import Mailer, SmtpSettings

    received: list[tuple[list[str], str]] = []

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append((list(envelope.rcpt_tos), envelope.content.decode()))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        node.identity.add_user(operator, "ph.desk", desks.world.pnp.id, ["point_of_contact"], email="desk@pnp.example")
        node.identity.add_user(
            operator, "vn.desk", desks.world.police.id, ["point_of_contact"], email="desk@a05.example"
        )
        requests = node.cooperation_requests
        requests.alerts.mailer = Mailer(SmtpSettings("127.0.0.1", port, "accord@a05.example"))
        request_id = _draft(node, desks)
        _move(node, desks.analyst, request_id, "sent")
        clock.advance(timedelta(days=46))
        counts = requests.tick()
    finally:
        controller.stop()
    assert counts["alerts"] == 2
    recipients = sorted(address for rcpt, _body in received for address in rcpt)
    assert "desk@pnp.example" in recipients and "desk@a05.example" in recipients
    assert any("D-14" in body for _rcpt, body in received)
    assert all(n["emailed_at"] for n in requests.notifications(desks.pnp_poc) if "D-14" in n["message"])
    assert requests.tick()["emailed"] == 0  # each alert is mailed once


def test_status_inquiry_and_answer(node: Node, desks: Desks, clock: FrozenClock) -> None:
    request_id = _draft(node, desks)
    requests = node.cooperation_requests
    with pytest.raises(IllegalTransition):  # nothing to ask about before it is sent
        requests.message(desks.analyst, request_id, "status_inquiry", "Any news?")
    _move(node, desks.analyst, request_id, "sent")
    requests.message(desks.analyst, request_id, "status_inquiry", "Has the provider confirmed the hold?")
    with pytest.raises(IllegalTransition):  # the requesting side does not answer its own inquiry
        requests.message(desks.authority, request_id, "status_answer", "Yes")
    answered = requests.message(desks.pnp_poc, request_id, "status_answer", "Preserved on 24 Nov, ticket 88.")
    messages = [h for h in answered.document()["history"] if h["machine"] == "message"]
    assert [(m["to"], m["text"]) for m in messages] == [
        ("status_inquiry", "Has the provider confirmed the hold?"),
        ("status_answer", "Preserved on 24 Nov, ticket 88."),
    ]
    assert any("status inquiry" in n["message"] for n in requests.notifications(desks.pnp_poc))


def test_a_domestic_preservation_order_to_a_bank_lasts_its_own_duration(
    node: Node, desks: Desks, clock: FrozenClock
) -> None:
    requests = node.cooperation_requests
    order = requests.create(
        desks.analyst,
        request_type="domestic_preservation_order",
        instrument="DOMESTIC",
        requested_party=desks.world.bank.id,
        case_reference="VN-A05-2026-0117",
        language="vi",
        fields={
            "domestic_legal_basis": "Criminal Procedure Code, preservation of electronic data",
            "offences": ["VN-DEMO-FRAUD-NET"],
            "custodian": {"name": "Demo Bank VN"},
            "data_to_preserve": [{"description": "Statements of account 0123456789", "category": "financial_record"}],
            "order_duration_days": "0",
            "custodian_confidentiality": "The bank must not tell the account holder (BC 16(3)).",
        },
    ).row.id
    with pytest.raises(RequestIncomplete) as refused:
        _move(node, desks.analyst, order, "sent")
    assert [(p.field, p.article) for p in refused.value.problems] == [("order_duration_days", "UN 25(2); BC 16(2)")]
    requests.update(desks.analyst, order, {"fields": {"order_duration_days": "90"}})
    sent = _move(node, desks.analyst, order, "sent")
    assert sent["hold"]["expires_at"] == (clock.now() + timedelta(days=90)).isoformat()


def test_links_to_requests_evidence_and_intelligence(node: Node, desks: Desks) -> None:
    request_id = _draft(node, desks)
    node.cooperation_requests.update(
        desks.analyst,
        request_id,
        {
            "fields": {
                "linked_evidence": ["evidence-item--00000000-0000-4000-8000-000000000001"],
                "linked_indicators": ["indicator--00000000-0000-4000-8000-000000000002"],
            }
        },
    )
    fields = node.cooperation_requests.get(desks.analyst, request_id, WHY).document()["fields"]
    assert fields["linked_evidence"] == ["evidence-item--00000000-0000-4000-8000-000000000001"]
    with pytest.raises(RequestIncomplete) as refused:
        node.cooperation_requests.update(desks.analyst, request_id, {"fields": {"linked_requests": ["'; drop"]}})
    assert refused.value.problems[0].field == "linked_requests"


def test_a_linked_translation_satisfies_the_language_rule(node: Node, desks: Desks) -> None:
    requests = node.cooperation_requests
    original = _draft(node, desks)
    requests.update(desks.analyst, original, {"language": "vi"})  # the PH side accepts en and fil
    translation = requests.create(
        desks.analyst,
        request_type="preservation",
        instrument="UN",
        requested_party=desks.world.pnp.id,
        fields={**preservation_fields(), "translation_of": original},
        language="en",
        case_reference="VN-A05-2026-0117",
    ).row.id
    with pytest.raises(RequestIncomplete):
        _move(node, desks.analyst, original, "sent")
    requests.update(desks.analyst, original, {"fields": {"linked_requests": [translation]}})
    assert _move(node, desks.analyst, original, "sent")["state"] == "received"
