"""``accord demo --nodes 3``: three national nodes on loopback play the cross-border case end to end, and what
each node holds afterwards is what the scenario says (checked in their databases, not in the printed text)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from accord.audit.service import Disclosure
from accord.cli.main import run
from accord.config import load_settings
from accord.node import Node, open_node

WHY = Disclosure(purpose="test")


def free_base_port() -> int:
    """A port P with P, P+1 and P+2 free now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base > 65000:
            continue
        try:
            with socket.socket() as one, socket.socket() as two:
                one.bind(("127.0.0.1", base + 1))
                two.bind(("127.0.0.1", base + 2))
        except OSError:
            continue
        return base
    raise RuntimeError("no three free ports in a row")


def node_at(home: Path) -> Node:
    return open_node(load_settings(env={}, overrides={"home": home, "database_url": ""}))


def scalar(node: Node, sql: str) -> int:
    with node.db.reading() as session:
        return int(session.execute(text(sql)).scalar_one())


def test_three_nodes_play_the_cross_border_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo3"
    port = free_base_port()
    assert run(["demo", "--nodes", "3", "--port", str(port), "--dir", str(folder), "--seed-only"]) == 0
    out = capsys.readouterr().out
    assert f"VN http://127.0.0.1:{port}, PH http://127.0.0.1:{port + 1}, GH http://127.0.0.1:{port + 2}" in out
    assert out.count("cross-border hit") == 2
    logins = [line.split()[:2] for line in out.splitlines() if line.startswith("  ")]
    assert len(logins) == 9

    vn, ph, gh = (node_at(folder / key) for key in ("vn", "ph", "gh"))
    try:
        # Each node has the two others as peers.
        for node in (vn, ph, gh):
            assert scalar(node, "SELECT count(*) FROM peers WHERE status = 'active'") == 2
        # Ghana received CLEAR and GREEN only; VN and PH exchanged their AMBER scam identifiers.
        assert scalar(gh, "SELECT count(*) FROM intel_objects WHERE tlp = 'amber'") == 0
        assert scalar(gh, "SELECT count(*) FROM intel_received") == 1
        assert scalar(vn, "SELECT count(*) FROM intel_objects WHERE tlp = 'amber'") == 2
        # The preservation and MLA requests exist on both sides with the same ids; the MLA is executed in VN.
        with vn.db.reading() as session:
            states = dict(session.execute(text("SELECT request_type, state FROM cooperation_requests")).all())
        assert states == {"preservation": "executing", "mla_stored_data": "executed"}
        assert scalar(ph, "SELECT count(*) FROM cooperation_requests") == 2
        # The exchange's production arrived in VN with a "received" custody event, and VN's log still verifies.
        assert scalar(vn, "SELECT count(*) FROM evidence_items") == 1
        assert scalar(vn, "SELECT count(*) FROM custody_events WHERE kind = 'received'") == 1
        assert vn.evidence.custody.verify().events >= 1
        # PH's custody head was countersigned by VN (witnessing).
        assert scalar(ph, "SELECT count(*) FROM custody_cosignatures") >= 1
        for node in (vn, ph, gh):
            assert node.audit.verify().entries > 0
    finally:
        for node in (vn, ph, gh):
            node.close()

    # Running it again wipes and rebuilds the demo folder; a bad --nodes is a one-line error.
    assert run(["demo", "--nodes", "2", "--port", str(port), "--dir", str(folder), "--seed-only"]) != 0
    assert "--nodes" in capsys.readouterr().err
