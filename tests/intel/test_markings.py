"""TLP 2.0 on every read path: AMBER+STRICT and RED never leave the party they belong to."""

from __future__ import annotations

import json

import pytest

from accord.audit.service import Disclosure
from accord.errors import NotFound
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_AMBER, TLP_AMBER_STRICT, TLP_CLEAR, TLP_GREEN, TLP_RED, bundle, indicator, sid

WHY = Disclosure(purpose="fraud investigation")
LEVELS = {"clear": TLP_CLEAR, "green": TLP_GREEN, "amber": TLP_AMBER, "amber+strict": TLP_AMBER_STRICT, "red": TLP_RED}
# Who sees the police unit's objects, per level: the owner's analyst, another authority, a bank partner.
EXPECTED = {
    "clear": {"analyst", "pnp", "partner"},
    "green": {"analyst", "pnp", "partner"},
    "amber": {"analyst", "pnp"},
    "amber+strict": {"analyst"},
    "red": {"analyst"},
}


@pytest.fixture
def marked(node: Node, world: World, operator) -> dict[str, str]:
    node.identity.add_user(operator, "pnp", world.pnp.id, ["analyst"], password="a long enough password")
    world.tokens["pnp"] = node.identity.create_token(operator, "pnp", "t", ["read"], 5)[1]
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    ids = {}
    for n, (level, marking) in enumerate(LEVELS.items(), start=1):
        obj = indicator(n, f"[phone-number:value = '+8491234567{n}']", markings=[marking])
        node.intel.import_objects(analyst, [obj], source="test")
        ids[level] = obj["id"]
    return ids


def _visible_via_every_path(node: Node, client, world: World, who: str, stix_id: str, value: str) -> dict[str, bool]:
    actor = node.identity.authenticate_token(world.tokens[who])
    headers = {**world.auth(who), "Accord-Purpose": "marking test"}
    seen = {}
    try:
        node.intel.get_object(actor, stix_id, WHY)
        seen["service.get"] = True
    except NotFound:
        seen["service.get"] = False
    seen["service.search"] = any(h.stix_id == stix_id for h in node.intel.search(actor, value, WHY).hits)
    seen["service.export"] = any(o["id"] == stix_id for o in node.intel.export(actor, WHY))
    seen["service.versions"] = True
    try:
        node.intel.versions(actor, stix_id)
    except NotFound:
        seen["service.versions"] = False
    seen["api.get"] = client.get(f"/api/v1/intel/objects/{stix_id}", headers=headers).status_code == 200
    seen["api.versions"] = client.get(f"/api/v1/intel/objects/{stix_id}/versions", headers=headers).status_code == 200
    hits = client.get("/api/v1/intel/search", params={"value": value}, headers=headers).json()["hits"]
    seen["api.search"] = any(h["stix_id"] == stix_id for h in hits)
    exported = json.loads(client.get("/api/v1/intel/export", headers=headers).content)
    seen["api.export"] = any(o["id"] == stix_id for o in exported["objects"])
    return seen


@pytest.mark.parametrize("level", list(LEVELS))
def test_every_read_path_applies_the_marking(node: Node, client, world: World, marked, level: str) -> None:
    n = list(LEVELS).index(level) + 1
    for who in ("analyst", "pnp", "partner"):
        seen = _visible_via_every_path(node, client, world, who, marked[level], f"+8491234567{n}")
        expected = who in EXPECTED[level]
        assert seen == dict.fromkeys(seen, expected), (level, who, seen)


def test_a_bundle_over_http_reports_each_object(client, world: World) -> None:
    good = indicator(1, "[ipv4-addr:value = '198.51.100.1']")
    bad = indicator(2, "[ipv4-addr:value = ")
    answer = client.post("/api/v1/intel/bundles?tlp=green", json=bundle(good, bad), headers=world.auth("analyst"))
    assert answer.status_code == 207
    body = answer.json()
    assert (body["total_count"], body["success_count"], body["failure_count"]) == (2, 1, 1)
    assert body["failures"][0]["id"] == sid("indicator", 2)


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"not json", {"Content-Type": "application/json"}, 422),
        (b'{"type": "report"}', {"Content-Type": "application/json"}, 422),
        (b'{"type": "bundle", "objects": {}}', {"Content-Type": "application/json"}, 422),
        (b'{"type": "bundle", "objects": []}', {"Content-Type": "text/plain"}, 415),
    ],
)
def test_bad_bundles_are_refused_whole(client, world: World, content: bytes, headers, status: int) -> None:
    answer = client.post("/api/v1/intel/bundles", content=content, headers={**world.auth("analyst"), **headers})
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"


def test_search_names_a_bad_identifier(client, world: World) -> None:
    headers = {**world.auth("analyst"), "Accord-Purpose": "check"}
    answer = client.get("/api/v1/intel/search", params={"value": "DE00 3704 0044 0532 0130 00"}, headers=headers)
    assert answer.status_code == 422
    assert answer.json()["kind"] == "bank-account"
