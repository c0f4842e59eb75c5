"""Cooperation pages through the ASGI client with real logged-in sessions, on both databases: the guided form from
the request type to the requested party's inbox, sending refused with each missing element and its article, a
refusal's legal record, the overdue dashboard on a frozen clock, the 24/7 directory, CSRF on every form, and
another party's user kept out of a draft."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from markupsafe import escape

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.cooperation.form_fields import identifier_lines, parse_identifiers
from accord.cooperation.legal import Decision
from accord.cooperation.pages import UI_PURPOSE, pressing_clock
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World, count_rows
from tests.cooperation.test_requests import preservation_fields
from tests.web.test_pages import HTML, log_in

WHY = Disclosure(purpose="case VN-A05-2026-0117")
PNP_PASSWORD = "a long enough password for the PNP desk"
CASE = "VN-A05-2026-0117"


@pytest.fixture
def pnp_desk(node: Node, world: World, operator: Actor) -> Actor:
    """The Philippine 24/7 point of contact: answers requests."""
    node.identity.add_user(operator, "pnp.poc", world.pnp.id, ["point_of_contact"], password=PNP_PASSWORD)
    world.passwords["pnp.poc"] = PNP_PASSWORD
    _view, token = node.identity.create_token(operator, "pnp.poc", "tests", ["read", "write"])
    return node.identity.authenticate_token(token)


def _esc(text: str) -> str:
    return str(escape(text))  # as Jinja escapes it


def _analyst(node: Node, world: World) -> Actor:
    return node.identity.authenticate_token(world.tokens["analyst"])


def _as(client: Any, world: World, username: str) -> str:
    """Log the browser in as ``username`` (after logging out whoever was in); returns the session's CSRF token."""
    client.cookies.clear()
    return log_in(client, username, world.passwords[username])


def _filled_form(token: str, **changes: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "csrf_token": token,
        "urgency": "routine",
        "requesting_authority": "A05, Ministry of Public Security, Ha Noi",
        "requested_authority": "PNP Anti-Cybercrime Group, 24/7 point of contact",
        "offences": ["UN-7", "VN-DEMO-FRAUD-NET"],
        "facts_summary": "Victims received SMS from a fake bank hotline and paid into a wallet.",
        "data_to_preserve.description": ["Subscriber and traffic records of +63 917 123 4567, 1-31 Oct 2026", "", ""],
        "data_to_preserve.category": ["traffic_data", "", ""],
        "relationship_to_offence": "The number sent the scam messages.",
        "custodian.name": "Demo Mobile PH",
        "custodian.location": "Manila",
        "custodian.retention_days": "90",
        "necessity": "Providers keep traffic data for 90 days only.",
        "intends_mla": "true",
        "case_reference": CASE,
        "language": "en",
        "confidential": "true",
        "do_not_notify_user": "true",
        "identifiers": "phone-number:+63 917 123 4567\nscam-hotline.example",
        "date_range.from": "2026-10-01",
        "date_range.to": "2026-10-31",
        "then": "review",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _new_draft(client: Any, token: str, world: World, urgency: str = "routine") -> str:
    answer = client.post(
        "/cooperation/new",
        data={
            "csrf_token": token,
            "type": "preservation",
            "instrument": "UN",
            "requested_party": world.pnp.id,
            "urgency": urgency,
            "language": "en",
            "case_reference": CASE,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    match = re.fullmatch(r"/cooperation/requests/(cooperation-request--[0-9a-f-]+)/edit", answer.headers["location"])
    assert match, answer.headers["location"]
    return match.group(1)


def _sent_request(node: Node, world: World, **changes: Any) -> str:
    analyst = _analyst(node, world)
    view = node.cooperation_requests.create(
        analyst,
        request_type="preservation",
        instrument="UN",
        requested_party=world.pnp.id,
        fields=preservation_fields(),
        language="en",
        case_reference=CASE,
        **changes,
    )
    node.cooperation_requests.transition(analyst, view.row.id, "sent", Decision())
    return view.row.id


def _element(page: str, field: str) -> str:
    """The request page's value cell of one element, with the problems shown next to it."""
    match = re.search(rf'<dt id="element-{field}">.*?</dt>\s*<dd[^>]*>(.*?)</dd>', page, re.S)
    assert match, f"no element {field}"
    return match.group(1)


def test_new_request_from_type_to_the_requested_partys_inbox(
    client: Any, node: Node, world: World, pnp_desk: Actor
) -> None:
    catalogue = node.cooperation_requests.catalogue
    token = _as(client, world, "analyst")
    assert 'href="/cooperation"' in client.get("/", headers=HTML).text  # the navigation entry
    step_one = client.get("/cooperation/new", headers=HTML)
    assert step_one.status_code == 200
    for rtype in catalogue.request_types.values():
        assert _esc(rtype.title) in step_one.text and _esc(rtype.summary) in step_one.text
    assert f'value="{world.pnp.id}"' in step_one.text and f'value="{world.police.id}"' not in step_one.text

    unaddressed = {"type": "preservation", "instrument": "P2", "requested_party": "", "csrf_token": token}
    refused = client.post("/cooperation/new", data=unaddressed, headers=HTML)
    assert refused.status_code == 422 and "<strong>requested_party</strong>" in refused.text
    wrong = client.post("/cooperation/new", data={**unaddressed, "requested_party": world.pnp.id}, headers=HTML)
    assert wrong.status_code == 422 and "<strong>instrument</strong>" in wrong.text  # no preservation under P2
    assert 'id="type-preservation" name="type" value="preservation" required checked' in wrong.text
    assert count_rows(node, "cooperation_requests") == 0

    request_id = _new_draft(client, token, world)
    form = client.get(f"/cooperation/requests/{request_id}/edit", headers=HTML)
    assert form.status_code == 200
    for requirement in catalogue.request_types["preservation"].rules("UN").required:
        spec = catalogue.fields[requirement.field]
        block = re.search(
            rf'<div class="coop-field[^"]*" id="field-{requirement.field}">(.*?)</aside>', form.text, re.S
        )
        assert block, requirement.field
        assert _esc(spec.title) in block.group(1)
        assert f"<strong>{_esc(requirement.article)}</strong>" in block.group(1)  # the article beside it
        if spec.article_text:
            assert _esc(spec.article_text) in block.group(1)  # and the article's text
    assert form.text.count('name="data_to_preserve.description"') >= 3

    saved = client.post(f"/cooperation/requests/{request_id}/edit", data=_filled_form(token), follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/cooperation/requests/{request_id}"
    stored = node.cooperation_requests.get(_analyst(node, world), request_id, WHY).document()
    assert stored["blocking"] == []
    assert stored["fields"]["offences"] == ["UN-7", "VN-DEMO-FRAUD-NET"]
    assert stored["fields"]["data_to_preserve"] == [
        {"description": "Subscriber and traffic records of +63 917 123 4567, 1-31 Oct 2026", "category": "traffic_data"}
    ]
    assert stored["fields"]["custodian"] == {"name": "Demo Mobile PH", "location": "Manila", "retention_days": 90}
    assert stored["fields"]["identifiers"] == [
        {"type": "phone-number", "value": "+63 917 123 4567"},
        {"value": "scam-hotline.example"},
    ]
    assert stored["fields"]["intends_mla"] is True and stored["fields"]["date_range"] == {
        "from": "2026-10-01",
        "to": "2026-10-31",
    }

    page = client.get(f"/cooperation/requests/{request_id}", headers=HTML)
    assert 'id="action-sent"' in page.text and "Demo Mobile PH" in page.text
    sent = client.post(
        f"/cooperation/requests/{request_id}/transitions",
        data={"to": "sent", "csrf_token": token},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert count_rows(node, "cooperation_requests", "id = :id AND state = 'received'", id=request_id) == 1

    _as(client, world, "pnp.poc")
    inbox = client.get("/cooperation", headers=HTML)
    assert inbox.status_code == 200
    row = re.search(rf'<tr[^>]*>\s*<td[^>]*><a href="/cooperation/requests/{request_id}">(.*?)</tr>', inbox.text, re.S)
    assert row, "not in the inbox"
    assert stored["reference"] in inbox.text and "coop-state-received" in row.group(1)
    assert "A05 Cybercrime Unit" in row.group(1) and "Preservation hold" in row.group(1)
    assert f"New expedited preservation of stored electronic data {stored['reference']}" in inbox.text


def test_sending_an_incomplete_request_names_each_element_with_its_article(
    client: Any, node: Node, world: World
) -> None:
    token = _as(client, world, "analyst")
    request_id = _new_draft(client, token, world)
    refused = client.post(
        f"/cooperation/requests/{request_id}/transitions", data={"to": "sent", "csrf_token": token}, headers=HTML
    )
    assert refused.status_code == 422
    assert 'id="send-refused"' in refused.text
    for requirement in node.cooperation_requests.catalogue.request_types["preservation"].rules("UN").required:
        cell = _element(refused.text, requirement.field)
        if requirement.field in ("case_reference", "language"):
            assert "field-problems" not in cell  # given in step one
            continue
        expected = f"<strong>{requirement.field}</strong>: "
        assert expected in cell and f"({_esc(requirement.article)})" in cell, requirement.field
    assert count_rows(node, "cooperation_requests", "state = 'draft'") == 1
    assert count_rows(node, "cooperation_transitions") == 1  # only the draft's creation


def test_a_form_problem_is_shown_next_to_its_field_and_nothing_is_saved(client: Any, node: Node, world: World) -> None:
    token = _as(client, world, "analyst")
    request_id = _new_draft(client, token, world)
    form = _filled_form(token, **{"data_to_preserve.category": ["", "", ""], "custodian.retention_days": "ninety"})
    answer = client.post(f"/cooperation/requests/{request_id}/edit", data=form, headers=HTML)
    assert answer.status_code == 422
    custodian = re.search(r'id="field-custodian">(.*?)</aside>', answer.text, re.S)
    assert custodian and "<strong>custodian</strong>" in custodian.group(1)
    assert 'value="ninety"' in answer.text  # shown again as typed
    stored = node.cooperation_requests.get(_analyst(node, world), request_id, WHY).document()
    assert "custodian" not in stored["fields"]
    answer = client.post(
        f"/cooperation/requests/{request_id}/edit",
        data=_filled_form(token, **{"data_to_preserve.category": ["", "", ""]}),
    )
    assert answer.status_code == 422
    items = re.search(r'id="field-data_to_preserve">(.*?)</aside>', answer.text, re.S)
    assert items and "<strong>data_to_preserve</strong>: item 0: category must be one of" in items.group(1)


def test_refusal_needs_grounds_reasons_approver_and_partial_execution(
    client: Any, node: Node, world: World, pnp_desk: Actor
) -> None:
    request_id = _sent_request(node, world)
    token = _as(client, world, "pnp.poc")
    url = f"/cooperation/requests/{request_id}/transitions"
    assert client.post(url, data={"to": "acknowledged", "csrf_token": token}, follow_redirects=False).status_code == 303
    page = client.get(f"/cooperation/requests/{request_id}", headers=HTML)
    refuse_form = re.search(r'<details class="decision" id="decide-refused"\s*>(.*?)</details>', page.text, re.S)
    assert refuse_form, "no refusal form"
    offered = set(re.findall(r'name="grounds" value="([a-z_]+)"', refuse_form.group(1)))
    assert offered == {"discrimination", "dual_criminality_reservation", "essential_interests"}  # never no_dual_…

    bare = client.post(url, data={"to": "refused", "csrf_token": token}, headers=HTML)
    assert bare.status_code == 422
    opened = re.search(r'<details class="decision" id="decide-refused" open>(.*?)</details>', bare.text, re.S)
    assert opened, "the refusal form is not opened again"
    for name in ("grounds", "reasons", "approved_by", "partial_considered"):
        assert f"<strong>{name}</strong>" in opened.group(1), name
    assert count_rows(node, "cooperation_requests", "state = 'acknowledged'") == 1

    decided = client.post(
        url,
        data={
            "to": "refused",
            "grounds": ["essential_interests"],
            "reasons": "Execution would prejudice an ongoing national security operation.",
            "approved_by": "Director, DOJ Office of Cybercrime",
            "partial_considered": "true",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert decided.status_code == 303
    document = node.cooperation_requests.get(pnp_desk, request_id, WHY).document()
    assert document["state"] == "refused"
    last = document["history"][-1]
    assert last["grounds"] == ["essential_interests"] and last["partial_considered"] is True
    assert last["approved_by"] == "Director, DOJ Office of Cybercrime"
    history = client.get(f"/cooperation/requests/{request_id}", headers=HTML).text
    assert "Execution would prejudice an ongoing national security operation." in history
    assert "Prejudice to sovereignty, security, ordre public or other essential interests" in history


def test_overdue_dashboard_lists_an_unacknowledged_emergency(
    client: Any, node: Node, world: World, pnp_desk: Actor, operator: Actor, clock: FrozenClock
) -> None:
    node.directory.add(
        operator,
        party=world.pnp.id,
        role="point_of_contact_24_7",
        name="PNP-ACG duty officer",
        hours="24/7",
        time_zone="Asia/Manila",
        languages=["en", "fil"],
        channels=["accord", "phone"],
        phone="+63 2 8723 0401",
    )
    request_id = _sent_request(node, world, urgency="emergency")
    clock.advance(timedelta(minutes=16))
    assert node.cooperation_requests.tick()["escalations"] == 1
    _as(client, world, "analyst")
    page = client.get("/cooperation/overdue", headers=HTML)
    assert page.status_code == 200
    row = re.search(
        rf'<tr class="row-overdue">\s*<td[^>]*><a href="/cooperation/requests/{request_id}">(.*?)</tr>', page.text, re.S
    )
    assert row, "the emergency is not listed"
    assert "Acknowledgement" in row.group(1) and "1 min" in row.group(1)
    assert "PNP Anti-Cybercrime Group" in row.group(1)
    assert "PNP-ACG duty officer" in row.group(1) and "+63 2 8723 0401" in row.group(1)
    assert "urgency-emergency" in row.group(1)
    inbox = client.get("/cooperation", headers=HTML)
    assert "row-overdue" in inbox.text
    assert (
        count_rows(node, "audit_entries", "action = 'cooperation.overdue.read' AND purpose = :p", p=UI_PURPOSE.purpose)
        == 1
    )


def _directory_entry(page: str, entry_id: str) -> str:
    match = re.search(rf'<li class="directory-entry[^"]*" id="entry-{entry_id}">(.*?)</li>', page, re.S)
    assert match, entry_id
    return match.group(0)


def test_directory_shows_on_duty_and_stale_entries_and_admins_verify(
    client: Any, node: Node, world: World, operator: Actor, clock: FrozenClock
) -> None:
    def add(name: str, hours: str) -> str:
        entry = node.directory.add(
            operator,
            party=world.pnp.id,
            role="point_of_contact_24_7",
            name=name,
            hours=hours,
            time_zone="Asia/Manila",
            languages=["en", "fil"],
            channels=["accord", "phone"],
            phone="+63 2 8723 0401",
        )
        return entry.id

    old = add("PNP-ACG duty officer", "24/7")
    clock.advance(timedelta(days=400))  # Tuesday 17:00 in Manila: office hours have just ended
    office = add("DOJ Office of Cybercrime desk", "Mon-Fri 08:00-17:00")
    _as(client, world, "analyst")
    page = client.get("/cooperation/directory", headers=HTML)
    assert page.status_code == 200
    stale = _directory_entry(page.text, old)
    assert "entry-stale" in stale and "badge-on-duty" in stale and "badge-stale" in stale
    fresh = _directory_entry(page.text, office)
    assert "badge-off-duty" in fresh and "badge-stale" not in fresh and "Mon-Fri 08:00-17:00" in fresh
    assert "/verification" not in page.text and 'id="add-entry"' not in page.text  # analysts only read

    token = _as(client, world, "admin")
    verified = client.post(
        f"/cooperation/directory/{old}/verification", data={"csrf_token": token}, follow_redirects=False
    )
    assert verified.status_code == 303
    assert "badge-stale" not in _directory_entry(client.get("/cooperation/directory", headers=HTML).text, old)
    entry = {
        "party": world.police.id,
        "role": "central_authority",
        "name": "Supreme People's Procuracy, MLA Department",
        "hours": "Mon-Fri 08:00-17:00",
        "time_zone": "Asia/Ho_Chi_Minh",
        "languages": "vi, en",
        "channels": ["accord", "diplomatic"],
        "escalation_order": "1",
        "csrf_token": token,
    }
    bad = client.post("/cooperation/directory", data={**entry, "time_zone": "Hanoi"}, headers=HTML)
    assert bad.status_code == 422 and "<strong>time_zone</strong>" in bad.text
    added = client.post("/cooperation/directory", data=entry, follow_redirects=False)
    assert added.status_code == 303
    assert count_rows(node, "directory_entries", "channels = 'accord,diplomatic' AND languages = 'vi,en'") == 1


def test_hold_extension_status_inquiry_and_documents(client: Any, node: Node, world: World, pnp_desk: Actor) -> None:
    request_id = _sent_request(node, world)
    token = _as(client, world, "analyst")
    page = client.get(f"/cooperation/requests/{request_id}", headers=HTML)
    assert 'id="hold-extension_requested"' in page.text and 'id="hold-extended"' not in page.text
    hold_url = f"/cooperation/requests/{request_id}/hold"
    unjustified = client.post(hold_url, data={"to": "extension_requested", "csrf_token": token}, headers=HTML)
    assert unjustified.status_code == 422 and "<strong>justification</strong>" in unjustified.text
    asked = client.post(
        hold_url,
        data={"to": "extension_requested", "justification": "The MLA request is with the court.", "csrf_token": token},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    inquiry = client.post(
        f"/cooperation/requests/{request_id}/messages",
        data={"kind": "status_inquiry", "text": "Has the provider confirmed the preservation?", "csrf_token": token},
        follow_redirects=False,
    )
    assert inquiry.status_code == 303
    for suffix, media in (("json", "application/json"), ("pdf", "application/pdf")):
        download = client.get(f"/cooperation/requests/{request_id}/document.{suffix}", headers=HTML)
        assert download.status_code == 200 and download.headers["content-type"].startswith(media)
    assert (
        count_rows(node, "audit_entries", "purpose = 'cooperation request document downloaded from the web interface'")
        == 2
    )

    token = _as(client, world, "pnp.poc")
    granted = client.post(
        hold_url,
        data={"to": "extended", "until": "2027-04-30T17:00", "until_offset": "+08:00", "csrf_token": token},
        follow_redirects=False,
    )
    assert granted.status_code == 303
    document = node.cooperation_requests.get(pnp_desk, request_id, WHY).document()
    assert document["hold"]["state"] == "extended" and document["hold"]["expires_at"] == "2027-04-30T09:00:00+00:00"
    page = client.get(f"/cooperation/requests/{request_id}", headers=HTML).text
    assert "Has the provider confirmed the preservation?" in page and "The MLA request is with the court." in page


def test_every_form_needs_the_csrf_token(client: Any, node: Node, world: World, operator: Actor) -> None:
    request_id = _sent_request(node, world)
    entry = node.directory.add(
        operator,
        party=world.pnp.id,
        role="point_of_contact_24_7",
        name="PNP-ACG duty officer",
        hours="24/7",
        time_zone="Asia/Manila",
        languages=["en"],
        channels=["phone"],
    )
    token = _as(client, world, "admin")
    draft = _new_draft(client, token, world)
    before = (count_rows(node, "cooperation_requests"), count_rows(node, "cooperation_transitions"))
    forms = {
        "/cooperation/new": {"type": "preservation", "instrument": "UN", "requested_party": world.pnp.id},
        f"/cooperation/requests/{draft}/edit": _filled_form("x"),
        f"/cooperation/requests/{draft}/transitions": {"to": "withdrawn"},
        f"/cooperation/requests/{request_id}/hold": {"to": "extension_requested", "justification": "longer"},
        f"/cooperation/requests/{request_id}/messages": {"kind": "status_inquiry", "text": "news?"},
        "/cooperation/directory": {"party": world.pnp.id, "role": "central_authority", "name": "x", "hours": "24/7"},
        f"/cooperation/directory/{entry.id}/verification": {},
    }
    for url, data in forms.items():
        missing = {k: v for k, v in data.items() if k != "csrf_token"}
        assert client.post(url, data=missing, headers=HTML).status_code == 403, url
        assert client.post(url, data={**missing, "csrf_token": "forged"}, headers=HTML).status_code == 403, url
    assert (count_rows(node, "cooperation_requests"), count_rows(node, "cooperation_transitions")) == before
    assert count_rows(node, "directory_entries") == 1
    stored = node.cooperation_requests.get(_analyst(node, world), draft, WHY).document()
    assert "facts_summary" not in stored["fields"]


def test_another_partys_user_gets_404_on_a_draft(client: Any, node: Node, world: World, pnp_desk: Actor) -> None:
    token = _as(client, world, "analyst")
    draft = _new_draft(client, token, world)
    token = _as(client, world, "pnp.poc")
    for url in ("", "/edit", "/document.json", "/document.pdf"):
        assert client.get(f"/cooperation/requests/{draft}{url}", headers=HTML).status_code == 404, url
    moved = client.post(
        f"/cooperation/requests/{draft}/transitions", data={"to": "withdrawn", "csrf_token": token}, headers=HTML
    )
    assert moved.status_code == 404
    assert draft not in client.get("/cooperation", headers=HTML).text
    assert count_rows(node, "cooperation_requests", "state = 'draft'") == 1


def test_users_without_cooperation_rights_have_no_link_and_get_403(client: Any, world: World) -> None:
    _as(client, world, "partner")
    assert 'href="/cooperation"' not in client.get("/", headers=HTML).text
    assert client.get("/cooperation", headers=HTML).status_code == 403
    assert client.get("/cooperation/new", headers=HTML).status_code == 403


def test_identifiers_round_trip_and_keep_what_the_form_does_not_show() -> None:
    stored = [{"type": "ipv4-addr", "value": "203.0.113.5", "port": 51234}, {"value": "scam-hotline.example"}]
    text = identifier_lines(stored)
    assert text == "ipv4-addr:203.0.113.5\nscam-hotline.example"
    assert parse_identifiers(text + "\nfile:sha-256:" + "ab" * 32 + "\n\nhttps://x.example/a", stored) == [
        *stored,
        {"type": "file:sha-256", "value": "ab" * 32},
        {"value": "https://x.example/a"},
    ]
    assert parse_identifiers("  \n", stored) is None


def test_the_pressing_clock_is_an_open_overdue_one_then_the_next_due() -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = [
        {"name": "preservation_hold", "due": at + timedelta(days=60), "status": "running", "done": False},
        {"name": "acknowledge", "due": at + timedelta(minutes=15), "status": "overdue", "done": True},
        {"name": "answer", "due": at + timedelta(hours=8), "status": "running", "done": False},
    ]
    assert pressing_clock(rows) == rows[2]
    rows[0]["status"] = "overdue"
    assert pressing_clock(rows) == rows[0]
    assert pressing_clock([]) is None


def test_a_draft_opened_from_a_hit_gets_its_type_on_the_form(client: Any, node: Node, world: World, scam: Any) -> None:
    draft = node.cooperation.draft_from_hit(scam.analyst, "+84 91 234 5678", None, world.pnp.id, WHY)
    token = _as(client, world, "analyst")
    url = f"/cooperation/requests/{draft.id}/edit"
    chooser = client.get(url, headers=HTML)
    assert chooser.status_code == 200 and 'id="choose-type"' in chooser.text
    wrong = client.post(url, data={"type": "preservation", "instrument": "P2", "csrf_token": token}, headers=HTML)
    assert wrong.status_code == 422 and "<strong>instrument</strong>" in wrong.text
    chosen = client.post(
        url, data={"type": "preservation", "instrument": "BC", "csrf_token": token}, follow_redirects=False
    )
    assert chosen.status_code == 303
    form = client.get(url, headers=HTML)
    assert 'id="field-custodian"' in form.text and "BC 29(2)(d)" in form.text
    assert "phone-number:+84912345678" in form.text  # what the analyst saw, under identifiers
