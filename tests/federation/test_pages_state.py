"""What the federation pages show of each exchange with a peer, through the ASGI client against two served nodes:
the envelope backlog (one delivered, one refused by the peer, one pending behind a peer that is down) and the
evidence transfers (one delivered, one ready to send); and what a viewer without cooperation or evidence
permissions does not see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from accord.clock import FrozenClock
from accord.federation.envelopes import COOPERATION_MESSAGE
from accord.federation.evidence_transfer import transfers_of
from accord.identity.actor import Actor
from tests.conftest import count_rows
from tests.evidence.conftest import acting_for, add
from tests.federation.conftest import TwoCountries
from tests.federation.cooperation_peers import Desks, closed_port_url, desks_for, outbox_rows, set_peer_url
from tests.web.test_pages import HTML, log_in


@pytest.fixture
def desks(two_countries: TwoCountries, operator: Actor) -> Desks:
    return desks_for(two_countries, operator)


@pytest.fixture
def vn_client(two_countries: TwoCountries, clock: FrozenClock) -> Any:
    from fastapi.testclient import TestClient

    from accord.web.app import create_app

    with TestClient(create_app(two_countries.vn.node.settings, clock=clock), base_url="http://testserver") as client:
        yield client


def exchanges(desks: Desks, operator: Actor, clock: FrozenClock) -> dict[str, str]:
    """On VN: a request delivered to PH, an envelope PH refuses, a request pending while PH is down; an evidence
    package delivered to PH and another exported but not sent."""
    vn, ph = desks.countries.vn, desks.countries.ph
    delivered = desks.send()
    assert vn.node.envelopes.deliver_due().delivered == 1
    with vn.node.db.writing() as session:  # a message about a request PH never heard of: PH refuses it (4xx)
        vn.node.envelopes.enqueue(session, ph.node_id, COOPERATION_MESSAGE, {"request_id": "nonsense"})
    assert vn.node.envelopes.deliver_due().refused == 1

    police = acting_for(operator, vn.party.id)
    transfers = transfers_of(vn.node)
    sent = transfers.send_package(police, ph.node_id, item_ids=[add(vn.node, police).id], purpose="MLA answer")
    waiting = transfers.sender.prepare(police, ph.node_id, item_ids=[add(vn.node, police).id], purpose="MLA answer")

    set_peer_url(vn.node, ph.node_id, closed_port_url())
    pending = desks.send()
    assert vn.node.envelopes.deliver_due().retrying == 1
    clock.advance(timedelta(hours=3, minutes=5))
    return {"delivered": delivered, "pending": pending, "sent": sent.transfer_id, "waiting": waiting["transfer_id"]}


def test_peer_state_shows_backlog_errors_and_transfers(
    desks: Desks, vn_client: Any, operator: Actor, clock: FrozenClock
) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    ids = exchanges(desks, operator, clock)
    identity = vn.node.identity
    _user, admin_password = identity.add_user(operator, "admin", vn.party.id, ["admin"])
    _user, auditor_password = identity.add_user(operator, "auditor", vn.party.id, ["auditor"])
    bank = identity.add_party(operator, "Demo Bank VN", "bank", "VN")
    _user, partner_password = identity.add_user(operator, "partner", bank.id, ["partner"])
    rows = outbox_rows(vn.node)
    assert [(r["delivered_at"] is not None, r["refused_at"] is not None) for r in rows] == [
        (True, False),
        (False, True),
        (False, False),
    ]

    log_in(vn_client, "admin", admin_password or "")
    listing = vn_client.get("/federation", headers=HTML)
    assert listing.status_code == 200
    text = listing.text
    assert f"/federation/peers/{ph.node_id}" in text
    assert "1 pending" in text and "oldest 3 h old" in text
    assert "1 refused by the peer" in text and "ConnectError" in text
    assert f'href="/federation/peers/{ph.node_id}#transfers">1 in progress' in text

    page = vn_client.get(f"/federation/peers/{ph.node_id}", headers=HTML)
    assert page.status_code == 200
    html = page.text
    assert "1 envelope waits to be delivered" in html and "the oldest for 3 h." in html
    assert "The peer refused 1 envelope." in html
    for row in ("envelope-delivered", "envelope-refused has-error", "envelope-pending has-error"):
        assert f'class="{row}"' in html
    for request_id in (ids["delivered"], ids["pending"]):
        assert f'href="/cooperation/requests/{request_id}"' in html
    assert "ConnectError" in html and "HTTP 4" in html  # the peer's refusal as it answered
    assert html.index(ids["pending"]) < html.index(ids["delivered"])  # newest first
    assert ids["sent"] in html and ids["waiting"] in html
    assert 'class="transfer-delivered"' in html and 'class="transfer-exported"' in html

    vn_client.cookies.set("accord_locale", "vi")  # the same pages in Vietnamese, plural forms included
    assert "1 đang chờ" in vn_client.get("/federation", headers=HTML).text
    assert "Nút đối tác đã từ chối 1 phong bì." in vn_client.get(f"/federation/peers/{ph.node_id}", headers=HTML).text
    vn_client.cookies.delete("accord_locale")

    # The service behind the list: newest first, at most ``limit``, and how many there are in all.
    _view, token = identity.create_token(operator, "admin", "tests", ["read"])
    admin = identity.authenticate_token(token)
    listed, total = vn.node.envelopes.sent(admin, ph.node_id, limit=2)
    assert total == 3 and [e.state for e in listed] == ["pending", "refused"]
    assert listed[0].last_error and "ConnectError" in listed[0].last_error and listed[0].next_attempt_at

    # An auditor reads the directory but neither cooperation requests nor evidence: no request links, no transfers.
    vn_client.cookies.clear()
    log_in(vn_client, "auditor", auditor_password or "")
    listing = vn_client.get("/federation", headers=HTML)
    assert listing.status_code == 200 and "1 pending" in listing.text and "in progress" not in listing.text
    page = vn_client.get(f"/federation/peers/{ph.node_id}", headers=HTML)
    assert page.status_code == 200 and "ConnectError" in page.text
    assert (
        "/cooperation/requests/" not in page.text and ids["sent"] not in page.text and 'id="transfers"' not in page.text
    )
    vn_client.cookies.clear()
    log_in(vn_client, "partner", partner_password or "")
    assert vn_client.get("/federation", headers=HTML).status_code == 403
    assert vn_client.get(f"/federation/peers/{ph.node_id}", headers=HTML).status_code == 403
    # Looking is not a denial: the pages asked for transfers only when the viewer may read evidence.
    assert count_rows(vn.node, "audit_entries", "action = 'access.denied'") == 2
