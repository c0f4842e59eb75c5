"""Intelligence pages through the ASGI client: search, object page, import with per-object results."""

from __future__ import annotations

import json

from accord.node import Node
from tests.conftest import World, count_rows
from tests.intel.conftest import TLP_GREEN, TLP_RED, bundle, indicator, sid
from tests.web.test_pages import HTML, log_in


def _stock(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    first = indicator(1, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_GREEN])
    node.intel.import_objects(
        analyst,
        [
            first,
            {**first, "modified": "2026-11-03T08:00:00.000Z", "name": "Fake bank hotline"},
            indicator(2, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_RED]),
        ],
        source="test",
    )


def test_search_finds_any_written_form_and_respects_markings(client, node: Node, world: World) -> None:
    _stock(node, world)
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/intel", params={"value": "091 234 5678"}, headers=HTML)
    assert page.status_code == 200 and "+84912345678" in page.text
    assert sid("indicator", 1) in page.text and sid("indicator", 2) in page.text
    client.cookies.clear()  # a different browser
    log_in(client, "partner", world.passwords["partner"])
    page = client.get("/intel", params={"value": "+84912345678"}, headers=HTML)
    assert sid("indicator", 1) in page.text and sid("indicator", 2) not in page.text  # RED stays home
    assert client.get(f"/intel/objects/{sid('indicator', 2)}", headers=HTML).status_code == 404


def test_invalid_identifier_is_explained(client, node: Node, world: World) -> None:
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/intel", params={"value": "DE00 3704 0044 0532 0130 00"}, headers=HTML)
    assert page.status_code == 422 and "checksum" in page.text


def test_object_page_shows_fields_versions_marking_and_json(client, node: Node, world: World) -> None:
    _stock(node, world)
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get(f"/intel/objects/{sid('indicator', 1)}", headers=HTML)
    assert page.status_code == 200
    assert "Fake bank hotline" in page.text and "TLP:GREEN" in page.text
    assert "2026-11-01T08:00:00.000Z" in page.text and "&#34;pattern_type&#34;" in page.text
    old = client.get(f"/intel/objects/{sid('indicator', 1)}?version=2026-11-01T08:00:00.000Z", headers=HTML)
    assert "Scam report 1" in old.text


def test_import_page_stores_good_objects_and_lists_bad_ones(client, node: Node, world: World) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    content = json.dumps(bundle(indicator(5, "[ipv4-addr:value = '198.51.100.5']"), indicator(6, "[x")))
    page = client.post(
        "/intel/import",
        data={"tlp": "green", "csrf_token": token},
        files={"bundle": ("reports.json", content, "application/json")},
        headers=HTML,
    )
    assert page.status_code == 200
    assert "1 stored" in page.text and sid("indicator", 6) in page.text
    assert count_rows(node, "intel_objects", "tlp = 'green'") == 1
    broken = client.post(
        "/intel/import", data={"csrf_token": token}, files={"bundle": ("x.json", "nope", "text/plain")}, headers=HTML
    )
    assert broken.status_code == 422 and "not JSON" in broken.text


def test_auditor_sees_no_intelligence_link_and_gets_403(client, world: World) -> None:
    log_in(client, "auditor", world.passwords["auditor"])
    assert 'href="/intel"' not in client.get("/", headers=HTML).text
    assert client.get("/intel", headers=HTML).status_code == 403
