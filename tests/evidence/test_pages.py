"""Evidence pages through the ASGI client, on both databases: the list, the streamed upload, the item page with
its custody checked against the signed tree head, the action forms, the downloads, and package verification."""

from __future__ import annotations

import hashlib
import html
import re
import tempfile
import zipfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.errors import InvalidInput
from accord.evidence.pages import check_custody, collected_time, human_size
from accord.evidence.service import ItemView
from accord.evidence.verify import verify_package
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World, count_rows
from tests.evidence.conftest import PHONE_DUMP, PRODUCTION, acting_for, add
from tests.matching.conftest import add_pnp_user
from tests.web.test_pages import HTML, log_in

WHY = Disclosure(purpose="MLA request PH-2026-17: transfer of evidence")
UPLOAD = {
    "case_reference": "VN-2026-0042",
    "description": "Full file-system extraction of the suspect's phone",
    "source_kind": "seized-device",
    "collector": "Sgt. Tran Thi B",
    "collected_at": "2026-11-20T16:30",
    "collected_offset": "+07:00",
    "file_name": "phone.db",
    "place": "Ha Noi",
    "legal_basis": "Search warrant 17/2026/QD",
}


def _analyst(node: Node, world: World) -> Actor:
    return node.identity.authenticate_token(world.tokens["analyst"])


def _raw(token: str | None, media_type: str = "application/octet-stream", **extra: str) -> dict[str, str]:
    headers = {**HTML, "Content-Type": media_type, **extra}
    if token is not None:
        headers["X-CSRF-Token"] = token
    return headers


def _stored_blobs(home: Path) -> list[Path]:
    return [p for p in (home / "blobs").rglob("*") if p.is_file()] if (home / "blobs").exists() else []


def _item_id(page: str) -> str:
    match = re.search(r"/evidence/items/(evidence-item--[0-9a-f-]{36})", page)
    assert match, "no item link"
    return match.group(1)


def test_list_shows_the_partys_items_filtered_by_case(client, node: Node, world: World, clock: FrozenClock) -> None:
    analyst = _analyst(node, world)
    phone = add(node, analyst)
    clock.advance(timedelta(minutes=5))
    production = add(node, analyst, data=PRODUCTION, file_name="production.csv", case="VN-2026-0050")
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get("/evidence", headers=HTML)
    assert page.status_code == 200
    assert 'href="/evidence"' in page.text  # the navigation entry
    assert page.text.index(production.id) < page.text.index(phone.id)  # newest first
    assert f'title="{phone.sha256}"' in page.text and phone.sha256[:12] in page.text
    assert "EX-0001" in page.text and "phone.db" in page.text and "badge state-held" in page.text
    only = client.get("/evidence", params={"case": "VN-2026-0050"}, headers=HTML)
    assert production.id in only.text and phone.id not in only.text


def test_partner_has_no_evidence_link_and_gets_403(client, world: World) -> None:
    log_in(client, "partner", world.passwords["partner"])
    assert 'href="/evidence"' not in client.get("/", headers=HTML).text
    assert client.get("/evidence", headers=HTML).status_code == 403


def test_upload_streams_the_file_and_answers_with_the_item_page(client, node: Node, world: World) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    answer = client.post(
        "/evidence/upload", params=UPLOAD, content=PHONE_DUMP, headers=_raw(token, "application/vnd.sqlite3")
    )
    assert answer.status_code == 201, answer.text
    item_id = answer.headers["location"].removeprefix("/evidence/items/")
    [item] = node.evidence.items(_analyst(node, world), None, WHY)
    assert item.id == item_id
    assert item.sha256 == hashlib.sha256(PHONE_DUMP).hexdigest() and item.size_bytes == len(PHONE_DUMP)
    assert item.media_type == "application/vnd.sqlite3" and item.registered_by == "analyst"
    assert item.collected_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)  # 16:30 at +07:00
    assert count_rows(node, "custody_events", "kind = 'registered'") == 1
    assert client.get(answer.headers["location"], headers=HTML).status_code == 200


def test_upload_refuses_a_truncated_body_and_keeps_nothing(client, node: Node, world: World, home: Path) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    answer = client.post(
        "/evidence/upload",
        params=UPLOAD,
        content=PHONE_DUMP[:1000],
        headers=_raw(token, **{"Content-Length": str(len(PHONE_DUMP))}),
    )
    assert answer.status_code == 422 and "transfer" in answer.text
    assert count_rows(node, "evidence_items") == 0 and count_rows(node, "custody_events") == 0
    assert _stored_blobs(home) == []


def test_upload_needs_the_csrf_header(client, node: Node, world: World, home: Path) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    missing = client.post("/evidence/upload", params=UPLOAD, content=PHONE_DUMP, headers=_raw(None))
    forged = client.post("/evidence/upload", params=UPLOAD, content=PHONE_DUMP, headers=_raw("forged"))
    in_the_form = client.post(
        "/evidence/upload", params=UPLOAD, data={"csrf_token": token}, files={"file": ("phone.db", PHONE_DUMP)}
    )
    assert (missing.status_code, forged.status_code, in_the_form.status_code) == (403, 403, 403)
    assert count_rows(node, "evidence_items") == 0 and _stored_blobs(home) == []


def test_upload_without_a_time_zone_names_the_field(client, node: Node, world: World) -> None:
    token = log_in(client, "analyst", world.passwords["analyst"])
    answer = client.post(
        "/evidence/upload", params={**UPLOAD, "collected_offset": ""}, content=PHONE_DUMP, headers=_raw(token)
    )
    assert answer.status_code == 422 and "collected_offset" in answer.text
    assert count_rows(node, "evidence_items") == 0


def test_collected_time_is_always_timezone_aware() -> None:
    assert collected_time("2026-11-20T09:30", "Z") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    assert collected_time("2026-11-20T16:30+07:00", "") == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    with pytest.raises(InvalidInput) as caught:
        collected_time("2026-11-20T09:30", "7")
    assert caught.value.field == "collected_offset"
    with pytest.raises(InvalidInput) as caught:
        collected_time("yesterday", "+07:00")
    assert caught.value.field == "collected_at"


def test_sizes_read_as_file_managers_show_them() -> None:
    assert [human_size(n) for n in (0, 1023, 16_400, 8 * 1024**2, 64 * 1024**3, 3 * 1024**4)] == [
        "0 B",
        "1023 B",
        "16.0 KiB",
        "8.0 MiB",
        "64.0 GiB",
        "3.0 TiB",
    ]


def test_item_page_verifies_custody_and_shows_every_event(client, node: Node, world: World) -> None:
    analyst = _analyst(node, world)
    item = add(node, analyst)
    node.evidence.record_event(analyst, item.id, "analysed", "message timeline", {"tool": "ALEAPP 3.2"})
    log_in(client, "analyst", world.passwords["analyst"])
    page = client.get(f"/evidence/items/{item.id}", headers=HTML)
    assert page.status_code == 200
    assert "badge badge-verified" in page.text and "signed tree head of 2 events" in page.text
    detail = node.evidence.item(analyst, item.id, WHY)
    for entry in detail.custody:
        assert f"#{entry.seq}" in page.text and entry.leaf_hash in page.text
    assert "Registration" in page.text and "Analysis" in page.text and "ALEAPP 3.2" in page.text
    assert "message timeline" in page.text and item.sha256 in page.text
    assert f'<pre class="raw note" id="checkpoint-note">{html.escape(detail.checkpoint.note)}</pre>' in page.text


def test_custody_check_catches_a_wrong_proof_or_an_altered_event(node: Node, world: World) -> None:
    analyst = _analyst(node, world)
    item = add(node, analyst)
    node.evidence.record_event(analyst, item.id, "sealed", "kept for court")
    detail = node.evidence.item(analyst, item.id, WHY)
    assert check_custody(detail, node.evidence.custody).ok
    first, second = detail.custody
    bad_proof = replace(first, inclusion_proof=["00" * 32])
    altered = replace(second, document={**second.document, "purpose": "something else"})
    check = check_custody(replace(detail, custody=[bad_proof, altered]), node.evidence.custody)
    assert not check.ok
    assert [(p.check, p.seq) for p in check.problems] == [("proof", first.seq), ("body", second.seq)]
    forged_head = replace(detail, checkpoint=replace(detail.checkpoint, note=detail.checkpoint.note.replace("2", "3")))
    assert [p.check for p in check_custody(forged_head, node.evidence.custody).problems] == ["head"]


def test_record_event_form_seals_and_refuses_sealing_twice(client, node: Node, world: World) -> None:
    item = add(node, _analyst(node, world))
    token = log_in(client, "analyst", world.passwords["analyst"])
    url = f"/evidence/items/{item.id}/events"
    form = {"kind": "sealed", "purpose": "kept for court", "note": "seal 000123", "csrf_token": token}
    answer = client.post(url, data=form, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == f"/evidence/items/{item.id}#custody"
    assert count_rows(node, "evidence_items", "state = 'sealed'") == 1
    page = client.get(f"/evidence/items/{item.id}", headers=HTML)
    assert "Sealing" in page.text and "seal 000123" in page.text
    again = client.post(url, data=form, headers=HTML)
    assert again.status_code == 409 and "<strong>state</strong>" in again.text
    empty = client.post(url, data={**form, "kind": "released", "purpose": ""}, headers=HTML)
    assert empty.status_code == 422 and "<strong>purpose</strong>" in empty.text
    forged = client.post(url, data={**form, "kind": "released", "csrf_token": "forged"}, headers=HTML)
    assert forged.status_code == 403
    assert count_rows(node, "custody_events") == 2  # registered, sealed


def test_copy_form_makes_a_linked_working_copy(client, node: Node, world: World) -> None:
    item = add(node, _analyst(node, world))
    token = log_in(client, "analyst", world.passwords["analyst"])
    url = f"/evidence/items/{item.id}/copies"
    assert client.post(url, data={"purpose": "analysis"}, headers=HTML).status_code == 403
    answer = client.post(url, data={"purpose": "analysis", "csrf_token": token}, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    copy_page = client.get(answer.headers["location"], headers=HTML)
    assert f'href="/evidence/items/{item.id}" class="parent-link"' in copy_page.text and "EX-0001-C1" in copy_page.text
    copy_id = answer.headers["location"].removeprefix("/evidence/items/")
    assert f'href="/evidence/items/{copy_id}" class="copy-link"' in client.get(f"/evidence/items/{item.id}").text
    assert count_rows(node, "evidence_items", "parent_item_id = :id", id=item.id) == 1


def test_destroy_form_needs_the_confirmation(client, node: Node, world: World, home: Path) -> None:
    item = add(node, _analyst(node, world))
    token = log_in(client, "analyst", world.passwords["analyst"])
    url = f"/evidence/items/{item.id}/destruction"
    form = {"decision": "Court order 5/2027", "approved_by": "Judge Le Van C", "csrf_token": token}
    unconfirmed = client.post(url, data=form, headers=HTML)
    assert unconfirmed.status_code == 422 and "<strong>confirm</strong>" in unconfirmed.text
    assert count_rows(node, "evidence_items", "state = 'held'") == 1
    answer = client.post(url, data={**form, "confirm": "true"}, headers=HTML, follow_redirects=False)
    assert answer.status_code == 303
    assert count_rows(node, "evidence_items", "state = 'destroyed'") == 1 and _stored_blobs(home) == []
    page = client.get(f"/evidence/items/{item.id}", headers=HTML)
    assert "badge state-destroyed" in page.text and "Court order 5/2027" in page.text
    assert 'id="destroy"' not in page.text  # nothing left to act on


def test_content_download_records_an_accessed_event(client, node: Node, world: World) -> None:
    item = add(node, _analyst(node, world))
    log_in(client, "analyst", world.passwords["analyst"])
    url = f"/evidence/items/{item.id}/content"
    answer = client.get(url, params={"purpose": "forensic review"}, headers=HTML)
    assert answer.status_code == 200 and answer.content == PHONE_DUMP
    assert "attachment" in answer.headers["content-disposition"]
    assert count_rows(node, "custody_events", "kind = 'accessed' AND body LIKE '%forensic review%'") == 1
    unexplained = client.get(url, headers=HTML)
    assert unexplained.status_code == 422 and "<strong>purpose</strong>" in unexplained.text
    planted = client.get(url, params={"purpose": "x"}, headers={**HTML, "Sec-Fetch-Site": "cross-site"})
    assert planted.status_code == 403
    assert count_rows(node, "custody_events", "kind = 'accessed'") == 1


def test_package_download_verifies_and_leaves_no_file(
    client, node: Node, world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    item = add(node, _analyst(node, world))
    token = log_in(client, "analyst", world.passwords["analyst"])
    form = {"purpose": "MLA request PH-2026-17", "recipient": "PNP Anti-Cybercrime Group", "csrf_token": token}
    answer = client.post(f"/evidence/items/{item.id}/package", data=form, headers=HTML)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"].startswith("attachment")
    package = tmp_path / "received.zip"
    package.write_bytes(answer.content)
    report = verify_package(package, limits=node.evidence_packages.limits)
    assert report.ok, report.lines()
    assert report.statement is not None and report.statement["recipient"] == "PNP Anti-Cybercrime Group"
    assert list(spool.iterdir()) == []  # the zip was deleted once sent
    unexplained = client.post(f"/evidence/items/{item.id}/package", data={**form, "purpose": ""}, headers=HTML)
    assert unexplained.status_code == 422 and "<strong>purpose</strong>" in unexplained.text
    assert count_rows(node, "custody_events", "kind = 'exported'") == 1


def test_report_is_a_pdf(client, node: Node, world: World) -> None:
    item = add(node, _analyst(node, world))
    log_in(client, "analyst", world.passwords["analyst"])
    answer = client.get(f"/evidence/items/{item.id}/report.pdf", headers=HTML)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")


def test_another_partys_user_gets_404(client, node: Node, world: World, operator: Actor) -> None:
    item = add(node, _analyst(node, world))
    add_pnp_user(node, world, operator)
    token = log_in(client, "pnp", world.passwords["pnp"])
    assert item.id not in client.get("/evidence", headers=HTML).text
    assert client.get(f"/evidence/items/{item.id}", headers=HTML).status_code == 404
    assert client.get(f"/evidence/items/{item.id}/content?purpose=x", headers=HTML).status_code == 404
    assert client.get(f"/evidence/items/{item.id}/report.pdf", headers=HTML).status_code == 404
    seal = {"kind": "sealed", "purpose": "x", "csrf_token": token}
    assert client.post(f"/evidence/items/{item.id}/events", data=seal, headers=HTML).status_code == 404
    assert count_rows(node, "custody_events") == 1


def _package(node: Node, actor: Actor, tmp_path: Path) -> tuple[Path, ItemView]:
    item = add(node, actor)
    result = node.evidence_packages.export(actor, tmp_path / "package.zip", WHY, item_ids=[item.id])
    return result.path, item


def test_verify_page_passes_a_good_package_and_fails_a_tampered_one(
    client, node: Node, world: World, tmp_path: Path
) -> None:
    path, _item = _package(node, _analyst(node, world), tmp_path)
    steps = len(verify_package(path).steps)
    token = log_in(client, "analyst", world.passwords["analyst"])
    assert "Verify an evidence package" in client.get("/evidence/verify", headers=HTML).text
    good = client.post(
        "/evidence/verify", params={"file_name": "package.zip"}, content=path.read_bytes(), headers=_raw(token)
    )
    assert good.status_code == 200
    assert good.text.count('class="badge step-passed"') == steps and "step-failed" not in good.text
    assert "package.zip: every step passed." in good.text
    data = bytearray(path.read_bytes())
    data[data.index(PHONE_DUMP[:16]) + 100] ^= 0xFF  # one flipped bit pattern in the stored evidence file
    bad = client.post("/evidence/verify", content=bytes(data), headers=_raw(token))
    assert bad.status_code == 200 and 'class="badge step-failed"' in bad.text
    assert client.post("/evidence/verify", content=path.read_bytes(), headers=_raw(None)).status_code == 403
    assert zipfile.is_zipfile(path)


def test_import_page_registers_a_package_from_another_node(
    client, node: Node, world: World, peer_node: Node, operator: Actor, tmp_path: Path
) -> None:
    pnp = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    path, sent = _package(peer_node, acting_for(operator, pnp.id), tmp_path)
    token = log_in(client, "analyst", world.passwords["analyst"])
    unexplained = client.post("/evidence/import", content=path.read_bytes(), headers=_raw(token))
    assert unexplained.status_code == 422 and "purpose" in unexplained.text
    stranger = client.post(
        "/evidence/import",
        params={"purpose": "MLA request PH-2026-17", "file_name": "package.zip"},
        content=path.read_bytes(),
        headers=_raw(token),
    )
    assert stranger.status_code == 422 and "not an active peer" in stranger.text  # the sender's key is not pinned
    answer = client.post(
        "/evidence/import",
        params={
            "purpose": "MLA request PH-2026-17",
            "file_name": "package.zip",
            "expected_node": peer_node.keys.node_id,
        },
        content=path.read_bytes(),
        headers=_raw(token),
    )
    assert answer.status_code == 201, answer.text
    assert "1 item imported" in answer.text and "step-failed" not in answer.text
    [received] = node.evidence.items(_analyst(node, world), None, WHY)
    assert received.sha256 == sent.sha256 and received.party_id == world.police.id
    assert f"/evidence/items/{received.id}" in answer.text
    assert count_rows(node, "custody_events", "kind = 'received'") == 1
