"""The identity epoch: each server process caches token checks, sharing groups and party names, and any
identity change committed by any process (here: a second Node on the same database) is seen on the next call."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.config import Settings
from accord.identity.actor import Actor
from accord.identity.epoch import current_epoch
from accord.identity.errors import AuthenticationFailed
from accord.node import Node, open_node
from tests.conftest import World


@pytest.fixture
def other_process(settings: Settings, clock: FrozenClock) -> Iterator[Node]:
    """A second server process of the same node: its own engine, services and caches."""
    other = open_node(settings, clock=clock)
    yield other
    other.close()


def _epoch(node: Node) -> int:
    with node.db.reading() as session:
        return current_epoch(session)


def test_a_token_revoked_by_another_process_is_refused_on_the_next_call(
    node: Node, other_process: Node, world: World
) -> None:
    token = world.tokens["analyst"]
    first = node.identity.authenticate_token(token)
    assert node.identity.authenticate_token(token) == first  # answered from the cache
    (view,) = other_process.identity.list_tokens(first, "analyst")
    other_process.identity.revoke_token(first, view.id)
    with pytest.raises(AuthenticationFailed) as refused:
        node.identity.authenticate_token(token)
    assert refused.value.reason == "revoked token"


def test_a_user_deactivated_by_another_process_is_refused_on_the_next_call(
    node: Node, other_process: Node, world: World, operator: Actor
) -> None:
    token = world.tokens["analyst"]
    assert "analyst" in node.identity.authenticate_token(token).roles
    other_process.identity.set_user_active(operator, "analyst", False, Disclosure(purpose="a leaver"))
    with pytest.raises(AuthenticationFailed) as refused:
        node.identity.authenticate_token(token)
    assert refused.value.reason in {"revoked token", "inactive user"}


def test_last_use_does_not_move_the_epoch_but_changes_do(
    node: Node, world: World, operator: Actor, clock: FrozenClock
) -> None:
    before = _epoch(node)
    node.identity.authenticate_token(world.tokens["analyst"])  # writes last_used_at (the first use)
    assert _epoch(node) == before
    node.identity.add_party(operator, "Bank of Ghana Fraud Desk", "bank", "GH")
    assert _epoch(node) == before + 1


def test_sharing_group_membership_reaches_the_cached_audience(
    node: Node, other_process: Node, world: World, operator: Actor
) -> None:
    actor = node.identity.authenticate_token(world.tokens["analyst"])
    assert node.intel.audience(actor).groups == frozenset()
    assert actor.party_id is not None
    group = other_process.intel.create_sharing_group(operator, "ASEAN scam desk", [actor.party_id])
    fresh = node.identity.authenticate_token(world.tokens["analyst"])
    assert fresh.epoch is not None and fresh.epoch > (actor.epoch or 0)
    assert node.intel.audience(fresh).groups == frozenset({group["id"]})


def test_party_names_are_read_again_after_a_change(
    node: Node, other_process: Node, world: World, operator: Actor
) -> None:
    actor = node.identity.authenticate_token(world.tokens["analyst"])
    party_id = actor.party_id
    assert party_id is not None
    name = node.identity.parties_by_id([party_id], as_of=actor.epoch)[party_id].name
    other_process.identity.set_party_contact(operator, party_id, "24/7 desk, +84 24 3456 7890")
    fresh = node.identity.authenticate_token(world.tokens["analyst"])
    view = node.identity.parties_by_id([party_id], as_of=fresh.epoch)[party_id]
    assert view.name == name and view.contact == "24/7 desk, +84 24 3456 7890"
