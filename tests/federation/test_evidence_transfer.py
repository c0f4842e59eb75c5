"""Evidence packages travelling between two real nodes over loopback: chunks, resume, refusals, witnessing.

Faults are injected at the network edge only: an ASGI middleware in front of the receiving node's app (500s,
a byte flipped in transit) and a TCP proxy in front of it that drops connections mid-request or stops
listening (the peer is down). Both nodes use their real databases and spools.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accord.cli.main import run
from accord.clock import FrozenClock
from accord.config import load_settings
from accord.errors import InvalidInput, NotFound
from accord.evidence.models import KnownCheckpoint
from accord.federation.evidence_transfer import (
    TRANSFERS_PATH,
    EvidenceTransfers,
    PeerRefused,
    RetryPolicy,
    TransferInterrupted,
    transfers_of,
)
from accord.federation.models import Peer
from accord.federation.signing import sign_request
from accord.federation.transfer_spool import PACKAGE, PART
from accord.federation.witnessing import InconsistentTreeHead, witness_name
from accord.identity.actor import Actor
from accord.node import Node, init_node, open_node
from accord.web.app import create_app
from tests.conftest import _free_port, count_rows
from tests.evidence.conftest import acting_for, add
from tests.federation.conftest import TwoCountries, serving

CHUNK = 64 * 1024  # the smallest chunk a receiver accepts: a few hundred KB make several chunks
NO_WAIT = RetryPolicy(retries=3, backoff_seconds=1.0)


class Faults:
    """ASGI middleware in front of the receiving node: fails or corrupts chunk uploads on demand, logs answers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.fail_chunks = 0
        self.corrupt_chunks = 0
        self.answers: list[tuple[str, str, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_chunk = "/chunks/" in scope["path"]
        if is_chunk and self.fail_chunks:
            self.fail_chunks -= 1
            while (await receive()).get("more_body"):
                pass
            await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"injected failure"})
            self.answers.append((scope["method"], scope["path"], 500))
            return
        corrupt = is_chunk and self.corrupt_chunks > 0
        if corrupt:
            self.corrupt_chunks -= 1

        async def damaged() -> Any:
            nonlocal corrupt
            message = await receive()
            if corrupt and message.get("body"):
                body = bytearray(message["body"])
                body[0] ^= 0xFF
                message = {**message, "body": bytes(body)}
                corrupt = False
            return message

        async def logged(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.answers.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, damaged, logged)


class Proxy:
    """A TCP proxy on loopback: forwards to the node, can drop a connection after N more uploaded bytes, or stop
    listening altogether (the node looks down: connections are refused)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _free_port()
        self.drop_after: int | None = None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        if self._listener is not None:
            _close(self._listener)  # shutdown wakes the thread blocked in accept (close alone does not, on Linux)
            self._listener = None
        with self._lock:
            for sock in self._sockets:
                _close(sock)
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, upload: bool) -> None:
        try:
            while data := source.recv(65536):
                if upload:
                    with self._lock:
                        budget = self.drop_after
                        if budget is not None and len(data) >= budget:
                            self.drop_after = None
                            target.sendall(data[:budget])
                            _close(source)
                            _close(target)
                            return
                        if budget is not None:
                            self.drop_after = budget - len(data)
                target.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(target)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@dataclass
class Link:
    """PH sending to VN through the fault injectors."""

    two: TwoCountries
    faults: Faults
    proxy: Proxy
    ph: EvidenceTransfers
    vn: EvidenceTransfers
    ph_actor: Actor
    sleeps: list[float] = field(default_factory=list)

    def items(self, count: int = 2, size: int = 150_000) -> list[str]:
        return [
            add(self.two.ph.node, self.ph_actor, os.urandom(size), file_name=f"production-{i}.csv").id
            for i in range(count)
        ]

    def send(self, items: list[str]) -> Any:
        return self.ph.send_package(self.ph_actor, self.two.vn.node_id, item_ids=items, purpose="MLA 2026/17 answer")

    def signed(self, node: Node, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw signed call from ``node`` to VN (through the proxy)."""
        request = httpx.Request(method, f"{self.proxy.url}{path}", **kwargs)
        sign_request(request, node.keys.node_id, node.keys.private_key)
        with httpx.Client(timeout=30) as client:
            return client.send(request)


@pytest.fixture
def link(two_countries: TwoCountries, operator: Actor) -> Iterator[Link]:
    vn_node = two_countries.vn.node
    clock = vn_node.clock
    assert isinstance(clock, FrozenClock)
    faults = Faults(create_app(vn_node.settings, clock=clock))
    with serving(faults) as faulty_url:
        proxy = Proxy(int(faulty_url.rsplit(":", 1)[1]))
        ph_node = two_countries.ph.node
        with ph_node.db.writing() as session:
            peer = session.get(Peer, two_countries.vn.node_id)
            assert peer is not None
            peer.base_url = proxy.url
        sleeps: list[float] = []
        ph = transfers_of(ph_node, sleep=sleeps.append)
        ph.sender.chunk_size = CHUNK
        ph.sender.policy = NO_WAIT
        try:
            yield Link(
                two_countries,
                faults,
                proxy,
                ph,
                transfers_of(vn_node),
                acting_for(operator, two_countries.ph.party.id),
                sleeps,
            )
        finally:
            proxy.down()


def _declaration(transfer_id: str, data: bytes, **overrides: Any) -> dict[str, Any]:
    return {
        "transfer_id": transfer_id,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "chunk_size": CHUNK,
        "package_id": "evidence-package--00000000-0000-4000-8000-000000000001",
        "purpose": "test",
        **overrides,
    }


TRANSFER_A = "evidence-transfer--00000000-0000-4000-8000-0000000000aa"


# -- the whole journey -----------------------------------------------------------------------------------------


def test_package_sent_from_ph_arrives_in_vn_verified_with_received_event(link: Link) -> None:
    items = link.items()
    result = link.send(items)

    vn, ph = link.two.vn.node, link.two.ph.node
    assert sorted(result.receipt["items"]) == sorted(items)
    assert result.receipt["sender"] == link.two.ph.node_id and result.receipt["receiver"] == link.two.vn.node_id
    assert result.bytes_resent == 0 and result.cosignature_stored
    for item_id in items:
        assert count_rows(vn, "evidence_items", "id = :i AND origin_node_id = :o", i=item_id, o=ph.keys.node_id) == 1
        assert count_rows(vn, "custody_events", "item_id = :i AND kind = 'received'", i=item_id) == 1
    assert vn.evidence.custody.verify().events == len(items)
    # Witnessing on the exchange: VN remembers PH's head and PH keeps VN's cosignature of it.
    assert count_rows(vn, "known_checkpoints", "tree_size = :s", s=result.receipt["checkpoint"]["tree_size"]) == 1
    assert count_rows(ph, "custody_cosignatures", "witness_name = :w", w=witness_name(vn.keys.node_id)) == 1
    # Spools: the receiver dropped the chunks and kept the receipt; the sender dropped its package copy.
    incoming = link.vn.receiver.spool.folder(result.transfer_id)
    assert not (incoming / PART).exists() and (incoming / "receipt.json").exists()
    assert not (link.ph.sender.spool.folder(result.transfer_id) / PACKAGE).exists()
    listed = {(t["direction"], t["status"]) for t in link.ph.transfers() + link.vn.transfers()}
    assert listed == {("outgoing", "delivered"), ("incoming", "complete")}


def test_completing_twice_returns_the_same_receipt_and_imports_once(link: Link) -> None:
    result = link.send(link.items(1))
    again = link.signed(link.two.ph.node, "POST", f"{TRANSFERS_PATH}/{result.transfer_id}/complete")
    assert again.status_code == 200
    assert again.json()["receipt"] == result.receipt
    assert count_rows(link.two.vn.node, "custody_events", "kind = 'received'") == 1
    assert link.ph.resume(link.ph_actor, result.transfer_id).receipt == result.receipt  # delivered: nothing sent


# -- failures and resume ---------------------------------------------------------------------------------------


def test_resume_after_the_connection_is_dropped_mid_chunk(link: Link) -> None:
    items = link.items(2, 200_000)
    link.ph.sender.policy = RetryPolicy(retries=0, backoff_seconds=1.0)
    link.proxy.drop_after = int(2.5 * CHUNK)  # the third chunk is cut half-way
    with pytest.raises(TransferInterrupted) as caught:
        link.send(items)
    transfer_id = caught.value.transfer_id
    state = link.ph.sender.spool.state(transfer_id)
    assert state is not None and state["status"] == "interrupted" and state["last_error"]
    assert link.vn.receiver.spool.held(transfer_id) == [0, 1]

    link.ph.sender.policy = NO_WAIT
    result = link.ph.resume(link.ph_actor, transfer_id)
    assert result.bytes_resent <= CHUNK  # only the chunk that was in flight went twice
    assert count_rows(link.two.vn.node, "custody_events", "kind = 'received'") == 2


def test_retries_with_backoff_inside_one_attempt_after_500s(link: Link) -> None:
    link.faults.fail_chunks = 2
    result = link.send(link.items(1))
    assert [status for _m, _p, status in link.faults.answers].count(500) == 2
    assert link.sleeps == [1.0, 2.0]  # exponential backoff
    assert result.bytes_resent == 2 * CHUNK  # the first chunk went three times


def test_resume_after_the_peer_was_down(link: Link) -> None:
    items = link.items(2, 200_000)
    state = link.ph.sender.prepare(link.ph_actor, link.two.vn.node_id, item_ids=items, purpose="MLA answer")
    sent: list[int] = []

    def progress(n: int) -> None:
        sent.append(n)
        if len(sent) == 3:  # the declaration answered (held 0) and two chunks acknowledged: the peer goes down
            link.proxy.down()

    with pytest.raises(TransferInterrupted):
        link.ph.resume(link.ph_actor, state["transfer_id"], progress)
    assert len(link.sleeps) == NO_WAIT.retries
    assert link.vn.receiver.spool.held(state["transfer_id"]) == [0, 1]

    link.proxy.up()
    result = link.ph.resume(link.ph_actor, state["transfer_id"])
    assert result.bytes_resent <= CHUNK
    assert sorted(result.receipt["items"]) == sorted(items)


def test_chunk_corrupted_in_transit_is_refused_and_sent_again(link: Link) -> None:
    link.faults.corrupt_chunks = 1
    result = link.send(link.items(1))
    assert next(status for _m, path, status in link.faults.answers if "/chunks/" in path) == 422
    assert result.receipt["items"]


def test_chunk_with_a_wrong_digest_is_refused_naming_the_field(link: Link) -> None:
    data = os.urandom(CHUNK + 10)
    ph = link.two.ph.node
    assert link.signed(ph, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, data)).status_code == 201
    request = httpx.Request("PUT", f"{link.proxy.url}{TRANSFERS_PATH}/{TRANSFER_A}/chunks/0", content=data[:CHUNK])
    sign_request(request, ph.keys.node_id, ph.keys.private_key)
    damaged = bytearray(data[:CHUNK])
    damaged[100] ^= 1
    tampered = httpx.Request("PUT", request.url, headers=request.headers, content=bytes(damaged))
    with httpx.Client() as client:
        answer = client.send(tampered)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "content-digest"
    assert link.vn.receiver.spool.held(TRANSFER_A) == []


def test_duplicate_chunk_is_a_no_op(link: Link) -> None:
    data = os.urandom(CHUNK * 2)
    ph = link.two.ph.node
    link.signed(ph, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, data))
    path = f"{TRANSFERS_PATH}/{TRANSFER_A}/chunks/1"
    first = link.signed(ph, "PUT", path, content=data[CHUNK:])
    second = link.signed(ph, "PUT", path, content=data[CHUNK:])
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    other = link.signed(ph, "PUT", path, content=os.urandom(CHUNK))  # a different chunk 1: refused, not overwritten
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "content-digest"
    status = link.signed(ph, "GET", f"{TRANSFERS_PATH}/{TRANSFER_A}").json()
    assert status["held"] == [[1, 2]] and status["missing"] == 1
    with (link.vn.receiver.spool.folder(TRANSFER_A) / PART).open("rb") as part:
        part.seek(CHUNK)
        assert part.read() == data[CHUNK:]


def test_a_transfer_is_invisible_to_other_peers(link: Link, operator: Actor, tmp_path: Any) -> None:
    data = os.urandom(CHUNK)
    link.signed(link.two.ph.node, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, data))
    third = _third_node_peered_with(link.two.vn.node, operator, tmp_path)
    try:
        put = link.signed(third, "PUT", f"{TRANSFERS_PATH}/{TRANSFER_A}/chunks/0", content=data)
        get = link.signed(third, "GET", f"{TRANSFERS_PATH}/{TRANSFER_A}")
        done = link.signed(third, "POST", f"{TRANSFERS_PATH}/{TRANSFER_A}/complete")
        again = link.signed(third, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, data))
    finally:
        third.close()
    assert [r.status_code for r in (put, get, done, again)] == [404, 404, 404, 404]
    assert link.vn.receiver.spool.held(TRANSFER_A) == []


def test_oversize_declaration_is_refused(link: Link) -> None:
    limit = link.two.vn.node.settings.evidence_package_max_bytes
    answer = link.signed(link.two.ph.node, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, b"x", size=limit + 1))
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "size"
    assert link.vn.receiver.spool.state(TRANSFER_A) is None
    too_big_chunk = link.signed(
        link.two.ph.node, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, b"x", chunk_size=64 * 1024**2)
    )
    assert too_big_chunk.json()["errors"][0]["field"] == "chunk_size"


def test_completion_with_missing_chunks_or_a_wrong_package_is_refused(link: Link) -> None:
    data = os.urandom(CHUNK)
    ph = link.two.ph.node
    link.signed(ph, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, data))
    early = link.signed(ph, "POST", f"{TRANSFERS_PATH}/{TRANSFER_A}/complete")
    assert early.status_code == 422 and early.json()["errors"][0]["field"] == "chunks"
    link.signed(ph, "PUT", f"{TRANSFERS_PATH}/{TRANSFER_A}/chunks/0", content=data)
    refused = link.signed(ph, "POST", f"{TRANSFERS_PATH}/{TRANSFER_A}/complete")  # random bytes: not a package
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "package"
    assert link.signed(ph, "POST", f"{TRANSFERS_PATH}/{TRANSFER_A}/complete").json() == refused.json()
    assert not (link.vn.receiver.spool.folder(TRANSFER_A) / PART).exists()
    assert count_rows(link.two.vn.node, "evidence_items") == 0


def test_a_suspended_peer_cannot_send(link: Link, operator: Actor) -> None:
    link.two.vn.node.federation.set_status(operator, link.two.ph.node_id, "suspended", "Art. 40 suspension")
    with pytest.raises(PeerRefused) as caught:
        link.send(link.items(1))
    assert caught.value.status == 401
    [state] = [t for t in link.ph.transfers()]
    assert state["status"] == "refused"
    assert link.vn.receiver.spool.ids() == []


def test_stale_incomplete_transfers_are_cleaned(link: Link) -> None:
    link.signed(link.two.ph.node, "POST", TRANSFERS_PATH, json=_declaration(TRANSFER_A, os.urandom(CHUNK)))
    clock = link.two.vn.node.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(timedelta(hours=link.two.vn.node.settings.federation_transfer_stale_hours - 1))
    assert link.vn.receiver.clean_stale() == []
    clock.advance(timedelta(hours=2))
    assert link.vn.receiver.clean_stale() == [TRANSFER_A]
    assert not link.vn.receiver.spool.folder(TRANSFER_A).exists()


def test_a_transfer_cannot_be_resumed_twice_at_once_or_unknown(link: Link) -> None:
    with pytest.raises(NotFound):
        link.ph.resume(link.ph_actor, "evidence-transfer--00000000-0000-4000-8000-0000000000ff")
    with pytest.raises(InvalidInput) as caught:
        link.ph.send_package(link.ph_actor, link.two.vn.node_id, item_ids=link.items(1), purpose=" ")
    assert caught.value.field == "purpose"


# -- witnessing ------------------------------------------------------------------------------------------------


def test_witnessing_in_both_directions(link: Link, operator: Actor) -> None:
    two = link.two
    vn_items = [add(two.vn.node, acting_for(operator, two.vn.party.id), os.urandom(1000)).id]
    link.items(1)
    vn_side, ph_side = transfers_of(two.vn.node), transfers_of(two.ph.node)
    first = vn_side.witness(operator, two.ph.node_id)  # VN witnesses PH's head
    second = ph_side.witness(operator, two.vn.node_id)  # PH witnesses VN's head (through the proxy)
    assert first.previous_size is None and second.previous_size is None
    assert count_rows(two.ph.node, "custody_cosignatures", "witness_name = :w", w=witness_name(two.vn.node_id)) == 1
    assert count_rows(two.vn.node, "custody_cosignatures", "witness_name = :w", w=witness_name(two.ph.node_id)) == 1
    # The log grows; the next head is checked with a consistency proof from the one seen before.
    two.vn.node.evidence.record_event(acting_for(operator, two.vn.party.id), vn_items[0], "analysed", "hash check", {})
    third = ph_side.witness(operator, two.vn.node_id)
    assert third.previous_size == second.tree_size and third.tree_size > second.tree_size
    with two.ph.node.db.reading() as session:
        origin = f"accord/{two.vn.node_id}/custody"
        assert session.get(KnownCheckpoint, (origin, third.tree_size)) is not None


def test_an_inconsistent_head_is_refused_and_audited(link: Link, operator: Actor) -> None:
    two = link.two
    link.items(2)
    vn_side = transfers_of(two.vn.node)
    seen = vn_side.witness(operator, two.ph.node_id)
    # PH's operator rewrites its custody log (as a forger with database access would) and logs new events.
    with two.ph.node.db.engine.begin() as connection:
        for table in ("custody_cosignatures", "custody_checkpoints", "custody_subtrees", "custody_events"):
            if two.ph.node.db.dialect == "sqlite":
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
            else:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
            connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        connection.execute(text("UPDATE custody_log_state SET size = 0"))
    link.items(3)
    with pytest.raises(InconsistentTreeHead) as caught:
        vn_side.witness(operator, two.ph.node_id)
    assert caught.value.known_size == seen.tree_size and caught.value.new_size == 3
    vn = two.vn.node
    assert count_rows(vn, "audit_entries", "action = 'federation.witness' AND outcome = 'failed'") == 1
    assert count_rows(vn, "known_checkpoints") == 1  # the rewritten head was not remembered ...
    assert count_rows(two.ph.node, "custody_cosignatures") == 0  # ... nor cosigned


def _third_node_peered_with(vn: Node, operator: Actor, tmp_path: Any) -> Node:
    """A third country's node (SQLite), peered with VN offline: enough to sign calls to VN."""
    home = tmp_path / "third"
    init_node(load_settings(env={}, overrides={"home": home}), "Third node", "TH")
    third = open_node(load_settings(env={}, overrides={"home": home}), clock=vn.clock)
    party = third.identity.add_party(operator, "Royal Thai Police CCIB", "law_enforcement", "TH")
    vn_party = vn.identity.add_party(operator, "VN desk for TH", "law_enforcement", "VN")
    invitation = vn.federation.invite(operator, base_url="http://127.0.0.1:9", party=vn_party.id)
    _peer, reply = third.federation.accept(operator, invitation, base_url="http://127.0.0.1:9", party=party.id)
    assert reply is not None
    vn.federation.accept(operator, reply)
    return third


# -- the command line ------------------------------------------------------------------------------------------


def _cli(node: Node, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    settings = node.settings
    code = run(["--home", str(settings.home), "--database-url", settings.database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_send_transfers_witness_and_resume_from_the_command_line(
    two_countries: TwoCountries, operator: Actor, capsys: pytest.CaptureFixture[str]
) -> None:
    vn, ph = two_countries.vn, two_countries.ph
    add(ph.node, acting_for(operator, ph.party.id), os.urandom(5000), case="PH-2026-0007")
    code, out, err = _cli(ph.node, capsys, "evidence", "send", "PH-2026-0007", "--to", vn.node.settings.node_name)
    assert code == 0, err
    transfer_id = out.splitlines()[0].removeprefix("transfer ")
    receipt = json.loads(out.split("\n", 2)[2])
    assert receipt["transfer_id"] == transfer_id and len(receipt["items"]) == 1

    code, out, _ = _cli(ph.node, capsys, "evidence", "transfers")
    assert code == 0 and f"{transfer_id}\toutgoing" in out and "\tdelivered\t" in out
    code, out, _ = _cli(vn.node, capsys, "evidence", "transfers")
    assert code == 0 and f"{transfer_id}\tincoming" in out and "\tcomplete\t" in out
    assert _cli(ph.node, capsys, "evidence", "resume", transfer_id)[0] == 0  # delivered: the stored receipt

    code, out, _ = _cli(vn.node, capsys, "evidence", "witness", ph.node_id)
    assert code == 0 and out.startswith(f"cosigned accord/{ph.node_id}/custody at size ")
    code, _, err = _cli(vn.node, capsys, "evidence", "resume", "evidence-transfer--nope")
    assert code == 2 and "TRANSFER_ID" in err
