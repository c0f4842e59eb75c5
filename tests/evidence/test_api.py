"""The evidence API over HTTP: streamed uploads, custody reads, packages, and problem+json for bad input."""

from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from accord.evidence.verify import verify_package
from accord.node import Node
from tests.conftest import World, count_rows
from tests.evidence.conftest import PHONE_DUMP

PURPOSE = {"Accord-Purpose": "case VN-2026-0042 review"}
META = {
    "case_reference": "VN-2026-0042",
    "description": "Phone extraction",
    "collector": "Sgt. Tran Thi B",
    "collected_at": "2026-11-20T09:30:00+07:00",
    "file_name": "phone.db",
    "legal_basis": "Search warrant 17/2026/QD",
}


def _upload(client: Any, world: World, data: bytes = PHONE_DUMP, **params: str) -> Any:
    headers = {**world.auth("analyst"), "Content-Type": "application/vnd.sqlite3"}
    return client.post("/api/v1/evidence/items", params={**META, **params}, content=data, headers=headers)


def test_upload_read_and_download(client: Any, world: World) -> None:
    response = _upload(client, world)
    assert response.status_code == 201, response.text
    item = response.json()
    assert item["sha256"] == hashlib.sha256(PHONE_DUMP).hexdigest()
    assert item["media_type"] == "application/vnd.sqlite3"
    assert response.headers["location"].endswith(item["id"])
    detail = client.get(f"/api/v1/evidence/items/{item['id']}", headers={**world.auth("analyst"), **PURPOSE}).json()
    assert [e["kind"] for e in detail["custody"]] == ["registered"]
    assert detail["checkpoint"].startswith("accord/node-")
    content = client.get(f"/api/v1/evidence/items/{item['id']}/content", headers={**world.auth("analyst"), **PURPOSE})
    assert content.content == PHONE_DUMP
    assert content.headers["content-disposition"] == "attachment; filename*=UTF-8''phone.db"
    listed = client.get("/api/v1/evidence/items", headers={**world.auth("analyst"), **PURPOSE}).json()
    assert [i["id"] for i in listed["items"]] == [item["id"]]


def test_streamed_chunked_upload_with_expected_hash(client: Any, world: World) -> None:
    def body() -> Any:
        for start in range(0, len(PHONE_DUMP), 4096):
            yield PHONE_DUMP[start : start + 4096]

    ok = _upload(client, world, data=body(), sha256=hashlib.sha256(PHONE_DUMP).hexdigest())  # type: ignore[arg-type]
    assert ok.status_code == 201
    wrong = _upload(client, world, sha256="0" * 64)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["errors"][0]["field"] == "sha256"


def test_bad_input_names_the_field(client: Any, world: World) -> None:
    response = _upload(client, world, file_name="../../etc/passwd")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file_name"
    missing = client.post(
        "/api/v1/evidence/items",
        params={k: v for k, v in META.items() if k != "collector"},
        content=b"x",
        headers=world.auth("analyst"),
    )
    assert missing.status_code == 422
    assert "collector" in missing.text
    no_purpose = client.get("/api/v1/evidence/items", headers=world.auth("analyst"))
    assert no_purpose.status_code == 422
    assert no_purpose.json()["errors"][0]["field"] == "Accord-Purpose"
    assert (
        client.get(
            "/api/v1/evidence/items/evidence-item--nope", headers={**world.auth("analyst"), **PURPOSE}
        ).status_code
        == 404
    )
    event = client.post(
        f"/api/v1/evidence/items/{_upload(client, world).json()['id']}/events",
        json={"kind": "registered", "purpose": "x"},
        headers=world.auth("analyst"),
    )
    assert event.status_code == 422 and event.json()["errors"][0]["field"] == "kind"


def test_partner_cannot_upload(client: Any, world: World, node: Node) -> None:
    headers = {**world.auth("partner"), "Content-Type": "application/octet-stream"}
    response = client.post("/api/v1/evidence/items", params=META, content=b"x", headers=headers)
    assert response.status_code == 403
    assert count_rows(node, "evidence_items") == 0


def test_seal_copy_destroy_over_the_api(client: Any, world: World) -> None:
    item = _upload(client, world).json()
    auth = world.auth("analyst")
    base = f"/api/v1/evidence/items/{item['id']}"
    assert client.post(f"{base}/events", json={"kind": "sealed", "purpose": "sealed"}, headers=auth).status_code == 201
    sealed = client.get(f"{base}/content", headers={**auth, **PURPOSE})
    assert sealed.status_code == 409 and sealed.json()["state"] == "sealed"
    copy = client.post(f"{base}/copies", json={"purpose": "working copy"}, headers=auth)
    assert copy.status_code == 201 and copy.json()["parent_item_id"] == item["id"]
    destroyed = client.post(
        f"{base}/destruction", json={"decision": "Order 5/2027", "approved_by": "Judge"}, headers=auth
    )
    assert destroyed.status_code == 200


def test_package_export_verify_and_checkpoint(client: Any, world: World, tmp_path: Path) -> None:
    item = _upload(client, world).json()
    auth = world.auth("analyst")
    response = client.post("/api/v1/evidence/packages", json={"items": [item["id"]]}, headers={**auth, **PURPOSE})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    package = tmp_path / "package.zip"
    package.write_bytes(response.content)
    assert verify_package(package).ok
    checked = client.post("/api/v1/evidence/packages/verify", content=response.content, headers=auth).json()
    assert checked["verified"] is True and len(checked["steps"]) == 13
    tampered = bytearray(response.content)
    at = tampered.find(PHONE_DUMP[:64])
    tampered[at + 20] ^= 1
    failed = client.post("/api/v1/evidence/packages/verify", content=bytes(tampered), headers=auth).json()
    assert failed["verified"] is False
    assert any(step["status"] == "failed" for step in failed["steps"])
    head = client.get("/api/v1/evidence/log/checkpoint", headers=auth).json()
    assert head["tree_size"] == 2
    proof = client.get("/api/v1/evidence/log/consistency", params={"from": 1, "to": 2}, headers=auth)
    assert proof.status_code == 200 and len(proof.json()["proof"]) == 1
    bad = client.get("/api/v1/evidence/log/consistency", params={"from": 3, "to": 2}, headers=auth)
    assert bad.status_code == 422


def test_truncated_upload_over_a_real_connection_keeps_nothing(live_server: str, world: World, node: Node) -> None:
    """The client announces 1 MB and hangs up after 100 KB: nothing is registered and no blob remains."""
    address = urlparse(live_server)
    query = urlencode(META)
    head = (
        f"POST /api/v1/evidence/items?{query} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: Bearer {world.tokens['analyst']}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(head.encode() + b"\x00" * 100_000)
    deadline = time.monotonic() + 10
    incoming = node.settings.home / "blobs" / "incoming"
    while time.monotonic() < deadline and incoming.exists() and any(incoming.iterdir()):
        time.sleep(0.05)
    time.sleep(0.2)
    assert count_rows(node, "evidence_items") == 0
    assert not incoming.exists() or not any(incoming.iterdir())
    assert not (node.settings.home / "blobs" / "sha256").exists()
