"""The cooperation API's fixed points over HTTP: create, transition, read with history and clocks, catalogue;
problem+json naming each missing element with its article (422) and both states of an illegal move (409)."""

from __future__ import annotations

from typing import Any

from accord.node import Node
from tests.conftest import World, count_rows
from tests.cooperation.test_requests import preservation_fields

PURPOSE = {"Accord-Purpose": "case VN-A05-2026-0117"}


def _body(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "type": "preservation",
        "instrument": "BC",
        "requested_party": world.pnp.id,
        "language": "en",
        "case_reference": "VN-A05-2026-0117",
        "fields": preservation_fields(**fields),
    }


def test_catalogue_endpoint(client: Any, world: World) -> None:
    response = client.get("/api/v1/cooperation/catalogue", headers=world.auth("analyst"))
    assert response.status_code == 200
    types = response.json()["request_types"]
    assert {"preservation", "mla_stored_data", "emergency_disclosure", "spontaneous_information"} <= set(types)
    required = types["preservation"]["instruments"]["BC"]["required"]
    assert {"field": "custodian", "article": "BC 29(2)(d)"}.items() <= next(
        r for r in required if r["field"] == "custodian"
    ).items()


def test_create_send_and_read_with_history_and_clocks(client: Any, world: World, node: Node) -> None:
    created = client.post("/api/v1/cooperation/requests", json=_body(world), headers=world.auth("analyst"))
    assert created.status_code == 201, created.text
    request_id = created.json()["id"]
    assert created.headers["location"].endswith(request_id)
    moved = client.post(
        f"/api/v1/cooperation/requests/{request_id}/transitions", json={"to": "sent"}, headers=world.auth("analyst")
    )
    assert moved.status_code == 200, moved.text
    read = client.get(f"/api/v1/cooperation/requests/{request_id}", headers={**world.auth("analyst"), **PURPOSE})
    document = read.json()
    assert document["state"] == "received"
    assert [h["to"] for h in document["history"]] == ["draft", "sent", "received", "active"]
    assert {c["name"] for c in document["clocks"]} >= {"preservation_hold"}
    assert count_rows(node, "audit_entries", "action = 'cooperation.request.read'") == 1
    unread = client.get(f"/api/v1/cooperation/requests/{request_id}", headers=world.auth("analyst"))
    assert unread.status_code == 422 and unread.json()["errors"][0]["field"] == "Accord-Purpose"


def test_missing_elements_are_a_422_naming_each_with_its_article(client: Any, world: World, node: Node) -> None:
    body = _body(world, custodian=None, necessity=None)
    request_id = client.post("/api/v1/cooperation/requests", json=body, headers=world.auth("analyst")).json()["id"]
    refused = client.post(
        f"/api/v1/cooperation/requests/{request_id}/transitions", json={"to": "sent"}, headers=world.auth("analyst")
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    errors = {e["field"]: e["article"] for e in refused.json()["errors"]}
    assert errors == {"custodian": "BC 29(2)(d)", "necessity": "BC 29(2)(e)"}
    assert count_rows(node, "cooperation_transitions") == 1  # nothing half-written


def test_illegal_transition_is_a_409_naming_both_states(client: Any, world: World) -> None:
    request_id = client.post("/api/v1/cooperation/requests", json=_body(world), headers=world.auth("analyst")).json()[
        "id"
    ]
    refused = client.post(
        f"/api/v1/cooperation/requests/{request_id}/transitions",
        json={"to": "executed"},
        headers=world.auth("analyst"),
    )
    assert refused.status_code == 409
    assert refused.json()["current_state"] == "draft" and refused.json()["requested_state"] == "executed"
    unknown = client.post(
        f"/api/v1/cooperation/requests/{request_id}/transitions",
        json={"to": "teleported"},
        headers=world.auth("analyst"),
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "to"


def test_partner_cannot_create_requests(client: Any, world: World) -> None:
    response = client.post("/api/v1/cooperation/requests", json=_body(world), headers=world.auth("partner"))
    assert response.status_code == 403


def test_json_and_pdf_carry_the_same_content_hash(client: Any, world: World) -> None:
    import hashlib
    import re

    from accord.canonical_json import canonical_bytes

    request_id = client.post("/api/v1/cooperation/requests", json=_body(world), headers=world.auth("analyst")).json()[
        "id"
    ]
    headers = {**world.auth("analyst"), **PURPOSE}
    document = client.get(f"/api/v1/cooperation/requests/{request_id}/document.json", headers=headers).json()
    digest = document.pop("content_hash")
    assert hashlib.sha256(canonical_bytes(document)).hexdigest() == digest
    assert {e["field"]: e["article"] for e in document["required"]}["custodian"] == "BC 29(2)(d)"
    pdf = client.get(f"/api/v1/cooperation/requests/{request_id}/document.pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["accord-content-hash"] == digest
    text = _pdf_text(pdf.content)
    assert digest in re.sub(r"\s+", "", text)  # the printed hash is the JSON's
    assert "BC 29(2)(d)" in text and "CONFIDENTIAL" in text


def _pdf_text(data: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_patching_fields_with_a_non_object_is_a_422(client: Any, world: World) -> None:
    request_id = client.post("/api/v1/cooperation/requests", json=_body(world), headers=world.auth("analyst")).json()[
        "id"
    ]
    answer = client.patch(
        f"/api/v1/cooperation/requests/{request_id}", json={"fields": ["x"]}, headers=world.auth("analyst")
    )
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "fields"
