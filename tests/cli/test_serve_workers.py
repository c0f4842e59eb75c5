"""``accord serve --workers 2``: two real server processes on one port, sharing the database. Calls land on both;
a token revoked elsewhere is refused by every process at once; concurrent lookups from both processes leave
one valid audit chain; SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from accord.config import Settings
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import World, _free_port, count_rows

ACCORD = Path(sys.executable).with_name("accord")
START_TIMEOUT = 60.0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _workers(pid: int) -> list[int]:
    """The server's worker processes (multiprocessing's resource tracker is a child too, but serves nothing)."""
    return [
        child
        for child in _children(pid)
        if "resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
    ]


@pytest.fixture
def served(settings: Settings, node: Node) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORD_")}
    env["ACCORD_DATABASE_URL"] = settings.database_url
    command = [str(ACCORD), "--home", str(settings.home), "serve", "--port", str(port), "--workers", "2"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    try:
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200 and len(_workers(server.pid)) == 2:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("accord serve --workers 2 did not answer")
        yield url, server
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_two_processes_share_the_port_the_caches_and_the_audit_chain(
    served: tuple[str, subprocess.Popen[bytes]], node: Node, world: World, operator: Actor
) -> None:
    url, server = served
    workers = _workers(server.pid)
    assert len(workers) == 2
    cpu_before = {pid: _cpu_ticks(pid) for pid in workers}
    headers = {**world.auth("analyst"), "Accord-Purpose": "test of two server processes"}

    def lookup(index: int) -> int:
        # A new connection each time, so the kernel spreads the calls over both processes' sockets.
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            answer = http.post(
                "/api/v1/lookup", json={"values": [f"+84 91 234 {index:04d}"], "types": ["phone-number"]}
            )
            return answer.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(lookup, range(120))) == {200}
    assert all(_cpu_ticks(pid) > cpu_before[pid] for pid in workers), "both processes served calls"
    assert count_rows(node, "audit_entries", "action = 'matching.lookup'") == 120
    assert node.audit.verify().entries >= 120  # one chain, whichever process appended

    # A token revoked here (any process of the node) is refused by both server processes on the next call.
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    (token,) = node.identity.list_tokens(analyst, "analyst")
    node.identity.revoke_token(analyst, token.id)
    with ThreadPoolExecutor(4) as pool:
        assert set(pool.map(lookup, range(20))) == {401}

    # A worker that dies is replaced, and connections go to its successor.
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        now = _workers(server.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.2)
    replaced = _workers(server.pid)
    assert len(replaced) == 2 and workers[0] not in replaced
    time.sleep(3)  # the successor imports Accord and opens the node
    with httpx.Client(base_url=url, timeout=10) as http:
        assert {http.get("/healthz").status_code for _ in range(20)} == {200}

    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=40) == 0
    assert all(not Path(f"/proc/{pid}").exists() or _zombie(pid) for pid in workers)


def _cpu_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "Z"
