"""A scam phone number known in two countries: the Vietnamese police report it TLP:GREEN, the Philippine police
TLP:RED; each party has a point of contact for hit/no-hit answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accord.audit.service import Disclosure
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World
from tests.intel.conftest import TLP_GREEN, TLP_RED, indicator

WHY = Disclosure(purpose="fraud investigation 2026/117")
NUMBER = "+84912345678"
PNP_CONTACT = "24/7 desk, +63 2 8723 0401, acg-247@example.gov.ph"
A05_CONTACT = "24/7 desk, +84 24 3456 7890, a05-247@example.gov.vn"


@dataclass
class Scam:
    green: dict[str, Any]  # the Vietnamese police's report
    red: dict[str, Any]  # the Philippine police's report
    analyst: Actor  # Vietnamese police analyst
    pnp: Actor  # Philippine police analyst
    partner: Actor  # a Vietnamese bank


def add_pnp_user(node: Node, world: World, operator: Actor) -> None:
    node.identity.add_user(operator, "pnp", world.pnp.id, ["analyst"], password="a long enough password")
    world.passwords["pnp"] = "a long enough password"
    world.tokens["pnp"] = node.identity.create_token(operator, "pnp", "t", ["read", "write"], 5)[1]


@pytest.fixture
def scam(node: Node, world: World, operator: Actor) -> Scam:
    add_pnp_user(node, world, operator)
    node.identity.set_party_contact(operator, world.pnp.id, PNP_CONTACT)
    node.identity.set_party_contact(operator, world.police.id, A05_CONTACT)
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    pnp = node.identity.authenticate_token(world.tokens["pnp"])
    green = indicator(1, "[phone-number:value = '091 234 5678']", markings=[TLP_GREEN])  # national form, VN
    red = indicator(2, "[phone-number:value = '+84 91 234 5678']", markings=[TLP_RED])
    node.intel.import_objects(analyst, [green], source="test")
    node.intel.import_objects(pnp, [red], source="test")
    partner = node.identity.authenticate_token(world.tokens["partner"])
    return Scam(green=green, red=red, analyst=analyst, pnp=pnp, partner=partner)
