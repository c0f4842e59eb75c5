"""The JSON API through an in-process ASGI client, asserting stored state as well as answers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from accord.clock import FrozenClock
from accord.node import Node
from tests.conftest import World, count_rows


def test_healthz(client, node: Node) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["node_id"] == node.keys.node_id


def test_me_names_user_party_and_roles(client, world: World) -> None:
    answer = client.get("/api/v1/me", headers=world.auth("analyst"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["username"] == "analyst"
    assert body["party"] == {"id": world.police.id, "name": "A05 Cybercrime Unit", "country": "VN"}
    assert body["roles"] == ["analyst"]
    assert body["scopes"] == ["read", "write"]


def test_unknown_and_expired_tokens_are_401(client, world: World, clock: FrozenClock) -> None:
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Bearer accord.nope"}).status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401
    clock.advance(timedelta(days=91))
    answer = client.get("/api/v1/me", headers=world.auth("analyst"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_admin_registers_a_party_and_the_write_is_audited(client, node: Node, world: World) -> None:
    answer = client.post(
        "/api/v1/parties",
        json={"name": "Ghana Police Cybercrime Unit", "kind": "law_enforcement", "country": "gh"},
        headers=world.auth("admin"),
    )
    assert answer.status_code == 201
    assert answer.json()["country"] == "GH"
    assert count_rows(node, "parties", "name = 'Ghana Police Cybercrime Unit'") == 1
    assert count_rows(node, "audit_entries", "action = 'token.use' AND actor = 'admin'") == 1
    assert count_rows(node, "audit_entries", "action = 'party.create' AND actor = 'admin'") == 1


def test_forbidden_action_is_403_and_audited(client, node: Node, world: World) -> None:
    answer = client.post(
        "/api/v1/parties", json={"name": "Rogue", "kind": "bank", "country": "VN"}, headers=world.auth("analyst")
    )
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:accord:problem:forbidden"
    assert count_rows(node, "parties", "name = 'Rogue'") == 0
    assert count_rows(node, "audit_entries", "action = 'access.denied' AND actor = 'analyst'") == 1


def test_invalid_field_is_422_naming_it(client, node: Node, world: World) -> None:
    answer = client.post(
        "/api/v1/parties", json={"name": "X", "kind": "bank", "country": "ZZ"}, headers=world.auth("admin")
    )
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "country", "reason": "'ZZ' is not an ISO 3166-1 alpha-2 country code"}]
    answer = client.post("/api/v1/parties", json={"name": "X", "kind": "bank"}, headers=world.auth("admin"))
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "country"
    assert count_rows(node, "parties", "name = 'X'") == 0


def test_users_listing_records_purpose_from_headers(client, node: Node, world: World) -> None:
    answer = client.get(
        "/api/v1/users",
        headers={**world.auth("admin"), "Accord-Purpose": "access review", "Accord-Legal-Basis": "Art. 36 UNCC"},
    )
    assert answer.status_code == 200
    assert {u["username"] for u in answer.json()} == {"admin", "analyst", "auditor", "partner"}
    assert "password_hash" not in answer.text
    assert (
        count_rows(
            node, "audit_entries", "action = 'user.list' AND purpose = 'access review' AND legal_basis = 'Art. 36 UNCC'"
        )
        == 1
    )


def test_admin_creates_user_and_gets_password_once(client, node: Node, world: World) -> None:
    answer = client.post(
        "/api/v1/users",
        json={"username": "hoa.pham", "party": world.police.name, "roles": ["central_authority"]},
        headers=world.auth("admin"),
    )
    assert answer.status_code == 201
    password = answer.json()["password"]
    assert len(password) >= 20
    assert node.login.login("hoa.pham", password, "127.0.0.1").roles == frozenset({"central_authority"})


def test_token_lifecycle_over_the_api(client, node: Node, world: World) -> None:
    created = client.post(
        "/api/v1/tokens",
        json={"name": "bank batch job", "scopes": ["read"], "expires_in_days": 7},
        headers=world.auth("partner"),
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    token_id = created.json()["token"]["id"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()["scopes"] == ["read"]
    listed = client.get("/api/v1/tokens", headers=world.auth("partner")).json()
    assert {t["name"] for t in listed} == {"tests", "bank batch job"}
    assert all("secret" not in t for t in listed)
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=world.auth("partner"))
    assert revoked.json()["status"] == "revoked"
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_audit_api_for_auditors_only(client, world: World) -> None:
    assert (
        client.get("/api/v1/audit", headers={**world.auth("analyst"), "Accord-Purpose": "curious"}).status_code == 403
    )
    answer = client.get(
        "/api/v1/audit?limit=5&action=token.", headers={**world.auth("auditor"), "Accord-Purpose": "spot check"}
    )
    assert answer.status_code == 200
    assert all(e["action"].startswith("token.") for e in answer.json())
    verify = client.get("/api/v1/audit/verify", headers=world.auth("auditor")).json()
    assert verify["ok"] is True and verify["entries"] > 0


def test_oversized_body_is_413(client, world: World, node: Node) -> None:
    big = "x" * (node.settings.max_body_bytes + 1)
    answer = client.post(
        "/api/v1/parties", content=big, headers={**world.auth("admin"), "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"


def test_evidence_chunks_from_peers_have_their_own_body_limit(client, node: Node) -> None:
    """A chunk of an evidence transfer may exceed max_body_bytes (up to MAX_CHUNK_BYTES); nothing else may."""
    from accord.federation.evidence_receive import MAX_CHUNK_BYTES

    path = "/federation/v1/transfers/evidence-transfer--x/chunks/0"
    fits = client.put(path, content=b"x" * (node.settings.max_body_bytes + 1))
    assert fits.status_code == 422  # read whole, then refused for its missing Content-Digest: not a 413
    too_big = client.put(path, content=b"x" * (MAX_CHUNK_BYTES + 1))
    assert too_big.status_code == 413
    assert client.post("/federation/v1/transfers", content=b"x" * (node.settings.max_body_bytes + 1)).status_code == 413


def test_openapi_document_lists_the_api(client) -> None:
    document = client.get("/api/openapi.json").json()
    assert {"/api/v1/me", "/api/v1/parties", "/api/v1/users", "/api/v1/tokens", "/api/v1/audit"} <= set(
        document["paths"]
    )


def test_security_headers_on_api_and_pages(client, world: World) -> None:
    for path in ("/healthz", "/login", "/api/v1/me"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "'unsafe-inline'" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_admin_deactivates_a_user_over_the_api(client, world: World) -> None:
    headers = {**world.auth("admin"), "Accord-Purpose": "leaver"}
    answer = client.patch("/api/v1/users/partner", json={"is_active": False}, headers=headers)
    assert answer.status_code == 200 and answer.json()["is_active"] is False
    assert client.get("/api/v1/me", headers=world.auth("partner")).status_code == 401
    assert client.patch("/api/v1/users/partner", json={"is_active": "maybe"}, headers=headers).status_code == 422
    assert client.patch("/api/v1/users/ghost", json={"is_active": True}, headers=headers).status_code == 404


def test_reading_personal_data_requires_a_purpose_and_keeps_its_utf8(client, node: Node, world: World) -> None:
    answer = client.get("/api/v1/users", headers=world.auth("admin"))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "Accord-Purpose"
    purpose = "Điều tra vụ án lừa đảo 12/2026"
    answer = client.get("/api/v1/users", headers=[*world.auth("admin").items(), ("Accord-Purpose", purpose.encode())])
    assert answer.status_code == 200
    assert count_rows(node, "audit_entries", "action = 'user.list' AND purpose = :p", p=purpose) == 1
    bad = client.get("/api/v1/users", headers={**world.auth("admin"), "Accord-Purpose": "x\x7f"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/audit?by=a%00b"),
        ("GET", "/api/v1/audit?before_seq=9007199254740993"),
        ("GET", "/api/v1/audit?before_seq=123456789012345678901"),
        ("DELETE", "/api/v1/tokens/token--%00"),
    ],
)
def test_hostile_query_and_path_values_are_4xx_not_500(client, world: World, method: str, path: str) -> None:
    headers = {**world.auth("auditor" if "audit" in path else "admin"), "Accord-Purpose": "test"}
    answer = client.request(method, path, headers=headers)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_nul_in_json_fields_is_422(client, world: World, node: Node) -> None:
    answer = client.post(
        "/api/v1/users",
        json={"username": "nul.user", "party": world.police.id, "roles": ["analyst"], "email": "a\u0000@b.org"},
        headers=world.auth("admin"),
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "email"
    assert count_rows(node, "users", "username = 'nul.user'") == 0
