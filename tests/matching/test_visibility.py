"""The visibility matrix of lookups: role, party and marking → what each lookup path reveals.

A reader who may see a report gets it in full; one who may not gets the hit, the holder's country and point of
contact, and nothing that identifies the report. Both paths (service and HTTP API) answer alike.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_AMBER, TLP_AMBER_STRICT, TLP_CLEAR, TLP_GREEN, TLP_RED, indicator
from tests.matching.conftest import A05_CONTACT, WHY, add_pnp_user

LEVELS = {"clear": TLP_CLEAR, "green": TLP_GREEN, "amber": TLP_AMBER, "amber+strict": TLP_AMBER_STRICT, "red": TLP_RED}
# Who sees the Vietnamese police's report, per marking: its own analyst and admin, the Philippine police (another
# authority), a Vietnamese bank (a partner), the node's operator.
SEES = {
    "clear": {"analyst", "admin", "pnp", "partner", "operator"},
    "green": {"analyst", "admin", "pnp", "partner", "operator"},
    "amber": {"analyst", "admin", "pnp", "operator"},
    "amber+strict": {"analyst", "admin", "operator"},
    "red": {"analyst", "admin", "operator"},
}
READERS = ["analyst", "admin", "pnp", "partner", "operator"]


def _views(node: Node, client: Any, world: World, operator: Actor, who: str, value: str) -> list[dict[str, Any]]:
    """The lookup result for ``value`` as ``who`` gets it on every lookup path."""
    actor = operator if who == "operator" else node.identity.authenticate_token(world.tokens[who])
    (result,) = node.matching.lookup(actor, [value], None, WHY)
    views = [result.document()]
    if who != "operator":  # the operator works from the node's shell, not over HTTP
        headers = {**world.auth(who), "Accord-Purpose": "matrix"}
        answer = client.post("/api/v1/lookup", json={"values": [value]}, headers=headers)
        assert answer.status_code == 200, answer.text
        views.append(answer.json()["results"][0])
    return views


@pytest.fixture
def readers(node: Node, world: World, operator: Actor) -> World:
    add_pnp_user(node, world, operator)
    node.identity.set_party_contact(operator, world.police.id, A05_CONTACT)
    return world


@pytest.mark.parametrize("level", list(LEVELS))
def test_each_reader_sees_a_report_in_full_or_only_as_a_hit(
    node: Node, client, readers: World, operator: Actor, level: str
) -> None:
    analyst = node.identity.authenticate_token(readers.tokens["analyst"])
    report = indicator(60, "[phone-number:value = '+84912345660']", markings=[LEVELS[level]])
    node.intel.import_objects(analyst, [report], source="test")
    for who in READERS:
        for view in _views(node, client, readers, operator, who, "+84 91 234 5660"):
            hits = view["hits"]
            assert hits["found"], (level, who)
            if who in SEES[level]:
                assert [hit["stix_id"] for hit in hits["visible"]] == [report["id"]], (level, who)
                assert hits["restricted"] is None, (level, who)
            else:
                assert hits["visible"] == [] and hits["visible_count"] == 0, (level, who)
                assert hits["restricted"] == {
                    "parties": 1,
                    "countries": ["VN"],
                    "contacts": [
                        {
                            "party_id": readers.police.id,
                            "party": "A05 Cybercrime Unit",
                            "country": "VN",
                            "contact": A05_CONTACT,
                        }
                    ],
                }, (level, who)
                assert report["id"] not in json.dumps(view), (level, who)


@pytest.mark.parametrize("level", ["green", "amber", "red"])
def test_a_sharing_group_narrows_lookups_like_every_other_read(
    node: Node, client, readers: World, operator: Actor, level: str
) -> None:
    node.intel.create_sharing_group(operator, "Mekong task force", [readers.police.id, readers.bank.id])
    analyst = node.identity.authenticate_token(readers.tokens["analyst"])
    report = indicator(61, "[phone-number:value = '+84912345661']", markings=[LEVELS[level]])
    node.intel.import_objects(analyst, [report], sharing_group="Mekong task force", source="test")
    members = {"analyst", "admin", "partner", "operator"} if level != "red" else {"analyst", "admin", "operator"}
    for who in READERS:
        for view in _views(node, client, readers, operator, who, "+84912345661"):
            visible = [hit["stix_id"] for hit in view["hits"]["visible"]]
            assert visible == ([report["id"]] if who in members else []), (level, who)
            assert (view["hits"]["restricted"] is None) == (who in members), (level, who)


def test_an_auditor_gets_no_answer_at_all(node: Node, client, readers: World) -> None:
    answer = client.post(
        "/api/v1/lookup",
        json={"values": ["+84912345660"]},
        headers={**readers.auth("auditor"), "Accord-Purpose": "matrix"},
    )
    assert answer.status_code == 403 and "results" not in answer.json()
