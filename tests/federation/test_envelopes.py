"""Signed envelopes between two served nodes, and every failure of the way: the peer down, slow, answering 500,
dropping the connection after applying the envelope, the same envelope twice, forged or altered envelopes, a
suspended peer. Nothing is lost, nothing applied twice, and the outbox shows what waits and why."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.cli.main import run
from accord.clock import FrozenClock
from accord.federation.envelopes import EnvelopeRejected, open_envelope, seal
from accord.federation.outbox import BACKOFF_CAP, BACKOFF_FIRST
from accord.identity.actor import Actor
from tests.conftest import count_rows
from tests.federation.conftest import Country, TwoCountries
from tests.federation.cooperation_peers import (
    Desks,
    FaultProxy,
    closed_port_url,
    desks_for,
    make_due,
    outbox_rows,
    post_envelope,
    set_peer_url,
)


@pytest.fixture
def desks(two_countries: TwoCountries, operator: Actor) -> Desks:
    return desks_for(two_countries, operator)


def _arrived(desks: Desks) -> int:
    return count_rows(desks.countries.ph.node, "cooperation_requests")


def test_peer_down_is_retried_with_backoff_then_delivered(desks: Desks, clock: FrozenClock) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    set_peer_url(vn.node, ph.node_id, closed_port_url())
    report = vn.node.envelopes.deliver_due()
    assert (report.delivered, report.retrying) == (0, 1)
    [row] = outbox_rows(vn.node)
    assert row["attempts"] == 1 and "ConnectError" in row["last_error"]
    wait = row["next_attempt_at"] - clock.now()
    assert BACKOFF_FIRST / 2 <= wait <= BACKOFF_FIRST  # 10 s, half of it jitter
    assert vn.node.envelopes.deliver_due().retrying == 0  # not due yet: not tried
    for _attempt in range(2, 12):
        clock.advance(BACKOFF_CAP)
        vn.node.envelopes.deliver_due()
    [row] = outbox_rows(vn.node)
    wait = row["next_attempt_at"] - clock.now()
    assert row["attempts"] == 11 and BACKOFF_CAP / 2 <= wait <= BACKOFF_CAP  # capped at an hour
    assert desks.vn_view(request_id)["state"] == "sent"

    set_peer_url(vn.node, ph.node_id, ph.url)
    clock.advance(BACKOFF_CAP)
    assert vn.node.envelopes.deliver_due().delivered == 1
    assert desks.vn_view(request_id)["state"] == "received" and _arrived(desks) == 1
    assert outbox_rows(vn.node)[0]["last_error"] is None


def test_slow_peer_times_out_and_the_envelope_waits(desks: Desks, clock: FrozenClock) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    desks.send()
    with FaultProxy(ph.url, "hang").running() as proxy:
        set_peer_url(vn.node, ph.node_id, proxy.url)
        assert vn.node.envelopes.deliver_due(timeout=0.5).retrying == 1
    assert "Timeout" in outbox_rows(vn.node)[0]["last_error"] and _arrived(desks) == 0
    set_peer_url(vn.node, ph.node_id, ph.url)
    clock.advance(timedelta(minutes=1))
    assert vn.node.envelopes.deliver_due().delivered == 1 and _arrived(desks) == 1


def test_peer_answering_500_is_tried_again(desks: Desks, clock: FrozenClock) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    desks.send()
    desks.send()  # a second request waits behind the first (order per peer)
    with FaultProxy(ph.url, "error").running() as proxy:
        set_peer_url(vn.node, ph.node_id, proxy.url)
        assert vn.node.envelopes.deliver_due().retrying == 1
        assert proxy.requests == 1  # the second was not tried before the first
    rows = outbox_rows(vn.node)
    assert rows[0]["last_error"].startswith("HTTP 500") and rows[1]["attempts"] == 0
    set_peer_url(vn.node, ph.node_id, ph.url)
    clock.advance(timedelta(minutes=1))
    assert vn.node.envelopes.deliver_due().delivered == 2 and _arrived(desks) == 2


def test_connection_dropped_after_the_peer_applied_the_envelope(desks: Desks, clock: FrozenClock) -> None:
    """The peer applied the envelope but its answer was lost: the retry is a duplicate, which the peer answers
    with the same receipt and without creating the request twice."""
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    with FaultProxy(ph.url, "drop").running() as proxy:
        set_peer_url(vn.node, ph.node_id, proxy.url)
        assert vn.node.envelopes.deliver_due().retrying == 1
    assert _arrived(desks) == 1 and count_rows(ph.node, "federation_inbox") == 1
    set_peer_url(vn.node, ph.node_id, ph.url)
    clock.advance(timedelta(minutes=1))
    assert vn.node.envelopes.deliver_due().delivered == 1
    assert _arrived(desks) == 1 and desks.vn_view(request_id)["state"] == "received"
    [stored] = outbox_rows(vn.node)
    with ph.node.db.reading() as session:
        from sqlalchemy import text

        receipt = session.execute(text("SELECT receipt FROM federation_inbox")).scalar_one()
    assert stored["receipt"] == receipt


def test_the_same_envelope_twice_creates_one_request_and_gets_the_same_receipt(desks: Desks) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    desks.send()
    token = outbox_rows(vn.node)[0]["token"]
    first = post_envelope(vn, ph.url, {"envelope": token})
    second = post_envelope(vn, ph.url, {"envelope": token})
    assert first.status_code == second.status_code == 200
    assert first.json()["receipt"] == second.json()["receipt"]
    assert _arrived(desks) == 1 and count_rows(ph.node, "federation_inbox") == 1


def _payload_swapped(token: str, change: dict[str, object]) -> str:
    header, payload, signature = token.split(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    document.update(change)
    encoded = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


def _sealed(sender: Country, recipient: str, key: Ed25519PrivateKey | None = None) -> str:
    return seal(
        key or sender.node.keys.private_key,
        envelope_id=sender.node.ids.new_id("envelope"),
        kind="cooperation.message",
        sender=sender.node_id,
        recipient=recipient,
        issued_at=sender.node.clock.now(),
        body={},
    ).token


def test_forged_and_altered_envelopes_are_refused(desks: Desks) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    desks.send()
    token = outbox_rows(vn.node)[0]["token"]
    cases = {
        "altered body": (_payload_swapped(token, {"body": {"request": {"id": "x"}}}), "signature"),
        "another node's key": (_sealed(vn, ph.node_id, Ed25519PrivateKey.generate()), "signature"),
        "addressed elsewhere": (_sealed(vn, "node-" + "0" * 32), "to"),
        "not a JWS": ("hello", "signature"),
    }
    for name, (forged, field) in cases.items():
        response = post_envelope(vn, ph.url, {"envelope": forged})
        assert response.status_code == 422, name
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == field, name
    assert post_envelope(vn, ph.url, {"letter": token}).json()["errors"][0]["field"] == "envelope"
    assert _arrived(desks) == 0 and count_rows(ph.node, "federation_inbox") == 0


def test_open_envelope_checks_each_step() -> None:
    key = Ed25519PrivateKey.generate()
    from accord.identity.node_keys import node_id_for

    raw = key.public_key().public_bytes_raw()
    me, you = node_id_for(raw), "node-" + "1" * 32
    from datetime import UTC, datetime

    envelope = seal(
        key,
        envelope_id="envelope--00000000-0000-0000-0000-000000000001",
        kind="receipt",
        sender=me,
        recipient=you,
        issued_at=datetime(2026, 11, 23, tzinfo=UTC),
        body={"envelope_id": "x", "sha256": "y"},
    )
    assert open_envelope(envelope.token, sender=me, sender_key=raw, recipient=you).body["sha256"] == "y"
    with pytest.raises(EnvelopeRejected) as refused:
        open_envelope(envelope.token, sender=you, sender_key=raw, recipient=you)
    assert refused.value.field == "kid"
    with pytest.raises(EnvelopeRejected) as refused:
        open_envelope("x" * (600 * 1024), sender=me, sender_key=raw, recipient=you)
    assert refused.value.field == "envelope"
    with pytest.raises(EnvelopeRejected) as refused:
        seal(key, envelope_id="e", kind="gossip", sender=me, recipient=you, issued_at=envelope.issued_at, body={})
    assert refused.value.field == "kind"


def test_a_suspended_peer_gets_nothing_and_is_refused(desks: Desks, operator: Actor, clock: FrozenClock) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    request_id = desks.send()
    # VN suspends PH: the envelope waits, untried.
    vn.node.federation.set_status(operator, ph.node_id, "suspended", "review of the agreement")
    assert vn.node.envelopes.deliver_due().retrying == 0
    [item] = vn.node.envelopes.outbox(operator)
    assert item.status == "waiting" and item.attempts == 0
    vn.node.federation.set_status(operator, ph.node_id, "active")
    # PH suspends VN: VN's call is refused (401) and retried later; nothing arrives.
    ph.node.federation.set_status(operator, vn.node_id, "suspended", "review of the agreement")
    assert vn.node.envelopes.deliver_due().retrying == 1
    assert outbox_rows(vn.node)[0]["last_error"].startswith("HTTP 401") and _arrived(desks) == 0
    ph.node.federation.set_status(operator, vn.node_id, "active")
    clock.advance(timedelta(minutes=1))
    assert vn.node.envelopes.deliver_due().delivered == 1
    assert desks.ph_view(request_id)["state"] == "received"


def test_outbox_and_deliver_commands(desks: Desks, capsys: pytest.CaptureFixture[str]) -> None:
    vn, ph = desks.countries.vn, desks.countries.ph
    desks.send()
    settings = vn.node.settings
    base = ["--home", str(Path(settings.home)), "--database-url", settings.database_url]
    set_peer_url(vn.node, ph.node_id, closed_port_url())
    make_due(vn.node)
    assert run([*base, "peer", "deliver"]) == 1
    assert "delivered 0, to retry 1" in capsys.readouterr().out
    assert run([*base, "peer", "outbox", ph.node_id]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(ph.node_id) and "pending\tcooperation.request" in line
    assert "attempts=1" in line and "ConnectError" in line
    set_peer_url(vn.node, ph.node_id, ph.url)
    make_due(vn.node)  # the command runs on the system clock; the backoff it set is not over yet
    assert run([*base, "peer", "deliver"]) == 0
    assert "delivered 1" in capsys.readouterr().out
    assert run([*base, "peer", "outbox"]) == 0
    assert "outbox empty" in capsys.readouterr().out
