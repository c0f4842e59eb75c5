"""Delete An Object (TAXII 2.1 section 5.7) and DELETE /api/v1/intel/objects/{id}: only the owning party deletes,
what the caller may not see answers 404 like what does not exist, and the index and audit log follow."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text
from taxii2client.v21 import Collection

from accord.audit.service import Disclosure
from accord.errors import NotFound
from accord.identity.errors import PermissionDenied
from accord.intel.collections import collection_id
from accord.intel.service import parse_versions
from accord.intel.vocabulary import Tlp
from accord.node import Node
from tests.conftest import World, count_rows
from tests.intel.conftest import TLP_GREEN, TLP_RED, indicator, sid

TAXII = {"Accept": "application/taxii+json;version=2.1"}
WHY = Disclosure(purpose="deletion test")
PHONE = "+84912345601"
FIRST, SECOND = "2026-11-01T08:00:00.000Z", "2026-11-05T08:00:00.000Z"


def _objects_url(tlp: Tlp, stix_id: str = "") -> str:
    return f"/taxii2/accord/collections/{collection_id(tlp)}/objects/{stix_id}{'/' if stix_id else ''}"


def _import(node: Node, world: World, who: str, *objects: dict[str, Any]) -> None:
    report = node.intel.import_objects(node.identity.authenticate_token(world.tokens[who]), objects, source="test")
    assert not report.failures


@pytest.fixture
def versioned(node: Node, world: World) -> str:
    """A GREEN indicator of the police unit, in two versions, holding a phone number."""
    first = indicator(1, f"[phone-number:value = '{PHONE}']", markings=[TLP_GREEN])
    _import(node, world, "analyst", first, {**first, "modified": SECOND, "name": "updated"})
    return first["id"]


def _delete(client, world: World, who: str, tlp: Tlp, stix_id: str, **params: str) -> Any:
    return client.delete(_objects_url(tlp, stix_id), params=params, auth=(who, world.tokens[who]), headers=TAXII)


def _stored(node: Node, stix_id: str) -> list[tuple[str, bool]]:
    with node.db.reading() as session:
        rows = session.execute(
            text("SELECT modified, is_latest FROM intel_objects WHERE stix_id = :i ORDER BY modified"), {"i": stix_id}
        )
        return [(modified, bool(latest)) for modified, latest in rows]


def _searched(client, world: World, who: str, value: str) -> list[str]:
    headers = {**world.auth(who), "Accord-Purpose": "deletion test"}
    answer = client.get("/api/v1/intel/search", params={"value": value}, headers=headers)
    assert answer.status_code == 200
    return [hit["stix_id"] for hit in answer.json()["hits"]]


def _audit_details(node: Node, action: str) -> list[dict[str, Any]]:
    with node.db.reading() as session:
        rows = session.execute(text("SELECT details FROM audit_entries WHERE action = :a ORDER BY seq"), {"a": action})
        return [json.loads(details) for (details,) in rows]


def test_deleting_without_match_version_removes_the_latest_only(node: Node, client, world: World, versioned) -> None:
    answer = _delete(client, world, "analyst", Tlp.GREEN, versioned)
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"] == "application/taxii+json;version=2.1"
    assert _stored(node, versioned) == [(FIRST, True)]
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    assert node.intel.get_object(analyst, versioned, WHY)["name"] == "Scam report 1"
    listed = client.get(_objects_url(Tlp.GREEN, versioned), auth=("analyst", world.tokens["analyst"]), headers=TAXII)
    assert [o["modified"] for o in listed.json()["objects"]] == [FIRST]
    assert _searched(client, world, "partner", PHONE) == [versioned]  # a version is left: it is still found
    assert _audit_details(node, "intel.delete") == [
        {"source": "taxii", "collection": "green", "versions": 1, "modified": [SECOND], "remaining": 1}
    ]


def test_match_version_all_removes_the_object_and_its_postings(node: Node, client, world: World, versioned) -> None:
    observables = count_rows(node, "observables")
    answer = _delete(client, world, "analyst", Tlp.GREEN, versioned, **{"match[version]": "all"})
    assert answer.status_code == 200
    assert _stored(node, versioned) == []
    assert count_rows(node, "observable_postings", "stix_id = :i", i=versioned) == 0
    assert count_rows(node, "observables") == observables  # kept on purpose: see IntelService._remove_versions
    assert _searched(client, world, "analyst", PHONE) == []
    gone = client.get(_objects_url(Tlp.GREEN, versioned), auth=("analyst", world.tokens["analyst"]), headers=TAXII)
    assert gone.status_code == 404
    assert _delete(client, world, "analyst", Tlp.GREEN, versioned).status_code == 404  # nothing left to delete
    assert _audit_details(node, "intel.delete")[0]["versions"] == 2


@pytest.mark.parametrize(("choice", "left"), [("first", [(SECOND, True)]), (FIRST, [(SECOND, True)])])
def test_match_version_first_or_a_timestamp_keeps_the_latest(
    node: Node, client, world: World, versioned, choice: str, left
) -> None:
    assert _delete(client, world, "analyst", Tlp.GREEN, versioned, **{"match[version]": choice}).status_code == 200
    assert _stored(node, versioned) == left


def test_a_version_that_does_not_exist_is_404_and_a_malformed_one_422(client, world: World, versioned) -> None:
    missing = _delete(client, world, "analyst", Tlp.GREEN, versioned, **{"match[version]": "2020-01-01T00:00:00Z"})
    assert missing.status_code == 404
    malformed = _delete(client, world, "analyst", Tlp.GREEN, versioned, **{"match[version]": "yesterday"})
    assert malformed.status_code == 422 and malformed.json()["http_status"] == "422"
    other_spec = _delete(client, world, "analyst", Tlp.GREEN, versioned, **{"match[spec_version]": "2.0"})
    assert other_spec.status_code == 404


def test_another_partys_visible_object_is_403_and_nothing_changes(node: Node, client, world: World, versioned) -> None:
    postings = count_rows(node, "observable_postings")
    answer = _delete(client, world, "partner", Tlp.GREEN, versioned, **{"match[version]": "all"})
    assert answer.status_code == 403
    assert answer.json()["http_status"] == "403" and answer.json()["error_code"] == "forbidden"
    assert _stored(node, versioned) == [(FIRST, False), (SECOND, True)]
    assert count_rows(node, "observable_postings") == postings
    assert count_rows(node, "audit_entries", "action = 'intel.delete'") == 0
    assert {"action": "intel.delete", "missing": "party"} in _audit_details(node, "access.denied")
    bank = node.identity.authenticate_token(world.tokens["partner"])
    with pytest.raises(PermissionDenied) as caught:
        node.intel.delete_object(bank, versioned, parse_versions("version", ["all"]), source="test")
    assert (caught.value.actor, caught.value.missing) == ("partner", "party")


def test_the_owner_is_the_party_not_the_user(node: Node, client, world: World, versioned) -> None:
    # The admin works for the same police unit as the analyst who imported the object.
    assert _delete(client, world, "admin", Tlp.GREEN, versioned, **{"match[version]": "all"}).status_code == 200
    assert _stored(node, versioned) == []


def test_the_operator_may_delete_any_partys_object(node: Node, world: World, operator, versioned) -> None:
    deletion = node.intel.delete_object(operator, versioned, parse_versions("version", ["all"]), source="cli")
    assert (deletion.removed, deletion.remaining) == ([FIRST, SECOND], 0)


def test_an_object_the_caller_may_not_see_is_404_like_an_unknown_one(node: Node, client, world: World) -> None:
    secret = indicator(2, "[phone-number:value = '+84912345602']", markings=[TLP_RED])
    _import(node, world, "analyst", secret)
    hidden = _delete(client, world, "partner", Tlp.RED, secret["id"])
    unknown = _delete(client, world, "partner", Tlp.RED, sid("indicator", 404))
    assert hidden.status_code == unknown.status_code == 404
    assert set(hidden.json()) == set(unknown.json())
    assert hidden.json()["title"] == unknown.json()["title"]
    assert _stored(node, secret["id"]) == [("2026-11-01T08:00:00.000Z", True)]
    bank = node.identity.authenticate_token(world.tokens["partner"])
    with pytest.raises(NotFound) as caught:
        node.intel.delete_object(bank, secret["id"], parse_versions("version", ["all"]), source="test")
    assert caught.value.kind == "object"
    assert count_rows(node, "audit_entries", "action = 'access.denied'") == 0  # not even a denial gives it away


def test_the_wrong_collection_is_404(node: Node, client, world: World, versioned) -> None:
    answer = _delete(client, world, "analyst", Tlp.AMBER, versioned, **{"match[version]": "all"})
    assert answer.status_code == 404
    assert len(_stored(node, versioned)) == 2


def test_read_only_callers_may_not_delete(node: Node, client, world: World, operator, versioned) -> None:
    read_only = node.identity.create_token(operator, "analyst", "reader", ["read"], 5)[1]
    answer = client.delete(_objects_url(Tlp.GREEN, versioned), auth=("analyst", read_only), headers=TAXII)
    assert answer.status_code == 403 and answer.json()["http_status"] == "403"
    assert _delete(client, world, "auditor", Tlp.GREEN, versioned).status_code == 403
    assert client.delete(_objects_url(Tlp.GREEN, versioned), headers=TAXII).status_code == 401
    wrong_accept = {"Accept": "application/xml"}
    answer = client.delete(
        _objects_url(Tlp.GREEN, versioned), auth=("analyst", world.tokens["analyst"]), headers=wrong_accept
    )
    assert answer.status_code == 406
    assert len(_stored(node, versioned)) == 2


def test_postings_take_the_marking_of_the_new_latest_version(node: Node, client, world: World) -> None:
    # Version 1 is RED, version 2 GREEN: deleting version 2 must not leave a GREEN posting over a RED object.
    red = indicator(3, "[phone-number:value = '+84912345603']", markings=[TLP_RED])
    _import(node, world, "analyst", red, {**red, "modified": SECOND, "object_marking_refs": [TLP_GREEN]})
    assert _searched(client, world, "partner", "+84912345603") == [red["id"]]
    assert _delete(client, world, "analyst", Tlp.GREEN, red["id"]).status_code == 200
    assert _searched(client, world, "partner", "+84912345603") == []
    assert _searched(client, world, "analyst", "+84912345603") == [red["id"]]


def test_versions_of_another_party_stay_and_take_over_the_postings(node: Node, client, world: World) -> None:
    # The police imported the first version of an object, the bank a later one; the police delete theirs.
    report = indicator(7, f"[phone-number:value = '{PHONE}']", markings=[TLP_GREEN])
    _import(node, world, "analyst", report)
    _import(node, world, "partner", {**report, "modified": SECOND})
    assert _delete(client, world, "analyst", Tlp.GREEN, report["id"], **{"match[version]": "first"}).status_code == 200
    assert _stored(node, report["id"]) == [(SECOND, True)]
    with node.db.reading() as session:
        owners = set(
            session.execute(
                text("SELECT owner_party_id FROM observable_postings WHERE stix_id = :i"), {"i": report["id"]}
            ).scalars()
        )
    assert owners == {world.bank.id}
    # Deleting "all" now picks only the bank's version, which the police may see but not delete.
    assert _delete(client, world, "analyst", Tlp.GREEN, report["id"], **{"match[version]": "all"}).status_code == 403


def test_the_json_api_deletes_every_version_unless_told_which(node: Node, client, world: World, versioned) -> None:
    path = f"/api/v1/intel/objects/{versioned}"
    read = {**world.auth("analyst"), "Accord-Purpose": "deletion test"}
    forbidden = client.delete(path, headers=world.auth("partner"))
    assert forbidden.status_code == 403 and forbidden.headers["content-type"] == "application/problem+json"
    assert client.delete(path, params={"version": "someday"}, headers=world.auth("analyst")).status_code == 422
    one = client.delete(path, params={"version": SECOND}, headers=world.auth("analyst"))
    assert one.status_code == 200
    assert one.json() == {"id": versioned, "deleted_versions": [SECOND], "remaining_versions": 1}
    assert client.get(path, headers=read).json()["modified"] == FIRST
    rest = client.delete(path, headers=world.auth("analyst"))
    assert rest.json() == {"id": versioned, "deleted_versions": [FIRST], "remaining_versions": 0}
    assert client.get(path, headers=read).status_code == 404
    missing = client.delete(path, headers=world.auth("analyst"))
    assert missing.status_code == 404 and missing.json()["kind"] == "object"
    assert [d["source"] for d in _audit_details(node, "intel.delete")] == ["api", "api"]


def test_taxii2_client_deletes_an_object(live_server: str, node: Node, world: World, versioned) -> None:
    url = f"{live_server}{_objects_url(Tlp.GREEN).removesuffix('objects/')}"
    collection = Collection(url, user="analyst", password=world.tokens["analyst"])
    collection.delete_object(versioned)
    assert [o["modified"] for o in collection.get_object(versioned, version="all")["objects"]] == [FIRST]
    collection.delete_object(versioned, version="all")
    assert _stored(node, versioned) == []
