"""A hit becomes a cooperation draft addressed to the party holding the value, pre-filled only with what the
requester was allowed to see (issue 4, part 6)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from accord.errors import InvalidInput
from accord.identity.errors import PermissionDenied
from accord.node import Node
from tests.conftest import World, count_rows
from tests.matching.conftest import NUMBER, WHY, Scam

PURPOSE = {"Accord-Purpose": "fraud investigation 2026/117"}


def test_a_hit_on_withheld_reports_becomes_a_draft_without_their_ids(node: Node, world: World, scam: Scam) -> None:
    draft = node.cooperation.draft_from_hit(scam.analyst, "+84 91 234 5678", None, world.pnp.id, WHY)
    assert (draft.state, draft.requested_party_id, draft.requesting_party_id) == (
        "draft",
        world.pnp.id,
        world.police.id,
    )
    assert draft.fields["identifier"]["canonical"] == NUMBER
    assert draft.fields["holds_withheld_reports"] is True
    assert draft.fields["reports_seen"] == []  # the PNP report is RED: its id never reaches the draft
    assert scam.red["id"] not in str(draft.fields)
    assert count_rows(node, "audit_entries", "action = 'cooperation.draft'") == 1
    assert [d.id for d in node.cooperation.drafts(scam.analyst, WHY)] == [draft.id]
    assert count_rows(node, "audit_entries", "action = 'cooperation.drafts.read'") == 1
    assert node.cooperation.drafts(scam.pnp, WHY) == []  # drafts stay with the party that wrote them


def test_a_visible_report_is_named_in_the_draft(node: Node, world: World, scam: Scam) -> None:
    draft = node.cooperation.draft_from_hit(scam.pnp, NUMBER, "phone-number", world.police.id, WHY)
    assert [seen["stix_id"] for seen in draft.fields["reports_seen"]] == [scam.green["id"]]
    assert draft.fields["holds_withheld_reports"] is False


@pytest.mark.parametrize(
    ("holder", "value", "field"),
    [
        ("bank", NUMBER, "holder"),  # the bank holds no report of it
        ("police", NUMBER, "holder"),  # one's own party
        ("pnp", "not a phone number at all", "value"),
    ],
)
def test_drafts_need_a_real_holder_and_value(
    node: Node, world: World, scam: Scam, holder: str, value: str, field: str
) -> None:
    party = {"bank": world.bank.id, "police": world.police.id, "pnp": world.pnp.id}[holder]
    with pytest.raises(InvalidInput) as refused:
        node.cooperation.draft_from_hit(scam.analyst, value, None, party, WHY)
    assert refused.value.field == field
    assert count_rows(node, "cooperation_requests") == 0


def test_an_unknown_kind_is_refused_naming_type(node: Node, world: World, scam: Scam) -> None:
    with pytest.raises(InvalidInput) as refused:
        node.cooperation.draft_from_hit(scam.analyst, NUMBER, "telephone", world.pnp.id, WHY)
    assert refused.value.field == "type"


def test_partners_and_auditors_draft_no_cooperation_requests(node: Node, world: World, scam: Scam) -> None:
    auditor = node.identity.authenticate_token(world.tokens["auditor"])
    for actor in (scam.partner, auditor):
        with pytest.raises(PermissionDenied):
            node.cooperation.draft_from_hit(actor, NUMBER, None, world.pnp.id, WHY)


def test_the_api_opens_and_lists_drafts(client: TestClient, world: World, scam: Scam) -> None:
    headers = {**world.auth("analyst"), **PURPOSE}
    created = client.post("/api/v1/cooperation/drafts", json={"value": NUMBER, "holder": world.pnp.id}, headers=headers)
    assert created.status_code == 201, created.text
    listed = client.get("/api/v1/cooperation/drafts", headers=headers)
    assert [d["id"] for d in listed.json()["drafts"]] == [created.json()["id"]]
    assert listed.json()["drafts"][0]["requested_party"] == world.pnp.name
    assert client.get("/api/v1/cooperation/drafts", headers=world.auth("analyst")).status_code == 422  # no purpose


def test_the_api_names_the_field_it_refuses(client: TestClient, world: World, scam: Scam) -> None:
    headers = {**world.auth("analyst"), **PURPOSE}
    wrong = client.post("/api/v1/cooperation/drafts", json={"value": NUMBER, "holder": world.bank.id}, headers=headers)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert "holder" in wrong.text
    extra = client.post(
        "/api/v1/cooperation/drafts", json={"value": NUMBER, "holder": world.pnp.id, "x": 1}, headers=headers
    )
    assert extra.status_code == 422 and "x" in extra.text
    no_purpose = client.post(
        "/api/v1/cooperation/drafts", json={"value": NUMBER, "holder": world.pnp.id}, headers=world.auth("analyst")
    )
    assert no_purpose.status_code in (400, 422) and "purpose" in no_purpose.text.lower()


def test_request_cooperation_button_on_the_lookup_page(
    client: TestClient, node: Node, world: World, scam: Scam
) -> None:
    """The lookup page offers a draft to each holder the reader may see or is told of, never to its own party."""
    from tests.web.test_pages import log_in

    token = log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/lookup", params={"value": "+84 91 234 5678"})
    assert page.status_code == 200
    assert f'name="holder" value="{world.pnp.name}"' in page.text  # by name: the page names holders, no ids
    assert f'name="holder" value="{world.police.name}"' not in page.text
    answer = client.post(
        "/lookup/cooperation",
        data={"value": "+84 91 234 5678", "type": "detect", "holder": world.pnp.name, "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"].endswith("/edit")
    assert count_rows(node, "cooperation_requests", "origin = 'matching hit'") == 1
    forged = client.post("/lookup/cooperation", data={"value": NUMBER, "holder": world.pnp.id}, follow_redirects=False)
    assert forged.status_code == 403  # no CSRF token
