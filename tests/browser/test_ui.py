"""The UI in real Chromium (Debian's /usr/bin/chromium) through Playwright, against a real loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import World

pytestmark = pytest.mark.browser
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
# Flags this sandbox needs: no sandbox as root, and no background calls to Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def server(live_server: str, world: World) -> str:
    return live_server


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: run `make system-deps`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def _watch_console(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def test_log_in_see_dashboard_create_and_revoke_token_log_out(server: str, browser, world: World, request) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    backend = request.node.callspec.params["database_url"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = _watch_console(page)

    page.goto(f"{server}/tokens")
    assert page.url.startswith(f"{server}/login")  # sent to log in first
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/tokens")
    page.goto(f"{server}/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert "A05 Cybercrime Unit" in page.content()
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{backend}.png"), full_page=True)

    page.click("text=API tokens")
    page.fill("#token-name", "triage script")
    page.click("text=Create token")
    secret = page.locator("#new-token").inner_text()
    assert secret.startswith("accord.")
    page.screenshot(path=str(ARTIFACTS / f"token-created-{backend}.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    row = page.locator("tr", has_text="triage script")
    row.locator("button", has_text="Revoke").click()
    page.locator("tr", has_text="triage script").locator(".status-revoked").wait_for()
    assert "revoked" in page.locator("tr", has_text="triage script").inner_text()

    page.click("text=Log out")
    page.wait_for_url(f"{server}/login")
    page.goto(f"{server}/")
    assert page.url.startswith(f"{server}/login")
    assert problems == [], problems  # no CSP violation, no script error
    context.close()


def test_phone_screen_menu_and_vietnamese(server: str, browser, world: World, request) -> None:
    backend = request.node.callspec.params["database_url"]
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="vi-VN", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    assert page.locator("h1").inner_text() == "Đăng nhập"
    page.fill("#username", "admin")
    page.fill("#password", world.passwords["admin"])
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{server}/")
    # On a phone the navigation folds into a menu; it opens and leads to the admin pages.
    nav = page.locator("nav")
    assert not nav.is_visible()
    page.locator(".menu-toggle").click()
    assert nav.is_visible()
    page.locator("nav a[href='/admin/users']").click()
    page.wait_for_url(f"{server}/admin/users")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen"
    page.screenshot(path=str(ARTIFACTS / f"phone-users-vi-{backend}.png"), full_page=True)
    assert problems == [], problems
    context.close()


def test_search_an_identifier_and_import_a_bundle(server: str, browser, world: World, node, request, tmp_path) -> None:
    import json

    from tests.intel.conftest import TLP_GREEN, bundle, indicator

    backend = request.node.callspec.params["database_url"]
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    node.intel.import_objects(
        analyst, [indicator(1, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_GREEN])], source="test"
    )
    upload = tmp_path / "reports.json"
    upload.write_text(json.dumps(bundle(indicator(2, "[ipv4-addr:value = '198.51.100.2']"), indicator(3, "[x"))))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.click("nav >> text=Intelligence")
    page.fill("#search-value", "091 234 5678")
    page.click("text=Search")
    page.wait_for_selector("text=+84912345678")
    page.screenshot(path=str(ARTIFACTS / f"intel-search-{backend}.png"), full_page=True)
    page.locator("table a").first.click()
    page.wait_for_selector("text=TLP:GREEN")
    page.goto(f"{server}/intel/import")
    page.set_input_files("#import-file", str(upload))
    page.select_option("#import-tlp", "green")
    page.click("#import-form button[type=submit]")
    page.wait_for_selector("#import-result >> text=1 stored")  # htmx swapped the result in place
    assert "failed" in page.locator("#import-result").inner_text()
    page.screenshot(path=str(ARTIFACTS / f"intel-import-{backend}.png"), full_page=True)
    assert problems == [], problems
    context.close()


def test_look_up_a_value_held_under_red_by_another_country(server: str, browser, world: World, node, operator) -> None:
    from tests.intel.conftest import TLP_GREEN, TLP_RED, indicator
    from tests.matching.conftest import PNP_CONTACT, add_pnp_user

    add_pnp_user(node, world, operator)
    node.identity.set_party_contact(operator, world.pnp.id, PNP_CONTACT)
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    pnp = node.identity.authenticate_token(world.tokens["pnp"])
    green = indicator(1, "[phone-number:value = '091 234 5678']", markings=[TLP_GREEN])
    red = indicator(2, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_RED])
    node.intel.import_objects(analyst, [green], source="test")
    node.intel.import_objects(pnp, [red], source="test")
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    page.click("nav >> text=Lookup")
    page.wait_for_url(f"{server}/lookup")
    page.fill("#lookup-value", "091 234 5678")
    page.select_option("#lookup-type", "phone-number")
    page.click("form.lookup-form button[type=submit]")
    summary = page.locator("#lookup-restricted .restricted-summary")
    summary.wait_for()
    assert summary.inner_text() == "1 party in PH holds information on this value."
    restricted = page.locator("#lookup-restricted").inner_text()
    assert "PNP Anti-Cybercrime Group" in restricted and PNP_CONTACT in restricted
    assert page.locator("#lookup-visible a").inner_text() == green["id"]
    assert red["id"] not in page.content()
    assert page.locator(".badge-cross-border").is_visible()
    page.screenshot(path=str(ARTIFACTS / "lookup.png"), full_page=True)
    # On a phone the tables stack instead of running off the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen"
    page.screenshot(path=str(ARTIFACTS / "lookup-phone.png"), full_page=True)
    assert problems == [], problems
    context.close()
