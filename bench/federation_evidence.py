"""Benchmark: a 1 GiB evidence package sent between two nodes over loopback, the receiver killed midway and
restarted, the send resumed.

Two nodes (SQLite, each its own home in one temporary folder) are peered; the receiving node runs as a real
``accord serve`` process. The sender registers one item of random bytes, exports it and sends it in chunks
(``accord.federation.evidence_transfer``); when about 40% of the package has been acknowledged the receiving
server is killed with SIGKILL, the send stops (``TransferInterrupted``), the server is started again and the
send resumed. Printed:

1. chunk throughput (MB/s) over both attempts, and the bytes resent on resume (goal: at most one chunk);
2. completion time: whole-package SHA-256, verification and import on the receiver, receipt and cosignature;
3. a plain baseline on the same file: one streamed HTTP PUT with httpx to a minimal ASGI app under uvicorn
   that writes the body to disk, hashes it and fsyncs at the end; and ``cp`` of the file; with the ratio;
4. peak resident memory of the receiving server and of the sending process (bounded: one chunk at a time).

    .venv/bin/python bench/federation_evidence.py [--gib 1] [--kill-at 0.4] [--chunk-mib 8]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from accord.config import load_settings, write_config_file
from accord.evidence.blobstore import read_chunks
from accord.evidence.service import ItemMetadata
from accord.federation.evidence_transfer import RetryPolicy, TransferInterrupted, transfers_of
from accord.identity.actor import operator_actor
from accord.node import Node, init_node, open_node

MIB = 1024 * 1024
BLOCK = 64 * MIB


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_node(home: Path, name: str, country: str, **settings: int) -> Node:
    """A node whose settings are in its config file, so ``accord serve`` in another process reads them too."""
    init_node(load_settings(env={}, overrides={"home": home}), name, country)
    write_config_file(home / "accord.toml", settings)
    return open_node(load_settings(env={}, overrides={"home": home}))


class Server:
    """``accord serve`` for a node home, as its own process (so it can be killed)."""

    def __init__(self, home: Path, port: int) -> None:
        self.home, self.port = home, port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [str(Path(sys.executable).with_name("accord")), "--home", str(self.home), "serve"]
        command += ["--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the receiving node did not start")

    def peak_rss_mib(self) -> float:
        if self.process is None:
            return 0.0
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None


def write_random(path: Path, size: int) -> None:
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            out.write(block)
            left -= len(block)


def baseline_put(path: Path, folder: Path) -> float:
    """Seconds for one streamed HTTP PUT of the file to a minimal app that writes, hashes and fsyncs it."""
    target = folder / "baseline.bin"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        digest = hashlib.sha256()
        with target.open("wb") as out:
            while True:
                message = await receive()
                body = message.get("body", b"")
                digest.update(body)
                out.write(body)
                if not message.get("more_body"):
                    break
            out.flush()
            os.fsync(out.fileno())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": digest.hexdigest().encode()})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:

        def stream() -> Any:
            with path.open("rb") as handle:
                yield from read_chunks(handle)

        started = time.perf_counter()
        with httpx.Client(timeout=600) as client:
            response = client.put(f"http://127.0.0.1:{port}/", content=stream())
        elapsed = time.perf_counter() - started
        response.raise_for_status()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        target.unlink(missing_ok=True)
    return elapsed


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="package size in GiB (default 1)")
    parser.add_argument("--kill-at", type=float, default=0.4, help="fraction sent when the receiver is killed")
    parser.add_argument(
        "--chunk-mib",
        type=int,
        default=8,
        help="chunk size in MiB (default 8, the federation_transfer_chunk_bytes default)",
    )
    args = parser.parse_args()
    size = int(args.gib * 1024**3)
    chunk = args.chunk_mib * MIB
    operator = operator_actor("bench")
    print(f"# federation evidence transfer, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}")
    print(
        f"# {os.cpu_count()} cores, Python {platform.python_version()}, {size / MIB:.0f} MiB, "
        f"{args.chunk_mib} MiB chunks"
    )
    folder = Path(tempfile.mkdtemp(prefix="accord-bench-federation-"))
    receiver = None
    try:
        vn = make_node(folder / "vn", "Bench VN", "VN")
        ph = make_node(folder / "ph", "Bench PH", "PH", federation_transfer_chunk_bytes=chunk)
        vn_party = vn.identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
        ph_party = ph.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
        receiver = Server(vn.settings.home, free_port())
        receiver.start()
        invitation = vn.federation.invite(operator, base_url=receiver.url, party=vn_party.id)
        peer, reply = ph.federation.accept(operator, invitation, base_url="http://127.0.0.1:9", party=ph_party.id)
        assert reply is not None
        ph.federation.deliver_acceptance(reply, peer.base_url)

        source = folder / "evidence.bin"
        write_random(source, size)
        seconds, _ = timed(lambda: subprocess.run(["cp", str(source), str(folder / "copy.bin")], check=True))  # noqa: S603,S607
        cp_seconds = seconds
        (folder / "copy.bin").unlink()
        actor = replace(operator, party_id=ph_party.id)
        meta = ItemMetadata(
            case_reference="PH-BENCH-1",
            description="random bytes",
            source_kind="seized-device",
            collector="bench",
            collected_at=datetime.now(UTC),
            file_name="evidence.bin",
            media_type="application/octet-stream",
        )
        with source.open("rb") as handle:
            item = ph.evidence.add_item(actor, read_chunks(handle), meta)

        transfers = transfers_of(ph)
        export_seconds, state = timed(
            lambda: transfers.sender.prepare(actor, vn.keys.node_id, item_ids=[item.id], purpose="bench")
        )
        package_size = state["size"]
        transfer_id = state["transfer_id"]
        print(f"package {package_size / MIB:.1f} MiB exported in {export_seconds:.1f} s")

        acknowledged = 0
        killed_at = None
        receiver_rss = 0.0
        due = threading.Event()

        def killer() -> None:
            # Another thread kills the server while the sender carries on: the kill lands wherever the next
            # chunk is (often mid-upload), as a crash would.
            nonlocal killed_at, receiver_rss
            due.wait()
            killed_at = acknowledged
            receiver_rss = receiver.peak_rss_mib()
            receiver.kill()

        threading.Thread(target=killer, daemon=True).start()

        def progress(n: int) -> None:
            nonlocal acknowledged
            acknowledged += n
            if acknowledged >= args.kill_at * package_size:
                due.set()

        transfers.sender.policy = RetryPolicy(retries=0, backoff_seconds=0.1)
        first_started = time.perf_counter()
        try:
            transfers.resume(actor, transfer_id, progress)
            raise RuntimeError("the send was not interrupted")
        except TransferInterrupted:
            first_seconds = time.perf_counter() - first_started
        print(
            f"receiver killed after {(killed_at or 0) / MIB:.0f} MiB acknowledged; first attempt {first_seconds:.1f} s"
        )

        receiver.start()
        transfers.sender.policy = RetryPolicy(retries=3, backoff_seconds=0.5)
        last_chunk_at = 0.0
        sent_now = 0

        def resumed_progress(n: int) -> None:
            nonlocal last_chunk_at, sent_now
            sent_now += n
            if sent_now >= package_size:
                last_chunk_at = time.perf_counter()

        second_started = time.perf_counter()
        result = transfers.resume(actor, transfer_id, resumed_progress)
        finished = time.perf_counter()
        receiver_rss = max(receiver_rss, receiver.peak_rss_mib())
        chunk_seconds = first_seconds + (last_chunk_at - second_started)
        complete_seconds = finished - last_chunk_at
        throughput = package_size / MIB / chunk_seconds
        print(f"1. chunks: {throughput:.1f} MiB/s over both attempts ({chunk_seconds:.1f} s)")
        print(f"   bytes resent on resume: {result.bytes_resent} (one chunk is {chunk}): ", end="")
        print("met" if result.bytes_resent <= chunk else "NOT met")
        print(f"2. completion (SHA-256, verify + import, receipt, cosignature): {complete_seconds:.1f} s")
        put_seconds = baseline_put(source, folder)
        print(f"3. baseline: streamed HTTP PUT {size / MIB / put_seconds:.1f} MiB/s ({put_seconds:.1f} s); ", end="")
        print(f"cp {size / MIB / cp_seconds:.1f} MiB/s ({cp_seconds:.1f} s)")
        print(f"   chunked transfer / PUT: {throughput / (size / MIB / put_seconds):.0%}")
        total = chunk_seconds + complete_seconds
        print(f"   end to end (chunks + completion): {package_size / MIB / total:.1f} MiB/s ({total:.1f} s)")
        sender_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"4. peak RSS: receiving server {receiver_rss:.0f} MiB, sending process {sender_rss:.0f} MiB")
        items = result.receipt["items"]
        print(f"receipt: {len(items)} item(s), cosignature kept: {result.cosignature_stored}")
        vn.close()
        ph.close()
    finally:
        if receiver is not None:
            receiver.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
