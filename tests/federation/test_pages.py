"""Federation pages through the ASGI client: the peers with their sync state, a peer's policy (edited with CSRF,
refused with the field named) and the preview of what it would receive."""

from __future__ import annotations

import json

from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World, count_rows
from tests.intel.conftest import TLP_AMBER, TLP_GREEN, TLP_RED, indicator
from tests.web.test_pages import HTML, log_in


def peer_with(node: Node, peer_node: Node, operator: Actor, world: World) -> str:
    pnp = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    invitation = node.federation.invite(operator, base_url="https://accord.a05.example", party=world.police.id)
    _, reply = peer_node.federation.accept(operator, invitation, base_url="https://accord.pnp.example", party=pnp.id)
    node.federation.accept(operator, reply)
    return peer_node.keys.node_id


def test_federation_pages(client, node: Node, peer_node: Node, operator: Actor, world: World) -> None:
    ph = peer_with(node, peer_node, operator, world)
    node.intel.import_objects(
        operator,
        [
            indicator(1, "[phone-number:value = '+84912000001']", markings=[TLP_GREEN]),
            indicator(2, "[phone-number:value = '+84912000002']", markings=[TLP_AMBER]),
            indicator(3, "[phone-number:value = '+84912000003']", markings=[TLP_RED]),
        ],
        owner=world.police.id,
        source="test",
    )
    csrf = log_in(client, "admin", world.passwords["admin"])
    listing = client.get("/federation", headers=HTML)
    assert listing.status_code == 200 and f"/federation/peers/{ph}" in listing.text and "never" in listing.text

    page = client.get(f"/federation/peers/{ph}", headers=HTML)
    assert page.status_code == 200
    assert "1 of 3 objects would be shared." in page.text
    assert "TLP:RED never leaves this node" in page.text

    refused = client.post(
        f"/federation/peers/{ph}/policy",
        data={
            "csrf_token": csrf,
            "policy": '{"rules": [{"name": "x", "tlp": ["red"], "legal_basis": "a", "purpose": "b"}]}',
        },
        headers=HTML,
    )
    assert refused.status_code == 422 and "rules[0].tlp" in refused.text
    forged = client.post(f"/federation/peers/{ph}/policy", data={"csrf_token": "forged", "reset": "1"}, headers=HTML)
    assert forged.status_code == 403
    saved = client.post(
        f"/federation/peers/{ph}/policy",
        data={
            "csrf_token": csrf,
            "policy": json.dumps(
                {"rules": [{"name": "amber", "tlp": ["green", "amber"], "legal_basis": "MoU", "purpose": "scams"}]}
            ),
        },
        headers=HTML,
    )
    assert (
        saved.status_code == 200 and "Policy saved." in saved.text and "2 of 3 objects would be shared." in saved.text
    )
    assert count_rows(node, "audit_entries", "action = 'peer.policy'") == 1

    # An analyst sees the peers and their policies, but neither the policy editor nor the preview; a bank's
    # partner user sees neither page.
    client.cookies.clear()
    log_in(client, "analyst", world.passwords["analyst"])
    assert client.get("/federation", headers=HTML).status_code == 200
    detail = client.get(f"/federation/peers/{ph}", headers=HTML)
    assert detail.status_code == 200 and "MoU" in detail.text
    assert "Save policy" not in detail.text and "would be shared" not in detail.text
    client.cookies.clear()
    log_in(client, "partner", world.passwords["partner"])
    assert client.get("/federation", headers=HTML).status_code == 403
    assert client.get(f"/federation/peers/{ph}", headers=HTML).status_code == 403
