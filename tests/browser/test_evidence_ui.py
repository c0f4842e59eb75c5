"""The evidence pages in real Chromium against a real loopback server: a streamed upload with its progress bar,
a custody event recorded through the item page, the report downloaded, and the item page on a phone screen."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from accord.audit.service import Disclosure
from accord.evidence.verify import verify_package
from accord.node import Node
from tests.browser.test_ui import _watch_console, browser, server  # noqa: F401 - fixtures shared with the UI tests
from tests.conftest import World
from tests.evidence.conftest import add

pytestmark = pytest.mark.browser
EXTRACTION = bytes(range(256)) * 32 * 1024  # 8 MiB: large enough for the upload to report progress
# Records, across the navigation that follows the upload, that the progress bar was shown and how far it got.
WATCH_PROGRESS = """() => {
  const bar = document.getElementById("upload-progress");
  new MutationObserver(() => {  // <progress value> reflects its attribute, so each step is a mutation
    if (!bar.hidden) sessionStorage.setItem("progress-shown", "yes");
    const most = Math.max(bar.value, Number(sessionStorage.getItem("progress-max") || 0));
    sessionStorage.setItem("progress-max", String(most));
  }).observe(bar, { attributes: true });
}"""


def test_upload_seal_and_report_on_wide_and_phone_screens(
    server: str,  # noqa: F811
    browser,  # noqa: F811
    world: World,
    node: Node,
    tmp_path: Path,
) -> None:
    upload = tmp_path / "phone-extraction.bin"
    upload.write_bytes(EXTRACTION)
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Asia/Ho_Chi_Minh", accept_downloads=True
    )
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")

    page.click("nav >> text=Evidence")
    page.wait_for_url(f"{server}/evidence")
    page.fill("#upload-case", "VN-2026-0042")
    page.fill("#upload-description", "Full file-system extraction of the suspect's phone")
    page.select_option("#upload-source", "seized-device")
    page.fill("#upload-collector", "Sgt. Tran Thi B")
    page.fill("#upload-collected", "2026-11-20T16:30")
    page.locator("#upload-collected").dispatch_event("change")
    assert page.input_value("#upload-offset") == "+07:00"  # the browser's own offset for that date
    page.fill("#upload-place", "Ha Noi")
    page.fill("#upload-legal-basis", "Search warrant 17/2026/QD")
    page.set_input_files("#upload-file", str(upload))
    page.evaluate(WATCH_PROGRESS)
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/evidence/items/evidence-item--[0-9a-f-]{36}$"))
    assert page.evaluate("sessionStorage.getItem('progress-shown')") == "yes"
    assert page.evaluate("sessionStorage.getItem('progress-max')") == "100"

    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    [item] = node.evidence.items(analyst, None, Disclosure(purpose="browser test"))
    assert item.sha256 == hashlib.sha256(EXTRACTION).hexdigest() and item.file_name == upload.name
    assert item.collected_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert page.locator(".badge-verified").is_visible()

    page.select_option("#event-kind", "sealed")
    page.fill("#event-purpose", "kept unopened for the court")
    page.fill("#event-note", "seal no. 000123")
    page.click("#record-event button[type=submit]")
    sealed = page.locator("ol.timeline li.event-sealed")
    sealed.wait_for()
    assert "kept unopened for the court" in sealed.inner_text() and "seal no. 000123" in sealed.inner_text()
    assert page.locator(".badge.state-sealed").is_visible() and page.locator(".badge-verified").is_visible()

    with page.expect_download() as download:
        page.click("#report-link")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")

    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
    page.screenshot(path=str(tmp_path / "evidence-item-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide on a 390px screen"
    page.screenshot(path=str(tmp_path / "evidence-item-390.png"), full_page=True)
    assert problems == [], problems
    context.close()


def test_list_and_package_verification_fit_a_phone(
    server: str,  # noqa: F811
    browser,  # noqa: F811
    world: World,
    node: Node,
    tmp_path: Path,
) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    item = add(node, analyst, file_name="a-very-long-file-name-from-the-extraction-tool-2026-11-20.sqlite3")
    result = node.evidence_packages.export(
        analyst, tmp_path / "package.zip", Disclosure(purpose="MLA request PH-2026-17"), item_ids=[item.id]
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    problems = _watch_console(page)
    page.goto(f"{server}/login")
    page.fill("#username", "analyst")
    page.fill("#password", world.passwords["analyst"])
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/evidence")
    assert page.locator("table.evidence-items a").inner_text() == "EX-0001"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "evidence-list-390.png"), full_page=True)

    page.goto(f"{server}/evidence/verify")
    page.set_input_files("#package-file", str(result.path))
    page.click("#verify-button")
    report = page.locator("#package-result .package-report")
    report.wait_for()
    steps = page.locator("#package-result .badge.step-passed")
    assert steps.count() == len(verify_package(result.path).steps)
    assert page.locator("#package-result .step-failed").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "evidence-verify-390.png"), full_page=True)
    assert problems == [], problems
    context.close()
