"""Cooperation fixtures: the matching tests' scam (one number, a GREEN and a RED report in two countries) for the
drafts, and the desks of two countries' authorities for requests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World
from tests.matching.conftest import scam  # noqa: F401 - a fixture, found by pytest through this module


@dataclass
class Desks:
    world: World
    analyst: Actor  # VN police analyst: drafts
    authority: Actor  # VN central authority: approves
    pnp_poc: Actor  # PH 24/7 point of contact: answers
    pnp_analyst: Actor  # PH analyst: may not answer


def _actor(node: Node, operator: Actor, username: str, party: str, roles: list[str]) -> Actor:
    node.identity.add_user(operator, username, party, roles)
    _view, token = node.identity.create_token(operator, username, "tests", ["read", "write"])
    return node.identity.authenticate_token(token)


@pytest.fixture
def desks(node: Node, world: World, operator: Actor) -> Desks:
    return Desks(
        world=world,
        analyst=node.identity.authenticate_token(world.tokens["analyst"]),
        authority=_actor(node, operator, "vn.authority", world.police.id, ["central_authority"]),
        pnp_poc=_actor(node, operator, "pnp.poc", world.pnp.id, ["point_of_contact"]),
        pnp_analyst=_actor(node, operator, "pnp.analyst", world.pnp.id, ["analyst"]),
    )
