"""The federation pages in real Chromium against two served, peered nodes: the peers with each exchange's state,
a peer's page with its envelopes and evidence transfers, the sharing policy edited through the form (refused
with the field named, then saved and the preview recounted), on a wide screen and on a phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.clock import FrozenClock
from accord.identity.actor import Actor
from accord.web.app import create_app
from tests.browser.test_ui import _watch_console, browser  # noqa: F401 - fixtures shared with the UI tests
from tests.federation.conftest import TwoCountries, serving, two_countries  # noqa: F401 - the peered nodes
from tests.federation.cooperation_peers import Desks, desks_for
from tests.federation.test_pages_state import exchanges
from tests.intel.conftest import TLP_AMBER, TLP_GREEN, TLP_RED, indicator

pytestmark = pytest.mark.browser
SCREENSHOTS = Path("/tmp")  # noqa: S108 - where a person looks at them after the run
PHONE = {"width": 390, "height": 844}
AMBER_POLICY = {"rules": [{"name": "amber", "tlp": ["green", "amber"], "legal_basis": "MoU", "purpose": "scams"}]}
RED_POLICY = {"rules": [{"name": "x", "tlp": ["red"], "legal_basis": "a", "purpose": "b"}]}


@pytest.fixture
def desks(two_countries: TwoCountries, operator: Actor) -> Desks:  # noqa: F811
    return desks_for(two_countries, operator)


def _fits(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


def test_federation_pages_and_policy_form_on_wide_and_phone_screens(
    desks: Desks,
    browser,  # noqa: F811
    operator: Actor,
    clock: FrozenClock,
    request,
) -> None:
    backend = request.node.callspec.params["database_url"]
    vn, ph = desks.countries.vn, desks.countries.ph
    ids = exchanges(desks, operator, clock)
    vn.node.intel.import_objects(
        operator,
        [
            indicator(1, "[phone-number:value = '+84912000001']", markings=[TLP_GREEN]),
            indicator(2, "[phone-number:value = '+84912000002']", markings=[TLP_AMBER]),
            indicator(3, "[phone-number:value = '+84912000003']", markings=[TLP_RED]),
        ],
        owner=vn.party.id,
        source="test",
    )
    _user, password = vn.node.identity.add_user(operator, "admin", vn.party.id, ["admin"])
    assert password is not None

    with serving(create_app(vn.node.settings, clock=clock)) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        problems = _watch_console(page)
        page.goto(f"{server}/login")
        page.fill("#username", "admin")
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")

        page.goto(f"{server}/federation")
        row = page.locator("table.peers tbody tr")
        assert row.count() == 1
        assert "1 pending" in row.inner_text() and "ConnectError" in row.inner_text()
        page.screenshot(path=str(SCREENSHOTS / f"federation-index-1280-{backend}.png"), full_page=True)

        row.locator("text=1 in progress").click()
        page.wait_for_url(f"{server}/federation/peers/{ph.node_id}#transfers")
        assert page.locator("#envelopes tbody tr:not(.error-row)").count() == 3
        assert page.locator("#transfers tbody tr").count() == 2
        assert page.locator(f"#envelopes a[href='/cooperation/requests/{ids['pending']}']").is_visible()
        assert "1 of 3 objects would be shared." in page.locator("#preview").inner_text()

        page.fill("#policy-text", json.dumps(RED_POLICY))
        page.click("text=Save policy")
        alert = page.locator(".alert[role=alert]")
        alert.wait_for()
        assert "rules[0].tlp" in alert.inner_text()
        assert json.loads(page.input_value("#policy-text")) == RED_POLICY  # what was typed is kept to correct
        page.screenshot(path=str(SCREENSHOTS / f"federation-peer-refused-1280-{backend}.png"), full_page=True)

        page.fill("#policy-text", json.dumps(AMBER_POLICY, indent=2))
        page.click("text=Save policy")
        page.locator(".notice[role=status]").wait_for()
        assert page.locator(".notice[role=status]").inner_text() == "Policy saved."
        assert "2 of 3 objects would be shared." in page.locator("#preview").inner_text()
        assert vn.node.sharing.policy(ph.node_id).document()["rules"][0]["name"] == "amber"
        page.screenshot(path=str(SCREENSHOTS / f"federation-peer-1280-{backend}.png"), full_page=True)

        page.set_viewport_size(PHONE)
        _fits(page, PHONE["width"])
        page.screenshot(path=str(SCREENSHOTS / f"federation-peer-390-{backend}.png"), full_page=True)
        page.goto(f"{server}/federation")
        _fits(page, PHONE["width"])
        page.screenshot(path=str(SCREENSHOTS / f"federation-index-390-{backend}.png"), full_page=True)
        # The refused policy comes back as a 422 page, which Chromium logs; nothing else may go wrong.
        assert [p for p in problems if "status of 422" not in p] == [], problems
        context.close()
