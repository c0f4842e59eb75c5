"""The lookup page through the ASGI client: full context for what the reader may see, hit/no-hit for the rest."""

from __future__ import annotations

import json

from markupsafe import escape
from sqlalchemy import select

from accord.audit.models import AuditEntry
from accord.matching.pages import UI_PURPOSE
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_GREEN, indicator
from tests.matching.conftest import NUMBER, PNP_CONTACT, Scam
from tests.web.test_pages import HTML, log_in


def _lookups(node: Node) -> list[AuditEntry]:
    with node.db.reading() as session:
        query = select(AuditEntry).where(AuditEntry.action == "matching.lookup").order_by(AuditEntry.seq)
        return list(session.scalars(query))


def test_visible_hits_show_party_tlp_and_dates(client, world: World, scam: Scam) -> None:
    log_in(client, "pnp", world.passwords["pnp"])
    page = client.get("/lookup", params={"value": "+84 91 234 5678"}, headers=HTML)
    assert page.status_code == 200, page.text
    assert NUMBER in page.text and 'id="lookup-visible"' in page.text
    for report in (scam.green, scam.red):  # both open to their own party or to everyone
        assert f'href="/intel/objects/{report["id"]}"' in page.text
    assert "A05 Cybercrime Unit" in page.text and "PNP Anti-Cybercrime Group" in page.text
    assert "TLP:GREEN" in page.text and "TLP:RED" in page.text
    assert ">2026-11-23 09:00<" in page.text
    assert "Cross-border" in page.text  # reported from VN and PH
    assert 'id="lookup-restricted"' not in page.text  # nothing is withheld from the holder of both


def test_a_red_report_of_another_party_is_a_summary_with_its_contact(client, world: World, scam: Scam) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/lookup", params={"value": "091 234 5678", "type": "phone-number"}, headers=HTML)
    assert page.status_code == 200, page.text
    assert scam.green["id"] in page.text  # the analyst's own GREEN report, in full
    assert "1 party in PH holds information on this value." in page.text
    assert "PNP Anti-Cybercrime Group" in page.text and str(escape(PNP_CONTACT)) in page.text
    assert scam.red["id"] not in page.text and "TLP:RED" not in page.text  # never the object behind the hit
    assert world.pnp.id not in page.text


def test_a_reader_with_only_restricted_hits_still_learns_whom_to_ask(client, world: World, scam: Scam) -> None:
    log_in(client, "partner", world.passwords["partner"])
    page = client.get("/lookup", params={"value": "+84912345678"}, headers=HTML)
    assert "1 party in PH holds information on this value." in page.text
    assert scam.red["id"] not in page.text and scam.green["id"] in page.text  # GREEN reaches the bank


def test_a_url_shortener_is_marked_and_its_hit_kept(client, node: Node, world: World, scam: Scam) -> None:
    node.intel.import_objects(
        scam.analyst, [indicator(5, "[url:value = 'https://bit.ly/3xYzAbC']", markings=[TLP_GREEN])], source="test"
    )
    shorteners = next(wl for wl in node.matching.warninglists if wl.name == "Accord: URL shorteners")
    log_in(client, "partner", world.passwords["partner"])
    page = client.get("/lookup", params={"value": "https://bit.ly/3xYzAbC"}, headers=HTML)
    assert page.status_code == 200
    assert 'class="badge badge-warninglist">Accord: URL shorteners<' in page.text
    assert str(escape(shorteners.description)) in page.text
    assert indicator(5, "")["id"] in page.text  # marked, never hidden


def test_no_hit_says_no_one_has_reported_the_value(client, world: World, scam: Scam) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/lookup", params={"value": "+84 98 765 4321"}, headers=HTML)
    assert page.status_code == 200 and "+84987654321" in page.text
    assert "No one has reported this value." in page.text
    assert 'id="lookup-visible"' not in page.text and 'id="lookup-restricted"' not in page.text


def test_a_value_that_does_not_check_out_is_explained(client, world: World) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/lookup", params={"value": "DE00 3704 0044 0532 0130 00"}, headers=HTML)
    assert page.status_code == 422 and "checksum" in page.text and 'role="alert"' in page.text
    unknown = client.get("/lookup", params={"value": "no such thing ###"}, headers=HTML)
    assert unknown.status_code == 422 and "Not a recognisable identifier" in unknown.text
    wrong_kind = client.get("/lookup", params={"value": "0912345678", "type": "bank-account"}, headers=HTML)
    assert wrong_kind.status_code == 422 and "Not a valid identifier (Bank account)" in wrong_kind.text
    assert 'value="bank-account" selected' in wrong_kind.text  # the form keeps what was chosen


def test_an_unknown_kind_is_the_standard_error_page(client, node: Node, world: World) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/lookup", params={"value": "0912345678", "type": "shoe-size"}, headers=HTML)
    assert page.status_code == 422 and "<h1>422" in page.text and "types" in page.text
    assert _lookups(node) == []


def test_each_lookup_is_one_audit_entry_with_the_page_purpose(client, node: Node, world: World, scam: Scam) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    assert client.get("/lookup", headers=HTML).status_code == 200  # the empty form looks nothing up
    assert _lookups(node) == []
    client.get("/lookup", params={"value": "091 234 5678"}, headers=HTML)
    (entry,) = _lookups(node)
    assert entry.actor == "analyst" and entry.purpose == UI_PURPOSE.purpose
    assert json.loads(entry.details) == {"values": 1, "valid": 1, "with_hits": 1, "with_restricted_hits": 1}
    assert NUMBER not in entry.details and "912345678" not in entry.details  # counts, never the value


def test_auditor_has_no_lookup_link_and_gets_the_403_page(client, node: Node, world: World) -> None:
    log_in(client, "auditor", world.passwords["auditor"])
    assert 'href="/lookup"' not in client.get("/", headers=HTML).text
    page = client.get("/lookup", params={"value": NUMBER}, headers=HTML)
    assert page.status_code == 403 and "<h1>403" in page.text
    assert _lookups(node) == []


def test_navigation_and_search_page_lead_to_the_lookup(client, world: World, scam: Scam) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    dashboard = client.get("/", headers=HTML).text
    assert 'href="/lookup"' in dashboard
    search = client.get("/intel", params={"value": "091 234 5678"}, headers=HTML)
    assert 'href="/lookup?value=%2B84912345678&amp;type=phone-number"' in search.text
    page = client.get("/lookup", params={"value": NUMBER, "type": "phone-number"}, headers=HTML)
    assert '<a href="/lookup" aria-current="page">' in page.text
