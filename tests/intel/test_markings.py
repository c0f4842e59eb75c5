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
    world.passwords["pnp"] = "a long enough password"
    world.tokens["pnp"] = node.identity.create_token(operator, "pnp", "t", ["read"], 5)[1]
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    ids = {}
    for n, (level, marking) in enumerate(LEVELS.items(), start=1):
        obj = indicator(n, f"[phone-number:value = '+8491234567{n}']", markings=[marking])
        node.intel.import_objects(analyst, [obj], source="test")
        ids[level] = obj["id"]
    return ids


def _visible_via_every_path(node: Node, client, world: World, who: str, stix_id: str, value: str) -> dict[str, bool]:
    """Every read path for intelligence: service, JSON API, TAXII, web pages, exports (STIX and MISP), lookups."""
    from fastapi.testclient import TestClient

    from accord.intel.collections import collection_id
    from accord.intel.vocabulary import Tlp
    from tests.web.test_pages import HTML, log_in

    actor = node.identity.authenticate_token(world.tokens[who])
    headers = {**world.auth(who), "Accord-Purpose": "marking test"}
    seen = {}
    level = Tlp(node.intel.tlp_of(node.identity.authenticate_token(world.tokens["analyst"]), stix_id))
    taxii = f"/taxii2/accord/collections/{collection_id(level)}/objects/"
    basic = (who, world.tokens[who])
    taxii_headers = {"Accept": "application/taxii+json;version=2.1"}
    listed = client.get(taxii, auth=basic, headers=taxii_headers).json()
    seen["taxii.objects"] = any(o["id"] == stix_id for o in listed.get("objects", []))
    seen["taxii.object"] = client.get(f"{taxii}{stix_id}/", auth=basic, headers=taxii_headers).status_code == 200
    manifest = client.get(taxii.replace("/objects/", "/manifest/"), auth=basic, headers=taxii_headers).json()
    seen["taxii.manifest"] = any(o["id"] == stix_id for o in manifest.get("objects", []))
    misp_event = node.intel.export_misp_event(actor, WHY)["Event"]
    seen["service.misp_export"] = any(a["value"] == value for a in misp_event["Attribute"])
    with TestClient(client.app) as browser:
        log_in(browser, who, world.passwords[who])
        seen["ui.object"] = browser.get(f"/intel/objects/{stix_id}", headers=HTML).status_code == 200
        seen["ui.search"] = stix_id in browser.get("/intel", params={"value": value}, headers=HTML).text
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
    (looked_up,) = node.matching.lookup(actor, [value], None, WHY)
    seen["service.lookup"] = any(hit.stix_id == stix_id for hit in looked_up.hits.visible)
    bulk = client.post("/api/v1/lookup", json={"values": [value]}, headers=headers).json()["results"][0]
    seen["api.lookup"] = any(hit["stix_id"] == stix_id for hit in bulk["hits"]["visible"])
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


@pytest.mark.parametrize("level", ["green", "amber", "red"])
def test_sharing_groups_narrow_the_audience_on_every_path(node: Node, client, world: World, operator, level) -> None:
    node.identity.add_user(operator, "pnp", world.pnp.id, ["analyst"], password="a long enough password")
    world.passwords["pnp"] = "a long enough password"
    world.tokens["pnp"] = node.identity.create_token(operator, "pnp", "t", ["read"], 5)[1]
    node.intel.create_sharing_group(operator, "Mekong task force", [world.police.id, world.bank.id])
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    obj = indicator(40, "[phone-number:value = '+84912345640']", markings=[LEVELS[level]])
    node.intel.import_objects(analyst, [obj], sharing_group="Mekong task force", source="test")
    expected = {"green": {"analyst", "partner"}, "amber": {"analyst", "partner"}, "red": {"analyst"}}[level]
    for who in ("analyst", "pnp", "partner"):  # the bank is in the group, the Philippine police are not
        seen = _visible_via_every_path(node, client, world, who, obj["id"], "+84912345640")
        assert seen == dict.fromkeys(seen, who in expected), (level, who, seen)


def test_only_members_may_share_with_a_group(node: Node, world: World, operator) -> None:
    from accord.errors import InvalidInput

    node.intel.create_sharing_group(operator, "Bank circle", [world.bank.id])
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    with pytest.raises(InvalidInput) as caught:
        node.intel.import_objects(
            analyst, [indicator(41, "[ipv4-addr:value = '192.0.2.41']")], sharing_group="Bank circle", source="test"
        )
    assert caught.value.field == "sharing_group"
