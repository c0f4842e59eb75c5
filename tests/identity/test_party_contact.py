"""A party's point of contact: what a lookup names when the asker may not see the report behind a hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from accord.audit.models import AuditEntry
from accord.cli.main import run
from accord.errors import InvalidInput
from accord.identity.actor import Actor
from accord.identity.errors import PermissionDenied
from accord.node import Node
from tests.conftest import World

DESK = "24/7 desk, +84 24 3456 7890, a05-247@example.gov.vn"


def test_a_contact_is_set_changed_and_cleared_with_an_audit_entry_each(
    node: Node, world: World, operator: Actor
) -> None:
    assert world.police.contact is None
    assert node.identity.set_party_contact(operator, "A05 Cybercrime Unit", DESK).contact == DESK
    assert node.identity.set_party_contact(operator, world.police.id, "  ").contact is None
    assert node.identity.get_party(world.police.id).contact is None
    with node.db.reading() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "party.update")).all()
    assert [json.loads(e.details) for e in entries] == [
        {"field": "contact", "before": None, "after": DESK},
        {"field": "contact", "before": DESK, "after": None},
    ]
    assert {e.object_id for e in entries} == {world.police.id}


def test_only_admins_set_contacts_and_contacts_are_bounded(node: Node, world: World, operator: Actor) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    with pytest.raises(PermissionDenied):
        node.identity.set_party_contact(analyst, world.police.id, DESK)
    with pytest.raises(InvalidInput) as caught:
        node.identity.set_party_contact(operator, world.police.id, "x" * 301)
    assert caught.value.field == "contact"
    with pytest.raises(InvalidInput) as caught:
        node.identity.add_party(operator, "CERT-PH", "cert", "PH", contact="desk\x00")
    assert caught.value.field == "contact"


def test_the_api_takes_and_shows_a_contact(client, world: World) -> None:
    body = {"name": "CERT-PH", "kind": "cert", "country": "PH", "contact": "cert-ph@example.gov.ph"}
    created = client.post("/api/v1/parties", json=body, headers=world.auth("admin"))
    assert created.status_code == 201 and created.json()["contact"] == "cert-ph@example.gov.ph"
    listed = client.get("/api/v1/parties", headers=world.auth("analyst")).json()
    assert {p["name"]: p["contact"] for p in listed}["CERT-PH"] == "cert-ph@example.gov.ph"


def test_the_cli_adds_and_sets_contacts(tmp_path: Path, database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    def invoke(*args: str) -> tuple[int, str, str]:
        code = run(["--home", str(tmp_path / "node"), "--database-url", database_url, *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    assert invoke("init", "--name", "VN node", "--country", "VN")[0] == 0
    code, _out, err = invoke("party", "add", "A05", "--kind", "law_enforcement", "--country", "VN", "--contact", DESK)
    assert code == 0, err
    code, out, _err = invoke("party", "set-contact", "A05", "a05-247@example.gov.vn")
    assert code == 0 and out == "A05: a05-247@example.gov.vn\n"
    code, out, _err = invoke("party", "set-contact", "A05", "")
    assert code == 0 and out == "A05: (no contact)\n"
    code, _out, err = invoke("party", "set-contact", "Nobody", "x")
    assert code == 1 and err.startswith("accord: no party") and err.count("\n") == 1
