"""Peering two real nodes: signed invitations and acceptances, and every later call signed with the node key
(RFC 9421) — over real loopback HTTP, with the refusals that matter: unknown node, suspended peer, replay,
altered body, forged or expired documents."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx
import pytest

from accord.clock import FrozenClock
from accord.errors import AlreadyExists, InvalidInput
from accord.federation.invitations import InvalidPeeringDocument
from accord.federation.signing import PeerAuthenticationFailed, sign_request
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import count_rows


@pytest.fixture
def parties(node: Node, peer_node: Node, operator: Actor) -> tuple[str, str]:
    vn = node.identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
    ph = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    return vn.id, ph.id


def test_offline_peering_by_files(node: Node, peer_node: Node, operator: Actor, parties: tuple[str, str]) -> None:
    invitation = node.federation.invite(operator, base_url="https://accord.a05.example", party=parties[0])
    peer, reply = peer_node.federation.accept(
        operator, invitation, base_url="https://accord.pnp.example", party=parties[1]
    )
    assert peer.node_id == node.keys.node_id and peer.country == "VN" and reply is not None
    # The peer's party now exists on the PH node, standing for the VN node's data.
    assert peer_node.identity.get_party("A05 Cybercrime Unit").country == "VN"
    back, nothing = node.federation.accept(operator, reply)
    assert back.node_id == peer_node.keys.node_id and nothing is None
    with pytest.raises(InvalidPeeringDocument, match="already accepted"):
        node.federation.accept(operator, reply)  # an acceptance answers one invitation, once
    assert count_rows(node, "audit_entries", "action = 'peer.add'") == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(base_url="https://evil.example"), "signature"),
        (lambda d: d.update(node_id="node-" + "0" * 32), "node_id"),
        (lambda d: d.update(signature="AAAA"), "signature"),
        (lambda d: d.update(type="something-else"), "not an"),
    ],
)
def test_altered_invitations_are_refused(
    node: Node, peer_node: Node, operator: Actor, parties: tuple[str, str], change: Any, message: str
) -> None:
    invitation = copy.deepcopy(node.federation.invite(operator, base_url="https://a05.example", party=parties[0]))
    change(invitation)
    with pytest.raises(InvalidPeeringDocument, match=message):
        peer_node.federation.accept(operator, invitation, base_url="https://pnp.example", party=parties[1])
    assert count_rows(peer_node, "peers") == 0


def test_expired_invitation(
    node: Node, peer_node: Node, operator: Actor, parties: tuple[str, str], clock: FrozenClock
) -> None:
    invitation = node.federation.invite(operator, base_url="https://a05.example", party=parties[0], days=1)
    clock.advance(timedelta(days=2))
    with pytest.raises(InvalidPeeringDocument, match="not valid now"):
        peer_node.federation.accept(operator, invitation, base_url="https://pnp.example", party=parties[1])
    with pytest.raises(InvalidInput):
        node.federation.invite(operator, base_url="ftp://a05.example", party=parties[0])


def test_online_peering_and_signed_calls(
    live_server: str, node: Node, peer_node: Node, operator: Actor, parties: tuple[str, str]
) -> None:
    """VN serves on loopback; PH accepts VN's invitation and delivers its acceptance; then PH calls VN signed."""
    invitation = node.federation.invite(operator, base_url=live_server, party=parties[0])
    peer, reply = peer_node.federation.accept(operator, invitation, base_url="http://127.0.0.1:9", party=parties[1])
    assert reply is not None
    peer_node.federation.deliver_acceptance(reply, peer.base_url)
    assert [p.node_id for p in node.federation.peers(operator)] == [peer_node.keys.node_id]
    with pytest.raises(AlreadyExists):
        peer_node.federation.accept(operator, invitation, base_url="http://127.0.0.1:9", party=parties[1])

    answer = peer_node.federation.call(node.keys.node_id, "GET", "/federation/v1/hello")
    assert answer.status_code == 200, answer.text
    assert answer.json()["you"] == peer_node.keys.node_id

    # A replayed call (the same signed request sent again) is refused.
    signed = sign_request(
        httpx.Request("GET", f"{live_server}/federation/v1/hello"), peer_node.keys.node_id, peer_node.keys.private_key
    )
    with httpx.Client() as client:
        assert client.send(signed).status_code == 200
        replay = client.send(signed)
    assert replay.status_code == 401 and "replay" in replay.json()["detail"]
    # Another server process of the same node (here: this test's own Node on the same database) refuses it too:
    # the nonces seen are kept in the database, not in one process's memory.
    with pytest.raises(PeerAuthenticationFailed, match="replay"):
        node.federation.verifier.verify("GET", str(signed.url), signed.headers, b"")
    assert count_rows(node, "peer_seen_signatures") >= 2

    # An altered body fails its Content-Digest; an unsigned call and an unknown node are refused.
    body_signed = sign_request(
        httpx.Request("GET", f"{live_server}/federation/v1/hello", content=b"{}"),
        peer_node.keys.node_id,
        peer_node.keys.private_key,
    )
    tampered = httpx.Request("GET", f"{live_server}/federation/v1/hello", content=b"[]", headers=body_signed.headers)
    with httpx.Client() as client:
        assert client.send(tampered).status_code == 401
        assert client.get(f"{live_server}/federation/v1/hello").status_code == 401
    stranger = node.keys  # VN's own key is not a peer of VN
    own = sign_request(
        httpx.Request("GET", f"{live_server}/federation/v1/hello"), stranger.node_id, stranger.private_key
    )
    with httpx.Client() as client:
        unknown = client.send(own)
    assert unknown.status_code == 401 and "unknown node" in unknown.json()["detail"]

    # Suspension takes effect at once.
    node.federation.set_status(operator, peer_node.keys.node_id, "suspended", "data-protection review")
    refused = peer_node.federation.call(node.keys.node_id, "GET", "/federation/v1/hello")
    assert refused.status_code == 401 and "suspended" in refused.json()["detail"]
    node.federation.set_status(operator, peer_node.keys.node_id, "active")
    assert peer_node.federation.call(node.keys.node_id, "GET", "/federation/v1/hello").status_code == 200


def test_two_countries_know_each_other(two_countries: Any) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    for side, other in ((vn, ph), (ph, vn)):
        row = side.node.federation.peer(other.node_id)
        assert row.own_party_id == side.party.id and row.base_url == other.url
        answer = side.node.federation.call(other.node_id, "GET", "/federation/v1/hello")
        assert answer.status_code == 200 and answer.json()["you"] == side.node_id
