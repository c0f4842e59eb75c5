"""The intelligence store: import, versions, duplicates, per-object failures, the observable index."""

from __future__ import annotations

import pytest

from accord.audit.service import Disclosure
from accord.errors import NotFound
from accord.identity.errors import PermissionDenied
from accord.intel.vocabulary import Tlp
from accord.node import Node
from tests.conftest import World, count_rows
from tests.intel.conftest import TLP_GREEN, TLP_RED, indicator, phone, sid

WHY = Disclosure(purpose="fraud investigation")


def test_import_stores_versions_and_ignores_duplicates(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    first = indicator(1, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_GREEN])
    newer = {**first, "modified": "2026-11-02T08:00:00.000Z", "name": "Scam report 1 (updated)"}
    report = node.intel.import_objects(analyst, [first, newer, first], source="test")
    assert (report.total, len(report.successes), report.duplicates, report.failures) == (3, 3, 1, [])
    assert count_rows(node, "intel_objects", "stix_id = :i", i=first["id"]) == 2
    assert node.intel.get_object(analyst, first["id"], WHY)["name"] == "Scam report 1 (updated)"
    assert node.intel.get_object(analyst, first["id"], WHY, "2026-11-01T08:00:00.000Z")["name"] == "Scam report 1"
    assert node.intel.versions(analyst, first["id"]) == ["2026-11-01T08:00:00.000Z", "2026-11-02T08:00:00.000Z"]
    again = node.intel.import_objects(analyst, [first], source="test")
    assert again.duplicates == 1 and count_rows(node, "intel_objects") == 2


def test_one_bad_object_never_spoils_the_rest(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    objects = [
        indicator(1, "[ipv4-addr:value = '198.51.100.7']"),
        indicator(2, "[ipv4-addr:value = "),  # broken pattern
        {**indicator(3, "[url:value = 'http://a.example/']"), "spec_version": "2.0"},
        {"type": "indicator", "id": "indicator--nope"},
        "not even an object",
        phone(4, "+84 00 000"),  # not a valid number: the phone-number object is the identifier
        {**phone(5, "+84912345678"), "surprise": True},
        phone(6, "+84 91 234 5678"),
    ]
    report = node.intel.import_objects(analyst, objects, source="test")
    assert {s["id"] for s in report.successes} == {sid("indicator", 1), sid("phone-number", 6)}
    reasons = {f["id"]: f["message"] for f in report.failures}
    assert set(reasons) == {
        sid("indicator", 2),
        sid("indicator", 3),
        "indicator--nope",
        "(not an object)",
        sid("phone-number", 4),
        sid("phone-number", 5),
    }
    assert "pattern" in reasons[sid("indicator", 2)]
    assert "2.0" in reasons[sid("indicator", 3)]
    assert "surprise" in reasons[sid("phone-number", 5)]
    assert count_rows(node, "intel_objects") == 2
    assert count_rows(node, "audit_entries", "action = 'intel.import'") == 1


def test_identifiers_are_indexed_once_with_a_posting_per_object(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    node.intel.import_objects(
        analyst,
        [
            indicator(1, "[phone-number:value = '091 234 5678']", markings=[TLP_GREEN]),  # national format, VN
            phone(2, "+84-91-234-5678", markings=[TLP_GREEN]),
            indicator(3, "[bank-account:iban = 'DE89 3704 0044 0532 0130 00']", markings=[TLP_GREEN]),
        ],
        source="test",
    )
    assert count_rows(node, "observables", "kind = 'phone-number' AND value = '+84912345678'") == 1
    assert count_rows(node, "observable_postings") == 3
    result = node.intel.search(analyst, "+84 912 345 678", WHY)
    assert result.canonical == "+84912345678"
    assert {hit.stix_id for hit in result.hits} == {sid("indicator", 1), sid("phone-number", 2)}
    assert all(hit.country == "VN" for hit in result.hits)
    iban = node.intel.search(analyst, "de89370400440532013000", WHY)
    assert [hit.stix_id for hit in iban.hits] == [sid("indicator", 3)]


def test_revoked_objects_leave_search(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    first = indicator(1, "[ipv4-addr:value = '203.0.113.5']", markings=[TLP_GREEN])
    node.intel.import_objects(analyst, [first], source="test")
    assert len(node.intel.search(analyst, "203.0.113.5", WHY).hits) == 1
    revoked = {**first, "modified": "2026-11-05T08:00:00.000Z", "revoked": True}
    node.intel.import_objects(analyst, [revoked], source="test")
    assert node.intel.search(analyst, "203.0.113.5", WHY).hits == []


def test_postings_follow_the_latest_version_whatever_order_versions_arrive_in(node: Node, world: World) -> None:
    """An older GREEN version imported after a newer RED one must not reopen the object to search."""
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    partner = node.identity.authenticate_token(world.tokens["partner"])  # another party: sees GREEN, not RED
    pattern = "[ipv4-addr:value = '203.0.113.9']"
    newer = indicator(1, pattern, modified="2026-11-05T08:00:00.000Z", markings=[TLP_RED])
    older = indicator(1, pattern, modified="2026-11-01T08:00:00.000Z", markings=[TLP_GREEN])
    node.intel.import_objects(analyst, [newer], source="test")
    node.intel.import_objects(analyst, [older], source="test")
    assert node.intel.search(partner, "203.0.113.9", WHY).hits == []
    assert [hit.tlp for hit in node.intel.search(analyst, "203.0.113.9", WHY).hits] == ["red"]
    # A newer GREEN version without the address still moves the posting the address already has.
    newest = indicator(1, "[ipv4-addr:value = '198.51.100.1']", modified="2026-11-09T08:00:00.000Z")
    node.intel.import_objects(analyst, [{**newest, "object_marking_refs": [TLP_GREEN]}], source="test")
    assert [hit.tlp for hit in node.intel.search(partner, "203.0.113.9", WHY).hits] == ["green"]


def test_auditors_cannot_read_intelligence(node: Node, world: World) -> None:
    auditor = node.identity.authenticate_token(world.tokens["auditor"])
    with pytest.raises(PermissionDenied):
        node.intel.search(auditor, "203.0.113.5", WHY)


def test_missing_object_is_not_found(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    with pytest.raises(NotFound):
        node.intel.get_object(analyst, sid("indicator", 77), WHY)


def test_default_tlp_applies_to_unmarked_objects(node: Node, world: World) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    node.intel.import_objects(analyst, [indicator(1, "[ipv4-addr:value = '192.0.2.1']")], source="t")
    node.intel.import_objects(analyst, [indicator(2, "[ipv4-addr:value = '192.0.2.2']")], tlp=Tlp.RED, source="t")
    assert count_rows(node, "intel_objects", "tlp = 'amber'") == 1
    assert count_rows(node, "intel_objects", "tlp = 'red'") == 1
