"""Benchmark: intelligence sync between two Accord nodes over loopback TAXII 2.1 (issue 7).

Two nodes on this machine, each with its own SQLite database: VN (the sender, served by ``accord serve`` in a
process of its own) and PH (the receiver, pulling with ``accord sync``), peered with signed invitations.

1. initial sync: VN holds N synthetic scam indicators (bench/intel_import.py's, TLP:GREEN); PH pulls them all
   with ``accord sync VN --no-push`` in a subprocess that is killed (SIGKILL) once a given share has arrived,
   then run again. Printed: time to the kill, time of the resumed run, total, versions pulled twice because of
   the kill (the page in flight), and the counts that prove no loss and no duplicates.
2. baseline: the same N objects pulled from VN's same TAXII collection by a plain taxii2-client ``as_pages``
   loop with an API token, storing nothing — the cost of moving the data alone; the ratio is printed.
3. delta sync: VN imports 10,000 new indicators; PH syncs (in process); goal ≤ 10 s.
4. "nothing new": 30 syncs with nothing to fetch (3 signed GETs each, one per shareable TLP level); p50/p95,
   goal ≤ 200 ms.

Usage: .venv/bin/python bench/federation_sync.py [--initial 1000000] [--delta 10000] [--kill-at 0.4]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from taxii2client.v21 import Collection, as_pages

sys.path.insert(0, str(Path(__file__).parent))
from accord.config import load_settings
from accord.identity.actor import operator_actor
from accord.intel.collections import collection_id
from accord.intel.vocabulary import Tlp
from accord.node import Node, init_node, open_node
from intel_import import iter_synthetic_indicators

ROOT = Path(__file__).resolve().parents[1]
ACCORD = [str(ROOT / ".venv" / "bin" / "accord")]
GOAL_DELTA_SECONDS = 10.0
GOAL_NOTHING_NEW_MS = 200.0
GOAL_INITIAL_SECONDS = 600.0
OPERATOR = operator_actor("bench")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_node(home: Path, name: str, country: str) -> Node:
    url = f"sqlite:///{home / 'accord.db'}"
    settings = load_settings(env={}, overrides={"home": home, "database_url": url})
    init_node(settings, name, country)
    return open_node(load_settings(env={}, overrides={"home": home, "database_url": url}))


def indicators(first: int, count: int) -> Any:
    for n, obj in enumerate(iter_synthetic_indicators(first + count)):
        if n >= first:
            yield obj


def serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    log = (home / "serve.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own fixed command line
        [*ACCORD, "--home", str(home), "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"node at {home} did not start; see {home / 'serve.log'}")


def count(database: Path, table: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def sync_process(home: Path, peer: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own fixed command line
        [*ACCORD, "--home", str(home), "sync", peer, "--no-push"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def initial_sync(ph_home: Path, vn_id: str, total: int, kill_at: float) -> dict[str, Any]:
    database = ph_home / "accord.db"
    started = time.monotonic()
    first = sync_process(ph_home, vn_id)
    target = int(total * kill_at)
    killed_with = 0
    while first.poll() is None:
        time.sleep(0.25)
        try:
            killed_with = count(database, "intel_received")
        except sqlite3.OperationalError:
            continue
        if killed_with >= target:
            first.send_signal(signal.SIGKILL)
            first.wait()
            break
    to_kill = time.monotonic() - started
    resumed_at = time.monotonic()
    second = sync_process(ph_home, vn_id)
    out, err = second.communicate()
    if second.returncode != 0:
        raise RuntimeError(f"resumed sync failed: {err.decode()}")
    resumed = time.monotonic() - resumed_at
    line = out.decode().strip().splitlines()[-1]  # "pulled P (S new, F refused), pushed 0, ..."
    pulled = int(line.split()[1])
    new = int(line.split("(")[1].split()[0])
    return {
        "killed after": f"{to_kill:.1f} s with {killed_with:,} stored",
        "resumed run": f"{resumed:.1f} s: pulled {pulled:,}, new {new:,}",
        "pulled twice because of the kill": pulled - new,
        "total": to_kill + resumed,
        "objects on PH": count(database, "intel_objects"),
        "provenance rows": count(database, "intel_received"),
    }


def baseline_pull(vn_url: str, token: str, username: str) -> tuple[int, float]:
    collection = Collection(
        f"{vn_url}/taxii2/accord/collections/{collection_id(Tlp.GREEN)}/", user=username, password=token
    )
    started = time.monotonic()
    pulled = 0
    for envelope in as_pages(collection.get_objects, per_request=1000):
        pulled += len(envelope.get("objects", []))
    return pulled, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--initial", type=int, default=1_000_000)
    parser.add_argument("--delta", type=int, default=10_000)
    parser.add_argument("--kill-at", type=float, default=0.4)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="accord-sync-bench-") as scratch:
        vn_home, ph_home = Path(scratch) / "vn", Path(scratch) / "ph"
        vn, ph = make_node(vn_home, "Bench VN", "VN"), make_node(ph_home, "Bench PH", "PH")
        vn_party = vn.identity.add_party(OPERATOR, "A05 Cybercrime Unit", "law_enforcement", "VN")
        ph_party = ph.identity.add_party(OPERATOR, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
        vn_port = free_port()
        vn_url = f"http://127.0.0.1:{vn_port}"
        invitation = vn.federation.invite(OPERATOR, base_url=vn_url, party=vn_party.id)
        _peer, reply = ph.federation.accept(OPERATOR, invitation, base_url="http://127.0.0.1:9", party=ph_party.id)
        vn.federation.accept(OPERATOR, reply)
        vn_id = vn.keys.node_id
        vn.identity.add_user(OPERATOR, "baseline", vn_party.id, ["analyst"])
        _view, token = vn.identity.create_token(OPERATOR, "baseline", "bench", ["read"])

        print(f"loading {args.initial:,} indicators into VN ...", flush=True)
        started = time.monotonic()
        vn.intel.import_objects(
            OPERATOR, indicators(0, args.initial), tlp=Tlp.GREEN, owner=vn_party.id, source="bench", workers=2
        )
        print(f"  loaded in {time.monotonic() - started:.0f} s", flush=True)
        vn.close()
        server = serve(vn_home, vn_port)
        try:
            print(f"initial sync of {args.initial:,}, killing the receiver at {args.kill_at:.0%} ...", flush=True)
            initial = initial_sync(ph_home, vn_id, args.initial, args.kill_at)
            for key, value in initial.items():
                print(f"  {key}: {value if key != 'total' else f'{value:.1f} s'}")
            rate = args.initial / initial["total"]
            ok = initial["objects on PH"] == initial["provenance rows"] == args.initial
            print(
                f"  initial sync {initial['total']:.1f} s ({rate:,.0f} obj/s), goal ≤ {GOAL_INITIAL_SECONDS:.0f} s: "
                f"{'met' if initial['total'] <= GOAL_INITIAL_SECONDS else 'NOT met'}; no loss, no duplicates: {ok}"
            )
            pulled, seconds = baseline_pull(vn_url, token, "baseline")
            print(
                f"baseline: plain taxii2-client pull of the same collection, storing nothing: {pulled:,} in "
                f"{seconds:.1f} s ({pulled / seconds:,.0f} obj/s); sync takes {initial['total'] / seconds:.1f}x"
            )

            vn_writer = open_node(vn.settings)
            vn_writer.intel.import_objects(
                OPERATOR, indicators(args.initial, args.delta), tlp=Tlp.GREEN, owner=vn_party.id, source="bench"
            )
            vn_writer.close()
            started = time.monotonic()
            report = ph.intel_sync.sync(vn_id, push=False)
            delta = time.monotonic() - started
            print(
                f"delta sync of {args.delta:,} new: {delta:.2f} s ({report.stored:,} stored), goal ≤ "
                f"{GOAL_DELTA_SECONDS:.0f} s: {'met' if delta <= GOAL_DELTA_SECONDS else 'NOT met'}"
            )
            samples = []
            for _ in range(args.rounds):
                started = time.monotonic()
                nothing = ph.intel_sync.sync(vn_id, push=False)
                samples.append((time.monotonic() - started) * 1000)
                assert nothing.pulled == 0
            samples.sort()
            p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
            print(
                f"nothing new ({args.rounds} syncs): p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, "
                f"goal ≤ {GOAL_NOTHING_NEW_MS:.0f} ms: {'met' if p95 <= GOAL_NOTHING_NEW_MS else 'NOT met'}"
            )
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            ph.close()
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
