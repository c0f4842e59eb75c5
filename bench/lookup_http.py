"""Benchmark: single-value HTTP lookup (``POST /api/v1/lookup`` with one value) against the real ``accord serve``,
with a load generator on loopback: a closed-loop run (capacity), an open-loop run at a fixed rate (latency at
the goal's load), and the closed-loop run against ``GET /healthz`` of the same server.

1. A SQLite node home with N synthetic indicators (``--indexed N``, default 1,000,000), built by
   ``bench/lookup.py``'s machinery (half TLP:AMBER, half TLP:RED, one law-enforcement importer); ``--keep PATH``
   keeps the home, ``--reuse PATH`` uses such a home. An analyst of ANOTHER Vietnamese law-enforcement party gets
   an API token (scope read), as that benchmark's reader does: amber hits come back in full, red ones as
   restricted hits.
2. ``accord --home HOME serve --port P --workers W`` in a subprocess (``--server-workers W``, default one per
   core), ready when ``GET /healthz`` answers 200. Its output goes to a scratch file.
3. Closed loop: ``--concurrency`` clients (default 8) in one asyncio loop, each on its own HTTP/1.1 keep-alive
   connection, sending its next request as soon as the last one is answered, for ``--warmup`` seconds not
   counted (default 3) and then ``--seconds`` counted (default 30). The client is a minimal one on asyncio
   streams (``RawConnection``: requests encoded once, responses read by Content-Length); ``--client httpx`` uses
   one ``httpx.AsyncClient`` instead, which costs about ten times as much CPU per request. Each request looks up
   one value of ``lookup.query_set`` (fixed seed: 80 % indexed with Zipf-like repetition, 20 % absent; half in
   variant forms such as "+84 91 234 5678" or a spaced lower-case IBAN), as ``{"values": [raw], "types":
   [kind]}`` (``--detect``: without types) with ``Authorization: Bearer`` and ``Accord-Purpose``. The answers of
   the warm-up are checked (canonical form as the generator expects). Counted: requests that start and end
   inside the window. Any answer that is not 2xx, or a transport error, is an error. The generator shares the
   cores with the server (that is what "on 2 cores" means here); its own CPU time (getrusage) and the server's
   (/proc/PID/stat, children included) are printed for the window.
   The goal is judged on this run, as load generators such as wrk and hey measure it: at least 1,000
   answers/s with p99 <= 20 ms and no error.
4. Open loop (``--rate R``, default 1,000/s; 0 skips it), a stricter view printed beside the verdict: the same
   requests, due at R per second whatever the answers do, over at most ``--open-connections`` keep-alive
   connections (default 64); each latency runs from when the request was due, so a server (or a generator
   starved of CPU by the server) that falls behind is charged for the queue.
5. The closed loop against ``GET /healthz`` (no auth; one ``SELECT 1`` in a read transaction): the framework's
   ceiling on this machine, and the lookup's share of it.
6. The SQL statements one lookup request issues, counted in-process on the same home (an app from
   ``create_app`` and an engine event listener), so the run names the round trips behind the figure.

    .venv/bin/python bench/lookup_http.py [--indexed N] [--seconds S] [--warmup S] [--concurrency C]
        [--server-workers W] [--rate R] [--open-connections N] [--client raw|httpx] [--detect]
        [--keep PATH | --reuse PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/lookup.py's node and query set

from accord.config import load_settings
from accord.identity.actor import operator_actor
from accord.node import Node
from accord.store.engine import sqlite_begin_mode
from accord.web.app import create_app
from lookup import DEFAULT_INDEXED, Query, bench_node, percentile, progress, query_set

REPO = Path(__file__).resolve().parents[1]
ACCORD = Path(sys.executable).with_name("accord")
GOAL_RATE, GOAL_P99_MS = 1_000.0, 20.0  # issue 4: >= 1,000 req/s on 2 cores, p99 <= 20 ms
DEFAULT_SECONDS, DEFAULT_WARMUP, DEFAULT_CONCURRENCY = 30.0, 3.0, 8
QUERIES = 20_000  # distinct request bodies, cycled through (Zipf repetition is inside the set)
REQUEST_TIMEOUT = 10.0
START_TIMEOUT = 60.0
PURPOSE = "benchmark: single-value lookup of synthetic values"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------------------------
# The node and its server.


def analyst_token(node: Node, suffix: str) -> str:
    """An API token (scope read) of an analyst of a second VN law-enforcement party (``lookup.reader_of``)."""
    operator = operator_actor("bench")
    party = node.identity.add_party(operator, f"HTTP lookup party {suffix}", "law_enforcement", "VN")
    username = f"http-lookup-{suffix}"
    node.identity.add_user(operator, username, party.id, ["analyst"])
    _view, token = node.identity.create_token(operator, username, "bench http", ["read"])
    return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes, when there are several)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(child) for child in (task / "children").read_text().split())
            except OSError:
                continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its descendants (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for member in process_tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 is at index 0
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Server:
    """``accord --home HOME serve --port P`` as its own process, with a clean ACCORD_* environment."""

    def __init__(self, home: Path, workers: int, log: Path) -> None:
        self.home, self.workers, self.log = home, workers, log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the server is not running")
        return self.process.pid

    def start(self) -> None:
        command = [str(ACCORD), "--home", str(self.home), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if self.workers > 1:
            command += ["--workers", str(self.workers)]
        env = {name: value for name, value in os.environ.items() if not name.startswith("ACCORD_")}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, env=env)  # noqa: S603
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"accord serve did not answer /healthz within {START_TIMEOUT:.0f} s:\n{tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown, as Ctrl-C
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------------------------
# The load.


@dataclass(frozen=True)
class Target:
    label: str
    method: str
    path: str
    headers: dict[str, str]
    bodies: list[bytes | None]  # cycled through; None: no body
    queries: list[Query] | None = None  # what each body asks, to check the warm-up answers


@dataclass
class Run:
    label: str
    window: float = 0.0  # seconds counted, from the "warm" mark to the end
    cpu_window: float = 0.0  # seconds between the two CPU readings
    latencies: list[float] = field(default_factory=list)  # ms, requests inside the window
    errors: Counter[str] = field(default_factory=Counter)  # whole run, warm-up included
    error_samples: list[str] = field(default_factory=list)
    total: int = 0  # requests sent, warm-up included
    server_cpu: float = 0.0
    generator_cpu: float = 0.0
    checked: int = 0
    wrong: int = 0
    found: int = 0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.window if self.window else 0.0


def check_answer(run: Run, query: Query, body: bytes) -> None:
    result = json.loads(body)["results"][0]
    run.checked += 1
    run.found += bool(result["hits"]["found"])
    if result["canonical"] != query.canonical:
        run.wrong += 1


async def load(
    target: Target,
    base_url: str,
    server_pid: int,
    client: str,
    concurrency: int,
    warmup: float,
    seconds: float,
    rate: float | None = None,
) -> Run:
    """Closed loop: ``concurrency`` clients, each sending as soon as answered. Open loop (``rate``): requests due
    at ``rate`` per second over at most ``concurrency`` connections."""
    run = Run(target.label)
    begin = time.perf_counter()
    marks: dict[str, tuple[float, float, float]] = {}  # name -> (time, server cpu, generator cpu)
    warm_end, stop_at = begin + warmup, begin + warmup + seconds
    cursor = iter(range(10**12))
    count = len(target.bodies)

    async def mark(name: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        marks[name] = (time.perf_counter(), cpu_seconds(server_pid), own_cpu_seconds())

    def record(started: float, status: int, index: int, body: bytes) -> None:
        ended = time.perf_counter()
        if not 200 <= status < 300:
            run.errors[f"HTTP {status}"] += 1
            if len(run.error_samples) < 5:
                run.error_samples.append(f"HTTP {status}: {body.decode(errors='replace')[:300]}")
            return
        if started < warm_end and target.queries is not None:
            check_answer(run, target.queries[index], body)
        if "warm" in marks and started >= marks["warm"][0] and ended <= stop_at:
            run.latencies.append((ended - started) * 1000)

    def failed(exc: Exception) -> None:
        run.errors[type(exc).__name__] += 1
        if len(run.error_samples) < 5:
            run.error_samples.append(f"{type(exc).__name__}: {exc}")

    async def httpx_client(http: httpx.AsyncClient) -> None:
        while (started := time.perf_counter()) < stop_at:
            index = next(cursor) % count
            run.total += 1
            try:
                response = await http.request(target.method, target.path, content=target.bodies[index])
            except httpx.HTTPError as exc:
                failed(exc)
                continue
            record(started, response.status_code, index, response.content)

    async def raw_client() -> None:
        connection: RawConnection | None = None
        while (started := time.perf_counter()) < stop_at:
            index = next(cursor) % count
            run.total += 1
            try:
                if connection is None:
                    connection = await RawConnection.open(host, port)
                status, body, close = await asyncio.wait_for(connection.send(requests[index]), REQUEST_TIMEOUT)
            except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
                failed(exc)
                if connection is not None:
                    connection.close()
                connection = None
                continue
            if close:
                connection.close()
                connection = None
            record(started, status, index, body)
        if connection is not None:
            connection.close()

    async def open_loop(pool_size: int) -> None:
        # Requests leave on a fixed schedule, whatever the answers do; each takes an idle connection (opening one
        # while fewer than pool_size exist) and its latency runs from when it was due, not from when it found a
        # connection: a server that falls behind is charged for the queue (no coordinated omission).
        idle: asyncio.Queue[RawConnection] = asyncio.Queue()
        opened = 0
        tasks: set[asyncio.Task[None]] = set()

        async def one(due: float, index: int) -> None:
            nonlocal opened
            connection: RawConnection | None = None
            try:
                if idle.empty() and opened < pool_size:
                    opened += 1
                    connection = await RawConnection.open(host, port)
                else:
                    connection = await idle.get()
                status, body, close = await asyncio.wait_for(connection.send(requests[index]), REQUEST_TIMEOUT)
            except (OSError, EOFError, ValueError, TimeoutError, asyncio.IncompleteReadError) as exc:
                failed(exc)
                if connection is not None:
                    connection.close()
                    opened -= 1
                return
            if close:
                connection.close()
                opened -= 1
            else:
                idle.put_nowait(connection)
            record(due, status, index, body)

        interval = 1.0 / rate
        sent = 0
        while (due := begin + sent * interval) < stop_at:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            run.total += 1
            task = asyncio.create_task(one(due, next(cursor) % count))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if tasks:
            await asyncio.wait(tasks, timeout=REQUEST_TIMEOUT)
        while not idle.empty():
            idle.get_nowait().close()

    clocks = (mark("warm", warm_end), mark("stop", stop_at))
    if rate is not None:
        url = httpx.URL(base_url)
        host, port = url.host, url.port or 80
        requests = [raw_request(target, host, port, body) for body in target.bodies]
        await asyncio.gather(*clocks, open_loop(concurrency))
    elif client == "raw":
        url = httpx.URL(base_url)
        host, port = url.host, url.port or 80
        requests = [raw_request(target, host, port, body) for body in target.bodies]
        await asyncio.gather(*clocks, *(raw_client() for _ in range(concurrency)))
    else:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(
            base_url=base_url, headers=target.headers, limits=limits, timeout=REQUEST_TIMEOUT
        ) as http:
            await asyncio.gather(*clocks, *(httpx_client(http) for _ in range(concurrency)))
    (t0, server0, own0), (t1, server1, own1) = marks["warm"], marks["stop"]
    # The rate's window ends at stop_at (the last counted request ended by then); CPU is read when "stop" is marked,
    # a few milliseconds later at most.
    run.window, run.cpu_window = stop_at - t0, t1 - t0
    run.server_cpu, run.generator_cpu = server1 - server0, own1 - own0
    return run


def raw_request(target: Target, host: str, port: int, body: bytes | None) -> bytes:
    """The whole HTTP/1.1 request, encoded once: the raw client only writes it."""
    lines = [f"{target.method} {target.path} HTTP/1.1", f"host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in target.headers.items()]
    if body is not None:
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class RawConnection:
    """One keep-alive HTTP/1.1 connection on asyncio streams that reads a response by its Content-Length.

    httpx.AsyncClient costs about 1.6-1.9 ms of CPU per request here (measured), so at 1,000 requests/s it would
    take most of the two cores the server should have; this client costs a small fraction of that. It only
    understands what uvicorn sends for these endpoints (Content-Length bodies); anything else is an error.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes, bool]:
        """Status, body and whether the server closes the connection."""
        self.writer.write(request)
        head = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(head[9:12])
        start = head.find(b"\r\ncontent-length:")
        if start < 0:
            raise ValueError(f"HTTP {status} answer without content-length")
        length = int(head[start + 17 : head.index(b"\r\n", start + 2)])
        body = await self.reader.readexactly(length)
        return status, body, b"\r\nconnection: close" in head

    def close(self) -> None:
        self.writer.close()


def lookup_target(token: str, queries: list[Query], detect: bool) -> Target:
    bodies: list[bytes | None] = []
    for query in queries:
        document: dict[str, Any] = {"values": [query.raw]}
        if not detect:
            document["types"] = [query.kind]
        bodies.append(json.dumps(document).encode())
    headers = {
        "authorization": f"Bearer {token}",
        "accord-purpose": PURPOSE,
        "content-type": "application/json",
    }
    return Target("POST /api/v1/lookup (one value)", "POST", "/api/v1/lookup", headers, bodies, queries)


def healthz_target() -> Target:
    return Target("GET /healthz", "GET", "/healthz", {}, [None])


# ---------------------------------------------------------------------------------------------------------------
# The round trips of one request, counted in-process.


def statements_of_one_lookup(home: Path, token: str, body: bytes) -> list[str]:
    """The SQL one lookup request sends (BEGIN and COMMIT included), from an app on the same home."""
    settings = load_settings(env={}, overrides={"home": home, "database_url": f"sqlite:///{home / 'accord.db'}"})
    app = create_app(settings)
    engine = app.state.node.db.engine
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", on_execute)
    # SQLite's BEGIN is sent by the dialect (store.engine), not as a statement: the "begin" event counts it.
    event.listen(engine, "begin", lambda _conn: seen.append(f"BEGIN {sqlite_begin_mode()}"))
    event.listen(engine, "commit", lambda _conn: seen.append("COMMIT"))
    event.listen(engine, "rollback", lambda _conn: seen.append("ROLLBACK"))
    headers = {"authorization": f"Bearer {token}", "accord-purpose": PURPOSE, "content-type": "application/json"}

    async def send() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            for _ in range(2):  # the first one may refresh the token's last use; the second is the steady state
                seen.clear()
                response = await client.post("/api/v1/lookup", content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"in-process lookup: HTTP {response.status_code} {response.text[:300]}")

    try:
        asyncio.run(send())
    finally:
        app.state.node.close()
    return list(seen)


def describe(statement: str) -> str:
    words = statement.split()
    if words[0] in {"BEGIN", "COMMIT", "ROLLBACK"}:
        return statement
    if words[0] == "SELECT" and "FROM" in words:
        tables = [words[i + 1] for i, word in enumerate(words[:-1]) if word in {"FROM", "JOIN"}]
        return f"SELECT from {', '.join(dict.fromkeys(tables))}"
    if words[0] == "INSERT":
        return f"INSERT INTO {words[2]}"
    if words[0] == "UPDATE":
        return f"UPDATE {words[1]}"
    return statement[:60]


# ---------------------------------------------------------------------------------------------------------------


def git_commit() -> str:
    done = subprocess.run(  # noqa: S603
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


def print_run(run: Run, server_workers: int) -> None:
    done = len(run.latencies)
    print(f"== {run.label}")
    print(f"  requests completed  {done:,} in {run.window:.2f} s ({run.total:,} sent, warm-up included)")
    print(f"  throughput          {run.rate:,.1f} req/s")
    if done:
        print(
            f"  latency (ms)        p50 {percentile(run.latencies, 50):.2f}  p95 {percentile(run.latencies, 95):.2f}"
            f"  p99 {percentile(run.latencies, 99):.2f}  max {max(run.latencies):.2f}"
        )
    print(f"  errors              {sum(run.errors.values())}" + (f" {dict(run.errors)}" if run.errors else ""))
    for sample in run.error_samples:
        print(f"    {sample}")
    per_request = 1000 / done if done else 0.0
    print(
        f"  server CPU          {run.server_cpu:.2f} s = {run.server_cpu / run.cpu_window:.2f} cores "
        f"({server_workers} process{'es' if server_workers > 1 else ''}), {run.server_cpu * per_request:.2f} ms/request"
    )
    print(
        f"  generator CPU       {run.generator_cpu:.2f} s = {run.generator_cpu / run.cpu_window:.2f} cores "
        f"(one asyncio thread; near 1.00 it is the bottleneck), {run.generator_cpu * per_request:.2f} ms/request"
    )
    if run.checked:
        print(
            f"  warm-up answers     {run.checked:,} checked: {run.found:,} found, "
            f"{run.wrong} canonical forms differing from the generator's"
        )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--indexed", type=int, default=DEFAULT_INDEXED, help="synthetic indicators in the node")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="counted seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=DEFAULT_WARMUP, help="uncounted seconds before them")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="closed-loop clients")
    parser.add_argument(
        "--server-workers", type=int, default=os.cpu_count() or 1, help="accord serve --workers (default: one per core)"
    )
    parser.add_argument(
        "--rate", type=float, default=GOAL_RATE, help="open-loop run: requests due per second (0: skip that run)"
    )
    parser.add_argument("--open-connections", type=int, default=64, help="open-loop run: most connections used")
    parser.add_argument(
        "--client", choices=["raw", "httpx"], default="raw", help="load generator: asyncio streams or httpx"
    )
    parser.add_argument("--detect", action="store_true", help="send no types: the server detects each kind")
    parser.add_argument("--keep", type=Path, help="build the SQLite node home here and keep it")
    parser.add_argument("--reuse", type=Path, help="use this node home (from --keep), do not import")
    args = parser.parse_args(argv)
    if not 1_000 <= args.indexed <= 1_000_000:
        parser.error("--indexed must be 1,000..1,000,000")
    if not (1 <= args.seconds <= 600 and 0 <= args.warmup <= 60 and 1 <= args.concurrency <= 256):
        parser.error("--seconds 1..600, --warmup 0..60, --concurrency 1..256")
    if not (0 <= args.rate <= 20_000 and 1 <= args.open_connections <= 1024 and 1 <= args.server_workers <= 64):
        parser.error("--rate 0..20000, --open-connections 1..1024, --server-workers 1..64")
    if args.keep and args.reuse:
        parser.error("give --keep or --reuse, not both")
    if args.reuse and not (args.reuse / "accord.db").is_file():
        parser.error(f"--reuse {args.reuse}: no accord.db there")
    if args.keep and args.keep.exists() and any(args.keep.iterdir()):
        parser.error(f"--keep {args.keep}: not empty (reuse it with --reuse)")
    args.backends, args.postgres_url = ["sqlite"], None  # what lookup.bench_node reads
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: the server is stopped, scratch removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    print("Accord single-value HTTP lookup benchmark")
    print(f"  date (UTC)  {datetime.now(UTC):%Y-%m-%d %H:%M:%S}")
    print(f"  code        {git_commit()}")
    print(f"  python      {platform.python_version()} ({platform.python_implementation()}), {platform.platform()}")
    print(f"  cpu_count   {os.cpu_count()}; load average before {os.getloadavg()[0]:.2f}")
    print(f"  libraries   uvicorn {version('uvicorn')}, fastapi {version('fastapi')}, httpx {version('httpx')}")
    print(f"  server      accord serve --workers {args.server_workers}")
    print(
        f"  load        {args.concurrency} closed-loop clients ({args.client}), keep-alive, "
        f"{args.warmup:g} s warm-up + {args.seconds:g} s counted per run; "
        f"types {'detected by the server' if args.detect else 'given'}"
    )
    if args.rate:
        print(
            f"              then open loop: {args.rate:,.0f} requests/s due, "
            f"over at most {args.open_connections} connections"
        )
    with bench_node("sqlite", args) as bench, tempfile.TemporaryDirectory(prefix="accord-bench-http-") as scratch:
        home = bench.node.settings.home
        token = analyst_token(bench.node, f"{os.getpid()}-{int(time.time())}")
        started = time.perf_counter()
        queries = query_set(bench.indexed, QUERIES)
        progress(f"query set of {len(queries):,} drawn in {time.perf_counter() - started:.1f} s")
        present = sum(q.indexed for q in queries)
        print(f"  node        {home}: {bench.indexed:,} indicators (SQLite)")
        print(f"  queries     {len(queries):,} request bodies cycled ({present:,} indexed values, the rest absent)")
        target = lookup_target(token, queries, args.detect)
        statements = statements_of_one_lookup(home, token, target.bodies[0] or b"")
        server = Server(home, args.server_workers, Path(scratch) / "server.log")
        with running(server):
            progress(f"closed loop on {target.label} for {args.warmup:g} + {args.seconds:g} s")
            capacity = asyncio.run(
                load(target, server.url, server.pid, args.client, args.concurrency, args.warmup, args.seconds)
            )
            paced = None
            if args.rate:
                progress(f"open loop on {target.label} at {args.rate:,.0f}/s for {args.warmup:g} + {args.seconds:g} s")
                paced = asyncio.run(
                    load(
                        target,
                        server.url,
                        server.pid,
                        "raw",
                        args.open_connections,
                        args.warmup,
                        args.seconds,
                        rate=args.rate,
                    )
                )
                paced.label = f"{target.label}, open loop at {args.rate:,.0f} requests/s"
            progress(f"closed loop on GET /healthz for {args.warmup:g} + {args.seconds:g} s")
            health = asyncio.run(
                load(healthz_target(), server.url, server.pid, args.client, args.concurrency, args.warmup, args.seconds)
            )
        runs = [capacity, *([paced] if paced else []), health]
    print(f"  load average after {os.getloadavg()[0]:.2f}")
    print()
    for run in runs:
        print_run(run, args.server_workers)
    lookup = capacity
    print()
    transactions = sum(1 for s in statements if s.startswith("BEGIN"))
    writes = sum(1 for s in statements if s.startswith("BEGIN IMMEDIATE"))
    print(
        f"one lookup request, in-process on the same home: {len(statements)} statements, "
        f"{transactions} transactions ({writes} writing)"
    )
    for name, count in Counter(describe(s) for s in statements).items():
        print(f"  {count} x {name}")
    print()
    ratio = lookup.rate / health.rate if health.rate else 0.0
    print(f"lookup / healthz throughput: {ratio:.2f} ({lookup.rate:,.0f} vs {health.rate:,.0f} req/s)")
    errors = sum(lookup.errors.values())
    p99 = percentile(lookup.latencies, 99) if lookup.latencies else float("inf")
    met = lookup.rate >= GOAL_RATE and p99 <= GOAL_P99_MS and errors == 0
    if paced is not None:
        paced_p99 = percentile(paced.latencies, 99) if paced.latencies else float("inf")
        paced_errors = sum(paced.errors.values())
        errors += paced_errors
        print(
            f"open loop (stricter, not the verdict): {paced.rate:,.0f} req/s answered of {args.rate:,.0f} due, "
            f"p99 {paced_p99:.1f} ms, {paced_errors} errors"
        )
    print(
        f"goal >= {GOAL_RATE:,.0f} req/s and p99 <= {GOAL_P99_MS:.0f} ms, single-value HTTP lookup against "
        f"{bench.indexed:,} indexed, {args.server_workers} server processes on {os.cpu_count()} cores, "
        f"{args.concurrency} closed-loop clients: {'MET' if met else 'NOT MET'} "
        f"({lookup.rate:,.0f} req/s, p99 {p99:.1f} ms, {sum(lookup.errors.values())} errors)"
    )
    return 0 if errors == 0 and sum(health.errors.values()) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
