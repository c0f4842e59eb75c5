"""The cooperation pages in real Chromium against a real loopback server: a preservation request filled in the
guided form (type, instrument, party, then each element beside its article), sent, and read back with its history
and its preservation-hold clock; the overdue dashboard; the form and the request page on wide and phone screens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from accord.clock import FrozenClock
from accord.cooperation.legal import Decision
from accord.identity.actor import Actor
from accord.node import Node
from tests.browser.test_ui import ARTIFACTS, _watch_console, browser, server  # noqa: F401 - shared fixtures
from tests.conftest import World
from tests.cooperation.test_requests import preservation_fields

pytestmark = pytest.mark.browser
PNP_PASSWORD = "a long enough password for the PNP desk"


def _fits(page, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page is {scroll}px wide on a {width}px screen"


def _shots(page, name: str, backend: str) -> None:
    """Full-page screenshots at 1280 and 390 px (nothing may overflow on the phone), back to 1280 after."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(ARTIFACTS / f"{name}-1280-{backend}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    _fits(page, 390)
    page.screenshot(path=str(ARTIFACTS / f"{name}-390-{backend}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_fill_send_and_follow_a_preservation_request(
    server: str,  # noqa: F811
    browser,  # noqa: F811
    world: World,
    node: Node,
    operator: Actor,
    request,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    node.identity.add_user(operator, "pnp.poc", world.pnp.id, ["point_of_contact"], password=PNP_PASSWORD)
    backend = request.node.callspec.params["database_url"]
    catalogue = node.cooperation_requests.catalogue
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    page.click("nav#main-nav >> text=Cooperation requests")
    page.wait_for_url(f"{server}/cooperation")
    page.click("#new-request")
    page.wait_for_url(f"{server}/cooperation/new")
    page.check("#type-preservation")
    # Only the instruments the catalogue lists for preservation can be chosen.
    offered = page.eval_on_selector_all("#new-instrument option:not([disabled])", "os => os.map(o => o.value)")
    assert set(offered) - {""} == set(catalogue.request_types["preservation"].instruments)
    page.select_option("#new-instrument", "UN")
    page.select_option("#new-party", world.pnp.id)
    page.fill("#new-language", "en")
    page.fill("#new-case", "VN-A05-2026-0117")
    _shots(page, "cooperation-new", backend)
    page.click("#new-request-form button[type=submit]")
    page.wait_for_url("**/edit")

    custodian = catalogue.fields["custodian"]
    beside = page.locator("#field-custodian .article-text")
    assert beside.is_visible()
    assert "UN 42(3)(d)" in beside.inner_text() and (custodian.article_text or "")[:60] in beside.inner_text()
    page.fill("#f-requesting_authority", "A05, Ministry of Public Security, Ha Noi")
    page.fill("#f-requested_authority", "PNP Anti-Cybercrime Group, 24/7 point of contact")
    page.select_option("#f-offences", ["UN-7", "VN-DEMO-FRAUD-NET"])
    page.fill("#f-facts_summary", "Victims received SMS from a fake bank hotline and paid into a wallet.")
    page.fill("#f-data_to_preserve-description-0", "Subscriber and traffic records of +63 917 123 4567, 1-31 Oct 2026")
    page.select_option("#f-data_to_preserve-category-0", "traffic_data")
    page.click("button[data-add-row]")
    assert page.locator(".data-item-row").count() == 4
    page.fill("#f-relationship_to_offence", "The number sent the scam messages.")
    page.fill("#f-custodian-name", "Demo Mobile PH")
    page.fill("#f-custodian-location", "Manila")
    page.fill("#f-necessity", "Providers keep traffic data for 90 days only.")
    page.check("#f-intends_mla")
    page.fill("#f-identifiers", "phone-number:+63 917 123 4567")
    page.fill("#f-date_range-from", "2026-10-01")
    page.fill("#f-date_range-to", "2026-10-31")
    _shots(page, "cooperation-form", backend)

    page.click("button[name=then][value=review]")
    page.wait_for_url("**/cooperation/requests/cooperation-request--*")
    assert page.locator("#blocking .blocking").count() == 0  # nothing prevents sending
    page.click("#action-sent")
    page.wait_for_url("**#history")
    assert page.locator(".badges .coop-state-received").is_visible()
    history = page.locator("#history").inner_text()
    assert "Draft → Sent" in history and "Sent → Received" in history and "Preservation hold: Active" in history
    hold_clock = page.locator("#clock-preservation_hold")
    assert hold_clock.is_visible() and "running" in hold_clock.inner_text()
    assert hold_clock.locator(".local-time").count() == 1  # the viewer's local time beside the UTC one
    assert page.locator("#hold .badge.hold-active").is_visible()
    _shots(page, "cooperation-request", backend)

    page.click(".subnav >> text=Overdue")
    page.wait_for_url(f"{server}/cooperation/overdue")
    assert page.locator("h1").inner_text() == "Overdue requests"

    # The requested side: the request is in its inbox; a refusal opens a form that names what it lacks.
    page.click("text=Log out")
    page.wait_for_url(f"{server}/login")
    page.fill("#username", "pnp.poc")
    page.fill("#password", PNP_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/cooperation")
    assert page.locator("#inbox .coop-state-received").count() == 1
    _shots(page, "cooperation-inbox", backend)
    page.click("#inbox table a")
    page.click("#action-acknowledged")
    page.wait_for_url("**#history")
    page.click("#decide-refused summary")
    page.click("#decide-refused button[type=submit]")
    page.locator("#decide-refused[open] .field-problems").first.wait_for()
    named = page.locator("#decide-refused .field-problems strong").all_inner_texts()
    assert named == ["grounds", "reasons", "approved_by", "partial_considered"]
    _shots(page, "cooperation-refusal", backend)
    # Chromium logs the refused form's 422 answer as a failed load; anything else is a real problem.
    assert [p for p in problems if "status of 422" not in p] == [], problems
    context.close()


def test_overdue_dashboard_request_and_directory_on_a_phone_in_vietnamese(
    server: str,  # noqa: F811
    browser,  # noqa: F811
    world: World,
    node: Node,
    clock: FrozenClock,
    operator: Actor,
    request,
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    backend = request.node.callspec.params["database_url"]
    # The server shares the test's frozen clock, set near the wall clock (the browser's cookies and local times
    # run on that): the emergency is sent an hour before now, then the clock moves on to now.
    clock.advance(datetime.now(UTC) - timedelta(hours=1) - clock.now())
    analyst = node.identity.authenticate_token(world.tokens["analyst"])  # the admin (same party) reads it
    view = node.cooperation_requests.create(
        analyst,
        request_type="preservation",
        instrument="UN",
        requested_party=world.pnp.id,
        fields=preservation_fields(),
        urgency="emergency",
        language="en",
        case_reference="VN-A05-2026-0117",
    )
    node.cooperation_requests.transition(analyst, view.row.id, "sent", Decision())
    clock.advance(timedelta(hours=1))
    node.directory.add(
        operator,
        party=world.pnp.id,
        role="point_of_contact_24_7",
        name="PNP-ACG duty officer",
        hours="24/7",
        time_zone="Asia/Manila",
        languages=["en", "fil"],
        channels=["accord", "phone", "email"],
        phone="+63 2 8723 0401",
        email="duty-officer@acg.pnp.example",
    )
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", world.passwords["admin"])
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/cooperation/overdue")
    row = page.locator("table.overdue tbody tr")
    assert row.count() == 1
    assert page.locator("h1").inner_text() == "Yêu cầu quá hạn"  # in Vietnamese, from the browser's language
    assert view.row.reference in row.inner_text() and "Xác nhận đã nhận" in row.inner_text()
    assert "PNP Anti-Cybercrime Group" in row.inner_text() and "PNP-ACG duty officer" in row.inner_text()
    _fits(page, 390)
    page.screenshot(path=str(ARTIFACTS / f"cooperation-overdue-390-vi-{backend}.png"), full_page=True)
    page.click(f"text={view.row.reference}")
    page.locator("#clock-acknowledge .badge.clock-overdue").wait_for()
    _fits(page, 390)
    page.screenshot(path=str(ARTIFACTS / f"cooperation-request-390-vi-{backend}.png"), full_page=True)
    page.goto(f"{server}/cooperation/directory")
    assert page.locator(".directory-entry .badge-on-duty").count() == 1
    _shots(page, "cooperation-directory-vi", backend)
    assert problems == [], problems
    context.close()
