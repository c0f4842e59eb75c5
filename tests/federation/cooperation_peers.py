"""Helpers for tests of what travels between two served nodes: the cooperation desks on each side, a request from
VN to PH's party, signed posts of raw envelopes, and a tiny loopback proxy that injects network faults."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from accord.audit.service import Disclosure
from accord.cooperation.legal import Decision
from accord.federation.envelope_models import OutboxEnvelope
from accord.federation.models import Peer
from accord.federation.signing import sign_request
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import _free_port
from tests.cooperation.test_requests import preservation_fields
from tests.federation.conftest import Country, TwoCountries

WHY = Disclosure(purpose="case VN-A05-2026-0117")


@dataclass
class Desks:
    countries: TwoCountries
    vn_analyst: Actor  # A05 analyst on the VN node: drafts and sends
    ph_poc: Actor  # PNP 24/7 point of contact on the PH node: answers
    vn_pnp: str  # the party standing for the PH node on the VN node

    def send(self, **changes: Any) -> str:
        """A preservation request from A05 (VN) to PNP (PH), sent: it waits in VN's outbox."""
        requests = self.countries.vn.node.cooperation_requests
        view = requests.create(
            self.vn_analyst,
            request_type="preservation",
            instrument="UN",
            requested_party=self.vn_pnp,
            fields=preservation_fields(**changes),
            language="en",
            case_reference="VN-A05-2026-0117",
        )
        requests.transition(self.vn_analyst, view.row.id, "sent", Decision())
        return view.row.id

    def vn_view(self, request_id: str) -> dict[str, Any]:
        return self.countries.vn.node.cooperation_requests.get(self.vn_analyst, request_id, WHY).document()

    def ph_view(self, request_id: str) -> dict[str, Any]:
        return self.countries.ph.node.cooperation_requests.get(self.ph_poc, request_id, WHY).document()

    def ph_move(self, request_id: str, to: str, **decision: Any) -> dict[str, Any]:
        requests = self.countries.ph.node.cooperation_requests
        return requests.transition(self.ph_poc, request_id, to, Decision(**decision)).document()


def user(node: Node, operator: Actor, username: str, party: str, roles: list[str]) -> Actor:
    node.identity.add_user(operator, username, party, roles)
    _view, token = node.identity.create_token(operator, username, "tests", ["read", "write"])
    return node.identity.authenticate_token(token)


def desks_for(countries: TwoCountries, operator: Actor) -> Desks:
    vn, ph = countries.vn, countries.ph
    return Desks(
        countries=countries,
        vn_analyst=user(vn.node, operator, "a05.analyst", vn.party.id, ["analyst"]),
        ph_poc=user(ph.node, operator, "pnp.poc", ph.party.id, ["point_of_contact"]),
        vn_pnp=vn.node.federation.peer(ph.node_id).party_id,
    )


def set_peer_url(node: Node, peer_node_id: str, url: str) -> None:
    """Point a node at another address for its peer (what an operator re-peering at a new address achieves)."""
    with node.db.writing() as session:
        row = session.get(Peer, peer_node_id)
        assert row is not None
        row.base_url = url


def outbox_rows(node: Node) -> list[dict[str, Any]]:
    with node.db.reading() as session:
        rows = session.scalars(select(OutboxEnvelope).order_by(OutboxEnvelope.seq))
        return [{c.key: getattr(row, c.key) for c in OutboxEnvelope.__table__.columns} for row in rows]


def make_due(node: Node) -> None:
    """Every envelope due now on any clock (for commands that run on the system clock, not the test's)."""
    with node.db.writing() as session:
        for row in session.scalars(select(OutboxEnvelope)):
            row.next_attempt_at = datetime(2000, 1, 1, tzinfo=UTC)


def post_envelope(sender: Country, receiver_url: str, document: Any) -> httpx.Response:
    """A signed call (RFC 9421) from ``sender``'s node posting ``document`` to the receiver's envelope endpoint."""
    request = httpx.Request("POST", f"{receiver_url}/federation/v1/envelopes", json=document)
    keys = sender.node.keys
    with httpx.Client(timeout=10) as client:
        return client.send(sign_request(request, keys.node_id, keys.private_key))


def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused."""
    return f"http://127.0.0.1:{_free_port()}"


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class FaultProxy:
    """A loopback TCP proxy in front of a node, one fault per mode:

    - ``hang``: reads the request and never answers (a slow peer: the caller times out);
    - ``error``: answers 500 without passing the request on;
    - ``drop``: passes the request on, waits for the node's answer, then closes the connection without passing
      the answer back (the envelope was applied, the sender never hears so).
    """

    def __init__(self, target: str, mode: str) -> None:
        self.target_port = int(target.rsplit(":", 1)[1])
        self.mode = mode
        self.requests = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            request = _read_request(conn)
            if not request:
                return
            self.requests += 1
            if self.mode == "hang":
                self._stop.wait(30)
            elif self.mode == "error":
                conn.sendall(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom"
                )
            elif self.mode == "drop":
                with socket.create_connection(("127.0.0.1", self.target_port)) as upstream:
                    upstream.sendall(request)
                    upstream.recv(65536)  # the node answered: it has applied the envelope
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    @contextmanager
    def running(self) -> Iterator[FaultProxy]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=5)
            self._server.close()
