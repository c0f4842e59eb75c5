"""The TAXII 2.1 server as real clients use it: unmodified taxii2-client and stix2.TAXIICollectionSource."""

from __future__ import annotations

import pytest
import stix2
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from accord.intel.collections import collection_id
from accord.intel.vocabulary import Tlp
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_AMBER, TLP_GREEN, TLP_RED, indicator, sid


@pytest.fixture
def stocked(node: Node, world: World) -> list[dict]:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    objects = [indicator(n, f"[ipv4-addr:value = '198.51.100.{n}']", markings=[TLP_GREEN]) for n in range(1, 26)]
    objects.append(indicator(90, "[ipv4-addr:value = '203.0.113.90']", markings=[TLP_RED]))
    objects.append(indicator(91, "[ipv4-addr:value = '203.0.113.91']", markings=[TLP_AMBER]))
    newer = {**objects[0], "modified": "2026-11-05T08:00:00.000Z", "name": "updated"}
    report = node.intel.import_objects(analyst, [*objects, newer], source="test")
    assert not report.failures
    return objects


def _green(live_server: str, world: World, who: str = "analyst") -> Collection:
    url = f"{live_server}/taxii2/accord/collections/{collection_id(Tlp.GREEN)}/"
    return Collection(url, user=who, password=world.tokens[who])


def test_discovery_api_root_and_collections(live_server: str, world: World) -> None:
    server = Server(f"{live_server}/taxii2/", user="partner", password=world.tokens["partner"])
    assert server.title.startswith("Accord node")
    root: ApiRoot = server.default
    assert root.versions == ["application/taxii+json;version=2.1"]
    titles = {c.title: c for c in root.collections}
    assert set(titles) == {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}
    assert titles["TLP:GREEN"].can_read and titles["TLP:GREEN"].can_write


def test_paging_through_a_collection_with_next(live_server: str, world: World, stocked) -> None:
    collection = _green(live_server, world)
    pages = list(as_pages(collection.get_objects, per_request=10))
    assert [len(p.get("objects", [])) for p in pages] == [10, 10, 5]
    ids = [o["id"] for p in pages for o in p["objects"]]
    assert len(ids) == len(set(ids)) == 25  # latest versions only, each once
    assert next(o for p in pages for o in p["objects"] if o["id"] == sid("indicator", 1))["name"] == "updated"


def test_filters_versions_and_manifest(live_server: str, world: World, stocked) -> None:
    collection = _green(live_server, world)
    one = collection.get_object(sid("indicator", 1), version="all")
    assert [o["modified"] for o in one["objects"]] == ["2026-11-01T08:00:00.000Z", "2026-11-05T08:00:00.000Z"]
    first = collection.get_object(sid("indicator", 1), version="first")
    assert first["objects"][0]["name"] == "Scam report 1"
    versions = collection.object_versions(sid("indicator", 1))
    assert versions["versions"] == ["2026-11-01T08:00:00.000Z", "2026-11-05T08:00:00.000Z"]
    typed = collection.get_objects(type="malware")
    assert typed.get("objects", []) == []
    manifest = collection.get_manifest(id=sid("indicator", 2))
    assert manifest["objects"][0]["version"] == "2026-11-01T08:00:00.000Z"


def test_add_objects_returns_a_status_that_can_be_fetched_again(live_server: str, world: World, node: Node) -> None:
    collection = _green(live_server, world)
    good = indicator(200, "[domain-name:value = 'vcb-hotro.blogspot.com']")
    bad = indicator(201, "[domain-name:value = ")
    status = collection.add_objects({"objects": [good, bad]})
    assert (status.status, status.success_count, status.failure_count) == ("complete", 1, 1)
    assert status.failures[0]["id"] == sid("indicator", 201)
    status.refresh()  # GET /status/{id}/ on the server
    assert status.success_count == 1
    stored = node.intel.get_object(
        node.identity.authenticate_token(world.tokens["analyst"]),
        good["id"],
        __import__("accord.audit.service", fromlist=["Disclosure"]).Disclosure(purpose="t"),
    )
    assert stored["id"] == good["id"]


def test_stix2_taxii_collection_source_queries(live_server: str, world: World, stocked) -> None:
    source = stix2.TAXIICollectionSource(_green(live_server, world))
    assert source.get(sid("indicator", 3))["id"] == sid("indicator", 3)
    found = source.query([stix2.Filter("type", "=", "indicator")])
    assert len({o["id"] for o in found}) == 25


def test_markings_hold_over_taxii(live_server: str, world: World, stocked) -> None:
    red = f"{live_server}/taxii2/accord/collections/{collection_id(Tlp.RED)}/"
    amber = f"{live_server}/taxii2/accord/collections/{collection_id(Tlp.AMBER)}/"
    assert len(Collection(red, user="analyst", password=world.tokens["analyst"]).get_objects()["objects"]) == 1
    assert "objects" not in Collection(red, user="partner", password=world.tokens["partner"]).get_objects()
    assert "objects" not in Collection(amber, user="partner", password=world.tokens["partner"]).get_objects()


def test_errors_are_taxii_error_resources(live_server: str, world: World) -> None:
    import requests

    base = f"{live_server}/taxii2/"
    answer = requests.get(base, timeout=10)
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Basic")
    assert answer.headers["content-type"] == "application/taxii+json;version=2.1"
    assert answer.json()["http_status"] == "401"
    answer = requests.get(
        base, headers={"Accept": "application/xml"}, auth=("analyst", world.tokens["analyst"]), timeout=10
    )
    assert answer.status_code == 406
    url = f"{base}accord/collections/{collection_id(Tlp.GREEN)}/objects/"
    answer = requests.post(
        url,
        data="{}",
        headers={"Content-Type": "application/json"},
        auth=("analyst", world.tokens["analyst"]),
        timeout=10,
    )
    assert answer.status_code == 415 and answer.json()["http_status"] == "415"
    answer = requests.get(f"{base}accord/collections/nope/", auth=("analyst", world.tokens["analyst"]), timeout=10)
    assert answer.status_code == 404 and set(answer.json()) >= {"title", "description", "http_status"}
    answer = requests.get(url, params={"next": "!!"}, auth=("analyst", world.tokens["analyst"]), timeout=10)
    assert answer.status_code == 422
    answer = requests.get(base, auth=("admin", world.tokens["analyst"]), timeout=10)  # someone else's token
    assert answer.status_code == 401
