"""Sharing policy per peer: rules that refuse to be empty or to share what never leaves, decisions with their
reasons, and the preview of what a peer would receive — the same code that decides what its feed holds."""

from __future__ import annotations

from typing import Any

import pytest

from accord.errors import InvalidInput
from accord.federation.policy import (
    NETWORK_IDENTIFIERS,
    PERSONAL_DATA,
    THREAT_INTELLIGENCE,
    Candidate,
    categories_of,
    default_policy,
    parse_policy,
)
from accord.identity.actor import Actor
from accord.intel.vocabulary import Tlp
from tests.conftest import count_rows
from tests.federation.conftest import TwoCountries
from tests.intel.conftest import TLP_AMBER, TLP_CLEAR, TLP_GREEN, TLP_RED, indicator

SHARE_AMBER_PHONES = {
    "name": "amber scam phones to PH",
    "tlp": ["amber"],
    "types": ["indicator"],
    "categories": ["personal-data"],
    "legal_basis": "Bilateral MoU VN-PH 2026, art. 3",
    "purpose": "Disrupting investment scams targeting both countries",
}


def item(**changes: Any) -> Candidate:
    base: dict[str, Any] = {
        "stix_id": "indicator--1",
        "stix_type": "indicator",
        "tlp": "green",
        "country": "VN",
        "categories": frozenset({NETWORK_IDENTIFIERS}),
        "group": None,
        "peer_in_group": False,
        "received_from": None,
    }
    return Candidate(**{**base, **changes})


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({}, "policy"),
        ({"rules": []}, "rules"),
        ({"rules": [{"name": "x", "legal_basis": "a", "purpose": "b"}]}, "rules[0]"),  # no condition at all
        ({"rules": [{"name": "x", "types": [], "legal_basis": "a", "purpose": "b"}]}, "rules[0].types"),
        ({"rules": [{"name": "x", "tlp": ["red"], "legal_basis": "a", "purpose": "b"}]}, "rules[0].tlp"),
        ({"rules": [{"name": "x", "tlp": ["amber+strict"], "legal_basis": "a", "purpose": "b"}]}, "rules[0].tlp"),
        ({"rules": [{"name": "x", "tlp": ["white-ish"], "legal_basis": "a", "purpose": "b"}]}, "rules[0].tlp"),
        ({"rules": [{"name": "x", "tlp": ["green"], "purpose": "b"}]}, "rules[0].legal_basis"),
        ({"rules": [{"name": "x", "tlp": ["green"], "legal_basis": "a"}]}, "rules[0].purpose"),
        ({"rules": [{"name": "x", "effect": "withhold", "tlp": ["green"]}]}, "rules[0].reason"),
        ({"rules": [{"name": "x", "countries": ["vn"], "legal_basis": "a", "purpose": "b"}]}, "rules[0].countries"),
        (
            {"rules": [{"name": "x", "categories": ["gossip"], "legal_basis": "a", "purpose": "b"}]},
            "rules[0].categories",
        ),
        (
            {"rules": [{"name": "x", "tlp": ["green"], "legal_basis": "a", "purpose": "b", "colour": 1}]},
            "rules[0].colour",
        ),
        ({"rules": [{"name": "x", "effect": "maybe", "tlp": ["green"]}]}, "rules[0].effect"),
        ({"rules": [SHARE_AMBER_PHONES, SHARE_AMBER_PHONES]}, "rules"),
    ],
)
def test_bad_policies_name_the_field(document: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_policy(document)
    assert caught.value.field == field


def test_fixed_points_no_rule_can_change() -> None:
    everything = parse_policy(
        {
            "rules": [
                {"name": "all", "tlp": ["clear", "green", "amber"], "legal_basis": "a", "purpose": "b"},
                {
                    "name": "groups",
                    "sharing_groups": ["VN banks"],
                    "tlp": ["amber"],
                    "legal_basis": "a",
                    "purpose": "b",
                },
            ]
        }
    )
    for level in ("red", "amber+strict"):
        assert not everything.decide(item(tlp=level)).shared
    received = everything.decide(item(received_from="node-abc"))
    assert not received.shared and "node-abc" in received.reason
    grouped = everything.decide(item(tlp="amber", group="VN banks", peer_in_group=False))
    assert not grouped.shared and "not a member" in grouped.reason
    assert everything.decide(item(tlp="amber", group="VN banks", peer_in_group=True)).shared


def test_default_shares_clear_and_green_only() -> None:
    policy = default_policy()
    assert policy.decide(item(tlp="clear")).shared and policy.decide(item(tlp="green")).shared
    amber = policy.decide(item(tlp="amber"))
    assert not amber.shared and "no rule shares TLP:AMBER indicator" in amber.reason


def test_amber_needs_a_rule_that_names_it_and_categories_must_all_be_allowed() -> None:
    policy = parse_policy({"rules": [SHARE_AMBER_PHONES]})
    phones = frozenset({PERSONAL_DATA})
    decision = policy.decide(item(tlp="amber", categories=phones))
    assert decision.shared and decision.document()["legal_basis"] == "Bilateral MoU VN-PH 2026, art. 3"
    # An indicator carrying a phone number and an IP address is also network data: this rule does not cover it.
    assert not policy.decide(item(tlp="amber", categories=phones | {NETWORK_IDENTIFIERS})).shared
    # A rule without a TLP condition means CLEAR and GREEN only.
    implicit = parse_policy({"rules": [{"name": "types", "types": ["indicator"], "legal_basis": "a", "purpose": "b"}]})
    assert implicit.decide(item(tlp="green")).shared and not implicit.decide(item(tlp="amber")).shared


def test_withhold_wins() -> None:
    policy = parse_policy(
        {
            "rules": [
                {"name": "green", "tlp": ["green"], "legal_basis": "a", "purpose": "b"},
                {"name": "no personal data", "effect": "withhold", "categories": ["personal-data"], "reason": "DPA"},
            ]
        }
    )
    kept = policy.decide(item(categories=frozenset({PERSONAL_DATA})))
    assert not kept.shared and kept.reason == "withheld by rule 'no personal data': DPA"
    assert policy.decide(item()).shared


def test_categories() -> None:
    assert categories_of("attack-pattern", []) == {THREAT_INTELLIGENCE}
    assert categories_of("indicator", ["phone-number"]) == {PERSONAL_DATA}
    assert categories_of("indicator", ["phone-number", "ipv4-addr"]) == {PERSONAL_DATA, NETWORK_IDENTIFIERS}
    assert categories_of("identity", []) == {PERSONAL_DATA}


def test_preview_shows_what_crosses_and_why(two_countries: TwoCountries, operator: Actor) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    objects = [
        indicator(1, "[phone-number:value = '+84912345678']", markings=[TLP_GREEN]),
        indicator(2, "[ipv4-addr:value = '203.0.113.5']", markings=[TLP_CLEAR]),
        indicator(3, "[phone-number:value = '+84912345679']", markings=[TLP_AMBER]),
        indicator(4, "[ipv4-addr:value = '203.0.113.6']", markings=[TLP_RED]),
    ]
    vn.node.intel.import_objects(operator, objects, owner=vn.party.id, source="test")
    preview = vn.node.sharing.preview(operator, ph.node_id).document()
    assert (preview["total"], preview["shared"], preview["withheld"]) == (4, 2, 2)
    reasons = {(r["shared"], r["reason"]): r["objects"] for r in preview["reasons"]}
    assert reasons[(False, "TLP:RED never leaves this node")] == 1
    assert reasons[(False, "no rule shares TLP:AMBER indicator from VN (personal-data)")] == 1

    policy = vn.node.sharing.set_policy(
        operator, ph.node_id, {"rules": [*default_policy().document()["rules"], SHARE_AMBER_PHONES]}
    )
    assert len(policy.rules) == 2
    after = vn.node.sharing.preview(operator, ph.node_id, only=True).document()
    assert after["shared"] == 3 and {i["rule"] for i in after["items"]} == {
        "amber scam phones to PH",
        "default: TLP:CLEAR and TLP:GREEN",
    }
    assert count_rows(vn.node, "audit_entries", "action = 'peer.policy'") == 1
    assert count_rows(vn.node, "audit_entries", "action = 'peer.preview'") == 2

    with pytest.raises(InvalidInput):
        vn.node.sharing.set_policy(operator, ph.node_id, {"rules": [{"name": "x"}]})
    assert len(vn.node.sharing.policy(ph.node_id).rules) == 2  # a refused policy leaves the old one in place
    vn.node.sharing.set_policy(operator, ph.node_id, None)
    assert vn.node.sharing.policy(ph.node_id) == default_policy()
    assert Tlp.AMBER not in {Tlp(level) for level in default_policy().levels}
