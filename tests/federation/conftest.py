"""Two countries' nodes served on real loopback ports and peered with each other, for tests of what travels
between nodes (intelligence sync, requests, evidence)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from accord.identity.actor import Actor, PartyView
from accord.node import Node
from accord.web.app import create_app
from accord.web.threaded import served_in_thread
from tests.conftest import _free_port


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on a free loopback port; yields its base URL."""
    with served_in_thread(app, _free_port()) as url:
        yield url


@dataclass
class Country:
    """One side of a peering: its node (services), its served address and the party it speaks for."""

    node: Node
    url: str
    party: PartyView

    @property
    def node_id(self) -> str:
        return self.node.keys.node_id


@dataclass
class TwoCountries:
    vn: Country
    ph: Country


@pytest.fixture
def two_countries(node: Node, peer_node: Node, operator: Actor) -> Iterator[TwoCountries]:
    """VN (``node``) and PH (``peer_node``), each served on loopback and peered online: PH accepts VN's
    invitation and delivers its acceptance to VN."""
    vn_party = node.identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
    ph_party = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    # The servers keep the nodes' (frozen) clock: what one node signs or issues is checked by the other at the
    # same moment, whatever the day the tests run.
    with (
        serving(create_app(node.settings, clock=node.clock)) as vn_url,
        serving(create_app(peer_node.settings, clock=peer_node.clock)) as ph_url,
    ):
        invitation = node.federation.invite(operator, base_url=vn_url, party=vn_party.id)
        peer, reply = peer_node.federation.accept(operator, invitation, base_url=ph_url, party=ph_party.id)
        assert reply is not None
        peer_node.federation.deliver_acceptance(reply, peer.base_url)
        yield TwoCountries(Country(node, vn_url, vn_party), Country(peer_node, ph_url, ph_party))
