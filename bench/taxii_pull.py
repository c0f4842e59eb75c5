"""Benchmark: Accord's TAXII 2.1 server against medallion, the OASIS reference server, on the same objects.

Both servers run as separate processes on 127.0.0.1 and hold the same STIX 2.1 bundle (MITRE ATT&CK ICS v18.1
by default, ``--data enterprise`` for ATT&CK Enterprise v18.1). One client drives both: the unmodified
taxii2-client, the way a peer's feed reader would. For each server it measures:

1. start-up: from ``Popen`` until ``GET /taxii2/`` answers 200 (every start is a sample, median shown);
2. full pull: every object of the collection with ``as_pages(collection.get_objects, per_request=1000)``,
   repeated ``--pulls`` times on one server process (objects/s from the median pull, first pull shown apart),
   and the latency of each page of 1,000 as the client sees it (p50/p95/max over all pulls);
3. get-by-id: ``collection.get_object(id)`` for the same ``--requests`` random ids on both servers, with
   requests/s and p50/p95 latency. The ids are streamed from the file (ijson), so a bundle of a million objects
   is never held whole unless medallion needs it (``--skip-medallion`` avoids that).

Accord: a fresh node made with the CLI (``accord init``, ``party add``, ``user add``, ``token create``,
``intel import --tlp clear``) and served with ``accord serve``, on SQLite in a temporary directory and on
PostgreSQL in a database created for the run and dropped at the end. TAXII Basic auth is the user name with an
API token as password. medallion 3.0.0: its memory backend, loaded from a file holding one API root with one
collection (the same objects, a manifest with ``date_added`` 1 ms apart), ``max_page_size`` 1000 so both
servers serve the same page size. medallion lives in its own virtual environment, ``.venv-peers`` at the repo
root, made from ``bench/peers-requirements.txt`` when missing (it must not meet Accord's pins in ``.venv``).

taxii2-client sets no HTTP timeout and medallion's Get Objects is O(n²) (about 47 min for the first page of
Enterprise, see shared/research/taxii-peer-notes.md), so each client step runs in a child process with a
wall-clock cap; a capped step reports what it managed, and its server process is not reused. Servers are
stopped by PID and temporary folders removed at the end, also on error or interrupt.

    .venv/bin/python bench/taxii_pull.py [--data ics|enterprise|FILE] [--backends sqlite,postgresql]
        [--requests N] [--pulls N] [--peer-pull-seconds S] [--get-seconds S] [--pull-seconds S]
        [--import-seconds S] [--profile N] [--skip-medallion]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import hashlib
import heapq
import io
import json
import multiprocessing
import os
import platform
import pstats
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

import ijson
import requests
from sqlalchemy import create_engine

from accord.intel.collections import collection_id
from accord.intel.vocabulary import Tlp
from scratch import scratch_database  # bench/scratch.py: the scripts run from bench/

REPO = Path(__file__).resolve().parent.parent
ACCORD = REPO / ".venv" / "bin" / "accord"
PEERS_VENV = REPO / ".venv-peers"
PEERS_REQUIREMENTS = REPO / "bench" / "peers-requirements.txt"
DATA = {
    "ics": Path("/work/shared/data/ics-attack-18.1.json"),
    "enterprise": Path("/work/shared/data/enterprise-attack-18.1-stix21.json"),
}
DEFAULT_BACKENDS = "sqlite,postgresql"
POSTGRES_SERVER = os.environ.get("ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
HOST = "127.0.0.1"
PAGE = 1000  # per_request for as_pages; Accord's MAX_PAGE, and medallion's max_page_size in its config
SEED = 20261124
TAXII_ACCEPT = "application/taxii+json;version=2.1"
STARTUP_LIMIT = 120.0  # seconds; a server that has not answered discovery by then has failed to start
STOP_GRACE = 5.0
ACCORD_PULL_SECONDS = 300.0  # least cap on Accord's pull step (all pulls); Enterprise needs about 2 s per pull
SLOWEST_PULL = 2_000  # objects/s: the pull cap allows this rate (a tenth of the goal) for every pull, 1M included
IMPORT_SECONDS = 1_800.0  # least cap on `accord intel import`
SLOWEST_IMPORT = 250  # objects/s: the import cap allows this rate (a 1M import is expected to take 3-7 min)
GET_SLACK = 30.0  # the get loop stops itself at --get-seconds; the hard cap allows one slow request beyond it
MEDALLION_USER, MEDALLION_PASSWORD = "bench", "bench-password"  # medallion keeps passwords in its config file
API_ROOT = "attack"  # medallion's API root; Accord's is fixed at /taxii2/accord/
GOAL_PULL = 20_000  # objects/s, full pull
GOAL_PULL_RATIO = 100  # x medallion
GOAL_GET = 500  # requests/s, get-by-id
GOAL_PAGE_MS = 200  # p95 of one page of 1,000 ...
GOAL_PAGE_COLLECTION = 1_000_000  # ... from a collection of a million objects

# ---------------------------------------------------------------------------------------------------------------
# Results.


@dataclass
class Pull:
    objects: int
    seconds: float


@dataclass
class ServerResult:
    name: str  # "accord" or "medallion"
    backend: str  # "sqlite", "postgresql" or "memory"
    startups: list[float] = field(default_factory=list)
    pulls: list[Pull] = field(default_factory=list)
    pull_capped: str = ""  # what a capped pull managed, in words
    page_seconds: list[float] = field(default_factory=list)  # each full page of PAGE objects, all pulls
    latencies: list[float] = field(default_factory=list)
    get_seconds: float = 0.0
    get_capped: bool = False
    get_errors: int = 0
    setup: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.backend})"

    @property
    def startup(self) -> float | None:
        return statistics.median(self.startups) if self.startups else None

    @property
    def pull(self) -> Pull | None:
        """The median pull by time; None when no pull finished."""
        if not self.pulls:
            return None
        ordered = sorted(self.pulls, key=lambda p: p.seconds)
        return ordered[(len(ordered) - 1) // 2]

    @property
    def pull_rate(self) -> float | None:
        pull = self.pull
        return pull.objects / pull.seconds if pull and pull.seconds > 0 else None

    @property
    def get_rate(self) -> float | None:
        return len(self.latencies) / self.get_seconds if self.latencies and self.get_seconds > 0 else None

    def percentile(self, fraction: float) -> float | None:
        return nearest_rank(self.latencies, fraction)


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def page_latencies(messages: Sequence[tuple[Any, ...]]) -> list[float]:
    """Seconds per full page of PAGE objects, from the pull worker's ("page", pages, count, elapsed) messages: the
    time since the pull's previous page (its start, for the first page). A pull's last, shorter page is left out:
    the goal is about pages of 1,000."""
    latencies: list[float] = []
    count, elapsed = 0, 0.0
    for message in messages:
        if message[0] == "page":
            if message[2] - count == PAGE:
                latencies.append(message[3] - elapsed)
            count, elapsed = message[2], message[3]
        elif message[0] == "pull":
            count, elapsed = 0, 0.0
    return latencies


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Servers: started by Popen, timed to the first 200 on discovery, stopped by PID.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def clean_env() -> dict[str, str]:
    """The environment for child processes, without ACCORD_* settings that could point them elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ACCORD_")}


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    base: str  # http://127.0.0.1:PORT
    log: Path


def stop(server: Running | None) -> None:
    if server is None or server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(STOP_GRACE)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def start(command: Sequence[str], port: int, log: Path, auth: tuple[str, str], cwd: Path) -> tuple[Running, float]:
    """Start a server and wait for ``GET /taxii2/`` to answer 200; returns it and the seconds that took."""
    base = f"http://{HOST}:{port}"
    with log.open("ab") as sink:
        began = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 - our own fixed command line
            list(command), stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(), cwd=cwd
        )
    server = Running(process, base, log)
    try:
        with requests.Session() as http:
            while True:
                elapsed = time.perf_counter() - began
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{log_tail(log)}")
                if elapsed > STARTUP_LIMIT:
                    raise RuntimeError(f"{command[0]} did not answer within {STARTUP_LIMIT:.0f} s:\n{log_tail(log)}")
                try:
                    answer = http.get(f"{base}/taxii2/", auth=auth, headers={"Accept": TAXII_ACCEPT}, timeout=5)
                    if answer.status_code == 200:
                        return server, time.perf_counter() - began
                    if answer.status_code != 503:
                        raise RuntimeError(f"discovery answered {answer.status_code}: {answer.text[:300]}")
                except requests.ConnectionError:
                    pass
                time.sleep(0.01)
    except BaseException:
        stop(server)
        raise


# ---------------------------------------------------------------------------------------------------------------
# The client steps, each in a forked child with a wall-clock cap; progress comes back through a pipe.


def _pull_worker(out: Connection, url: str, auth: tuple[str, str], pulls: int, budget: float) -> None:
    from taxii2client.v21 import Collection, as_pages

    collection = Collection(url, user=auth[0], password=auth[1])
    collection.refresh()  # the lazy GET of the collection resource, outside the timing
    began = time.perf_counter()
    for number in range(pulls):
        if number and time.perf_counter() - began > budget:
            break
        start_at, count, pages = time.perf_counter(), 0, 0
        for envelope in as_pages(collection.get_objects, per_request=PAGE):
            count += len(envelope.get("objects", []))
            pages += 1
            out.send(("page", pages, count, time.perf_counter() - start_at))
        out.send(("pull", count, time.perf_counter() - start_at))
    out.send(("done",))


def _get_worker(out: Connection, url: str, auth: tuple[str, str], ids: list[str], budget: float) -> None:
    from taxii2client.v21 import Collection

    collection = Collection(url, user=auth[0], password=auth[1])
    collection.refresh()
    began = time.perf_counter()
    for object_id in ids:
        if time.perf_counter() - began > budget:
            break
        start_at = time.perf_counter()
        envelope = collection.get_object(object_id)
        ended = time.perf_counter()
        found = [o.get("id") for o in envelope.get("objects", [])][:1] == [object_id]
        out.send(("get", ended - start_at, ended - began, found))
    out.send(("done",))


def _child(target: Callable[..., None], out: Connection, *args: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler unwinds; a child just ends
    try:
        target(out, *args)
    except BaseException as exc:
        out.send(("error", f"{type(exc).__name__}: {exc}"[:500]))
    finally:
        out.close()


def in_child(target: Callable[..., None], args: tuple[Any, ...], cap: float) -> tuple[list[tuple[Any, ...]], bool]:
    """Run ``target(pipe, *args)`` in a forked process for at most ``cap`` seconds; its messages and capped?"""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(target, sender, *args), daemon=True)
    process.start()
    sender.close()
    messages: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + cap
    capped = False
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                capped = True
                break
            if not receiver.poll(min(remaining, 1.0)):
                continue
            try:
                message = receiver.recv()
            except EOFError:
                break
            messages.append(message)
            if message[0] == "error":
                raise RuntimeError(f"client step failed: {message[1]}")
            if message[0] == "done":
                break
    finally:
        if process.is_alive():
            process.terminate()
            process.join(STOP_GRACE)
            if process.is_alive():
                process.kill()
        process.join(STOP_GRACE)
        receiver.close()
    return messages, capped


def measure(
    result: ServerResult,
    launch: Callable[[], tuple[Running, float]],
    collection_url: Callable[[Running], str],
    auth: tuple[str, str],
    ids: list[str],
    args: argparse.Namespace,
    pull_cap: float,
) -> None:
    """Three fresh server processes: one for the pulls, one for get-by-id, one for start-up only."""
    server: Running | None = None
    try:
        server, seconds = launch()
        result.startups.append(seconds)
        progress(f"{result.label:<22} start-up {seconds:.2f} s; pulling (cap {pull_cap:.0f} s)")
        messages, capped = in_child(_pull_worker, (collection_url(server), auth, args.pulls, pull_cap), pull_cap)
        result.pulls = [Pull(m[1], m[2]) for m in messages if m[0] == "pull"]
        result.page_seconds = page_latencies(messages)
        if capped:
            done = len(result.pulls)
            last_page: tuple[Any, ...] | None = None  # the last page of the pull that was cut short
            for message in messages:
                last_page = message if message[0] == "page" else None if message[0] == "pull" else last_page
            partial = f"{last_page[1]} pages, {last_page[2]:,} objects" if last_page else "not even its first page"
            if not done:
                result.pull_capped = f"capped at {pull_cap:.0f} s, having returned {partial}"
            progress(f"{result.label:<22} pull capped at {pull_cap:.0f} s after {done} full pulls (then {partial})")
        for pull in result.pulls:
            progress(f"{result.label:<22} pull {pull.objects:,} objects in {pull.seconds:.2f} s")
        stop(server)

        server, seconds = launch()
        result.startups.append(seconds)
        progress(f"{result.label:<22} start-up {seconds:.2f} s; get-by-id (cap {args.get_seconds:.0f} s)")
        messages, capped = in_child(
            _get_worker, (collection_url(server), auth, ids, args.get_seconds), args.get_seconds + GET_SLACK
        )
        gets = [m for m in messages if m[0] == "get"]
        result.latencies = [m[1] for m in gets]
        result.get_seconds = gets[-1][2] if gets else 0.0
        result.get_errors = sum(1 for m in gets if not m[3])
        result.get_capped = capped or len(result.latencies) < len(ids)
        rate = result.get_rate
        progress(f"{result.label:<22} get-by-id {len(result.latencies)} requests, {rate or 0:,.1f} req/s")
        stop(server)

        server, seconds = launch()
        result.startups.append(seconds)
        progress(f"{result.label:<22} start-up {seconds:.2f} s")
    finally:
        stop(server)


# ---------------------------------------------------------------------------------------------------------------
# Accord: a fresh node made with the CLI, served with `accord serve`.


def accord_cli(home: Path, database_url: str | None, *arguments: str, check: bool = True, timeout: float = 1800) -> str:
    command = [str(ACCORD), "--home", str(home)]
    if database_url:
        command += ["--database-url", database_url]
    done = subprocess.run(  # noqa: S603 - our own fixed command line
        [*command, *arguments], capture_output=True, text=True, env=clean_env(), timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"accord {' '.join(arguments[:3])} failed ({done.returncode}): {done.stderr[-800:]}")
    return done.stdout


def make_accord_node(
    home: Path, database_url: str | None, data: Path, import_seconds: float
) -> tuple[tuple[str, str], str]:
    """init, party, user, token, import: returns the TAXII credentials and a line on the import."""
    party = "Bench Police"
    accord_cli(home, database_url, "init", "--name", "TAXII bench node", "--country", "VN")
    accord_cli(home, database_url, "party", "add", party, "--kind", "law_enforcement", "--country", "VN")
    accord_cli(home, database_url, "user", "add", "bench", "--party", party, "--role", "analyst")
    token = accord_cli(home, database_url, "token", "create", "bench", "--scope", "read", "--days", "7").strip()
    began = time.perf_counter()
    importing = ("intel", "import", str(data), "--party", party, "--tlp", "clear")
    out = accord_cli(home, database_url, *importing, check=False, timeout=import_seconds)
    seconds = time.perf_counter() - began
    summary = next((line for line in out.splitlines() if line.startswith(str(data))), out.strip()[-300:])
    return ("bench", token), f"`accord intel import` {seconds:.1f} s: {summary.removeprefix(str(data) + ': ')}"


def run_accord(
    backend: str, database_url: str | None, data: Path, ids: list[str], args: argparse.Namespace
) -> tuple[ServerResult, str]:
    result = ServerResult("accord", backend)
    with tempfile.TemporaryDirectory(prefix="accord-taxii-bench-") as directory:
        home = Path(directory) / "node"
        auth, result.setup = make_accord_node(home, database_url, data, args.import_seconds)
        progress(f"{result.label:<22} {result.setup}")
        url_part = f"/taxii2/accord/collections/{collection_id(Tlp.CLEAR)}/"

        def launch() -> tuple[Running, float]:
            port = free_port()
            command = [str(ACCORD), "--home", str(home)]
            if database_url:
                command += ["--database-url", database_url]
            command += ["serve", "--host", HOST, "--port", str(port)]
            return start(command, port, Path(directory) / "serve.log", auth, Path(directory))

        measure(result, launch, lambda s: s.base + url_part, auth, ids, args, args.pull_seconds)
        profile = profile_accord(home, auth, ids, args.profile) if backend == "sqlite" and args.profile else ""
    return result, profile


def postgres_version(server: str) -> str:
    engine = create_engine(server)
    try:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SHOW server_version").scalar_one())
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------------------------
# medallion: its own venv, a memory-backend config, the same objects.


def peers_python() -> Path:
    """``.venv-peers``, created from bench/peers-requirements.txt only when medallion is missing from it."""
    python, medallion = PEERS_VENV / "bin" / "python", PEERS_VENV / "bin" / "medallion"
    if not medallion.exists():
        base = shutil.which(os.environ.get("PYTHON", "python3")) or sys.executable
        progress(f"creating {PEERS_VENV.name} from {PEERS_REQUIREMENTS.relative_to(REPO)}")
        subprocess.run([base, "-m", "venv", str(PEERS_VENV)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(PEERS_REQUIREMENTS)], check=True
        )
    return python


def peer_versions(python: Path) -> str:
    probe = "import importlib.metadata as m; print(' '.join(m.version(p) for p in ('medallion', 'flask', 'werkzeug')))"
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)  # noqa: S603
    medallion, flask, werkzeug = done.stdout.split()
    return f"medallion {medallion} (Flask {flask}, Werkzeug {werkzeug})"


def medallion_files(directory: Path, objects: list[dict[str, Any]], collection: str) -> Path:
    """The backend file (discovery, one API root, one collection with a manifest) and the config; returns it."""
    first = datetime(2026, 1, 1, tzinfo=UTC)
    manifest = [
        {
            "id": obj["id"],
            "date_added": (first + timedelta(milliseconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "version": obj.get("modified", obj.get("created")),
            "media_type": "application/stix+json;version=2.1",
        }
        for i, obj in enumerate(objects)
    ]
    data = {
        "/discovery": {
            "title": "medallion (benchmark)",
            "description": "The OASIS TAXII 2.1 reference server, memory backend",
            "default": f"/{API_ROOT}/",
            "api_roots": [f"/{API_ROOT}/"],
        },
        API_ROOT: {
            "information": {
                "title": "ATT&CK",
                "description": "One collection holding the benchmark bundle",
                "versions": [TAXII_ACCEPT],
                "max_content_length": 100 * 1024 * 1024,
            },
            "status": [],
            "collections": [
                {
                    "id": collection,
                    "title": "TLP:CLEAR",
                    "description": "The benchmark bundle",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                }
            ],
        },
    }
    backend = directory / "medallion-data.json"
    backend.write_text(json.dumps(data), encoding="utf-8")
    config = directory / "medallion-config.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",  # 3.0.0 stops without it (see the notes)
                    "module_class": "MemoryBackend",
                    "filename": str(backend),
                },
                "users": {MEDALLION_USER: MEDALLION_PASSWORD},
                "taxii": {"max_page_size": PAGE},
            }
        ),
        encoding="utf-8",
    )
    return config


def run_medallion(
    python: Path, objects: list[dict[str, Any]], ids: list[str], args: argparse.Namespace
) -> ServerResult:
    result = ServerResult("medallion", "memory")
    auth = (MEDALLION_USER, MEDALLION_PASSWORD)
    collection = collection_id(Tlp.CLEAR)  # the same collection id as Accord's, for symmetry
    with tempfile.TemporaryDirectory(prefix="medallion-taxii-bench-") as directory:
        config = medallion_files(Path(directory), objects, collection)
        medallion = python.parent / "medallion"

        def launch() -> tuple[Running, float]:
            port = free_port()
            command = [str(medallion), "--host", HOST, "--port", str(port), "--log-level", "WARN", str(config)]
            return start(command, port, Path(directory) / "medallion.log", auth, Path(directory))

        url_part = f"/{API_ROOT}/collections/{collection}/"
        measure(result, launch, lambda s: s.base + url_part, auth, ids, args, args.peer_pull_seconds)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Where Accord's time goes: cProfile around single requests against the app in this process.


# Functions whose cumulative time splits a request into its parts: (file suffix, function, what it is).
PROFILE_PARTS = [
    ("accord/taxii/routes.py", "taxii_actor", "authentication (token look-up, last-used update)"),
    ("accord/intel/service.py", "collection_page", "collection_page: query, ORM rows and audit entry"),
    ("accord/audit/service.py", "append", "  of which the audit entry (hash chain)"),
    ("accord/taxii/routes.py", "_envelope", "writing the envelope (routes._envelope)"),
    ("starlette/responses.py", "render", "JSON encoding of other bodies (JSONResponse.render)"),
]


def cumulative(stats: pstats.Stats, suffix: str, function: str) -> float:
    rows = stats.stats.items()  # type: ignore[attr-defined]
    return float(sum(row[3] for (path, _line, name), row in rows if name == function and path.endswith(suffix)))


def profile_accord(home: Path, auth: tuple[str, str], ids: list[str], top: int) -> str:
    """A page of 1,000 and get-by-id, profiled through the whole ASGI app (auth, routing, service, SQL, audit,
    JSON) in this process. FastAPI would run the sync endpoint and dependencies on a worker thread, which cProfile
    does not see, so for this step only they run inline on the event loop; the work is the same."""
    import fastapi.dependencies.utils
    import fastapi.routing
    import httpx

    from accord.config import load_settings
    from accord.web.app import create_app

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    hook, patched = "run_in_threadpool", (fastapi.routing, fastapi.dependencies.utils)
    saved = [getattr(module, hook) for module in patched]
    for module in patched:
        setattr(module, hook, inline)
    app = create_app(load_settings(env={}, overrides={"home": home}))
    basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    headers = {"Accept": TAXII_ACCEPT, "Authorization": f"Basic {basic}"}
    collection = f"/taxii2/accord/collections/{collection_id(Tlp.CLEAR)}/objects/"
    targets = [
        ("page of 1,000 (GET objects/?limit=1000)", [f"{collection}?limit={PAGE}"] * 5),
        ("get-by-id (GET objects/{id}/)", [f"{collection}{object_id}/" for object_id in ids[:50]]),
    ]
    report = io.StringIO()

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for title, paths in targets:
                for path in paths[:3]:  # warm: imports, statement caches, SQLite pages
                    (await client.get(path)).raise_for_status()
                began = time.perf_counter()
                for path in paths:
                    (await client.get(path)).raise_for_status()
                plain = (time.perf_counter() - began) / len(paths)
                profiler = cProfile.Profile()
                profiler.enable()
                for path in paths:
                    (await client.get(path)).raise_for_status()
                profiler.disable()
                stream = io.StringIO()
                stats = pstats.Stats(profiler, stream=stream)
                total = sum(row[2] for row in stats.stats.values()) / len(paths)  # type: ignore[attr-defined]
                report.write(f"\n--- {title}, {len(paths)} requests: {plain * 1000:.1f} ms each in-process, ")
                report.write(f"{total * 1000:.1f} ms under the profiler, of which (cumulative, per request):\n")
                accounted = 0.0
                for suffix, function, what in PROFILE_PARTS:
                    share = cumulative(stats, suffix, function) / len(paths)
                    accounted += 0.0 if what.startswith(" ") else share
                    report.write(f"  {share * 1000:7.1f} ms  {share / total:4.0%}  {what}\n")
                rest = total - accounted
                report.write(f"  {rest * 1000:7.1f} ms  {rest / total:4.0%}  the rest: FastAPI, middleware, httpx\n")
                stats.sort_stats("tottime").print_stats(top)
                body = stream.getvalue()
                report.write(f"top {top} by own time (all {len(paths)} requests):\n")
                report.write(body[body.find("   ncalls") :].rstrip() + "\n" if "   ncalls" in body else body)

    try:
        asyncio.run(run())
    finally:
        for module, original in zip(patched, saved, strict=True):
            setattr(module, hook, original)
        app.state.node.close()
    return report.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Reporting.


def fmt(value: float | None, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def print_report(
    results: Sequence[ServerResult], args: argparse.Namespace, objects: int, versions: dict[str, str], wall: float
) -> None:
    print()
    print("Accord TAXII 2.1 vs medallion")
    print(f"  date (UTC)  {datetime.now(UTC):%Y-%m-%d %H:%M:%S}")
    print(f"  python      {platform.python_version()} ({platform.python_implementation()})")
    print(f"  platform    {platform.platform()}")
    print(f"  cpu_count   {os.cpu_count()}")
    for name, text in versions.items():
        print(f"  {name:<11} {text}")
    print(f"  data        {args.data_path} ({objects:,} objects)")
    print(
        f"  client      as_pages(get_objects, per_request={PAGE}) x{args.pulls}; "
        f"get_object for {args.requests} random ids (cap {args.get_seconds:.0f} s); "
        f"pull cap {args.pull_seconds:.0f} s (medallion {args.peer_pull_seconds:.0f} s)"
    )
    print(
        f"  wall time   {wall:.0f} s; load average (1, 5, 15 min) {_load(args.load_at_start)} at the start, "
        f"{_load(os.getloadavg())} at the end"
    )
    for r in results:
        if r.setup:
            print(f"  {r.label:<22} {r.setup}")
    print()
    header = (
        f"{'server':<22} {'start-up s':>10} {'pull objs':>9} {'1st pull s':>10} {'pull s':>7} {'objects/s':>10} "
        f"{'gets':>5} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        pull = r.pull
        first = r.pulls[0].seconds if r.pulls else None
        gets = f"{len(r.latencies)}{'*' if r.get_capped else ''}"
        print(
            f"{r.label:<22} {fmt(r.startup, '.2f'):>10} {fmt(pull.objects if pull else None, ','):>9} "
            f"{fmt(first, '.2f'):>10} {fmt(pull.seconds if pull else None, '.2f'):>7} "
            f"{fmt(r.pull_rate, ',.0f'):>10} {gets:>5} {fmt(r.get_rate, ',.1f'):>8} "
            f"{fmt(_ms(r.percentile(0.5)), '.1f'):>8} {fmt(_ms(r.percentile(0.95)), '.1f'):>8}"
        )
    for r in results:
        if r.pull_capped:
            print(f"  {r.label}: full pull {r.pull_capped}")
        if r.get_capped:
            print(f"  {r.label}: get-by-id stopped by the time cap after {len(r.latencies)} of {args.requests} (*)")
        if r.get_errors:
            print(f"  {r.label}: {r.get_errors} get-by-id answers did not hold the object asked for")
    print()
    print(f"Pages of {PAGE:,} during the full pulls (time from the previous page, as taxii2-client sees it)")
    header = f"{'server':<22} {'pages':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for r in results:
        pages = r.page_seconds
        print(
            f"{r.label:<22} {len(pages):>6} {fmt(_ms(nearest_rank(pages, 0.5)), '.1f'):>8} "
            f"{fmt(_ms(nearest_rank(pages, 0.95)), '.1f'):>8} {fmt(_ms(max(pages, default=None)), '.1f'):>8}"
        )
    peer = next((r for r in results if r.name == "medallion"), None)
    print()
    for r in results:
        if r.name != "accord" or peer is None:
            continue
        print(f"{r.label} / medallion:")
        if peer.pull_rate is None and r.pull_rate is not None and peer.pull_capped:
            bound = objects / args.peer_pull_seconds  # medallion returned nothing in the cap: it was slower
            over = r.pull_rate / bound
            print(f"  full pull objects/s  over {over:,.0f}x (medallion unfinished: under {bound:,.0f} objects/s)")
        else:
            print(f"  full pull objects/s  {_ratio(r.pull_rate, peer.pull_rate)}")
        print(f"  get-by-id req/s      {_ratio(r.get_rate, peer.get_rate)}")
        print(f"  get-by-id p50        {_ratio(peer.percentile(0.5), r.percentile(0.5))} lower latency")
        print(f"  start-up             {_ratio(r.startup, peer.startup)} medallion's time")
    print()
    print("Goals")
    for r in results:
        if r.name != "accord":
            continue
        pull_ok = r.pull_rate is not None and r.pull_rate >= GOAL_PULL
        get_ok = r.get_rate is not None and r.get_rate >= GOAL_GET
        if peer is None or r.pull_rate is None:
            ratio_text = "n/a (no figure on one side)"
        elif peer.pull_rate:
            ratio = r.pull_rate / peer.pull_rate
            ratio_text = f"{_met(ratio >= GOAL_PULL_RATIO)} ({ratio:,.1f}x)"
        else:  # medallion's pull was capped: its rate was below objects/cap, so the ratio is above this
            bound = r.pull_rate / (objects / args.peer_pull_seconds)
            verdict = "MET" if bound >= GOAL_PULL_RATIO else "NOT SHOWN"
            ratio_text = f"{verdict} (over {bound:,.0f}x: only a bound, medallion did not finish within its cap)"
        print(f"  {r.label:<22} full pull >= {GOAL_PULL:,} objects/s: {_met(pull_ok)} ({fmt(r.pull_rate, ',.0f')})")
        print(f"  {r.label:<22} full pull >= {GOAL_PULL_RATIO}x medallion: {ratio_text}")
        print(f"  {r.label:<22} get-by-id >= {GOAL_GET} requests/s: {_met(get_ok)} ({fmt(r.get_rate, ',.1f')})")
        page_p95 = _ms(nearest_rank(r.page_seconds, 0.95))
        if page_p95 is None:
            verdict = "no full page"
        elif objects >= GOAL_PAGE_COLLECTION:
            verdict = _met(page_p95 <= GOAL_PAGE_MS)
        else:
            verdict = f"not shown by this collection ({_met(page_p95 <= GOAL_PAGE_MS)} at this size)"
        print(
            f"  {r.label:<22} page of {PAGE:,}: p95 {fmt(page_p95, ',.0f')} ms (goal <= {GOAL_PAGE_MS} ms on a "
            f"{GOAL_PAGE_COLLECTION:,}-object collection; this collection has {objects:,} objects): {verdict}"
        )


def _load(averages: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in averages)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _ratio(ours: float | None, theirs: float | None) -> str:
    return f"{ours / theirs:,.1f}x" if ours and theirs else "n/a (no figure on one side)"


def _met(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


# ---------------------------------------------------------------------------------------------------------------
# Main.


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", default="ics", help="ics (default), enterprise, or a STIX 2.1 bundle file")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help="Accord's databases: sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER, help="server to create the scratch database on")
    parser.add_argument("--requests", type=int, default=300, help="get-by-id requests per server")
    parser.add_argument("--pulls", type=int, default=3, help="full pulls per server (medallion: within its cap)")
    parser.add_argument("--get-seconds", type=float, default=60.0, help="time cap of each get-by-id loop")
    parser.add_argument("--peer-pull-seconds", type=float, default=120.0, help="time cap of medallion's pulls")
    parser.add_argument("--profile", type=int, default=15, help="profile lines per request on SQLite (0: none)")
    parser.add_argument("--skip-medallion", action="store_true", help="measure Accord alone")
    parser.add_argument(
        "--pull-seconds",
        type=float,
        default=0.0,
        help=f"time cap of Accord's pulls (default: {SLOWEST_PULL:,} objects/s per pull, at least "
        f"{ACCORD_PULL_SECONDS:.0f} s)",
    )
    parser.add_argument(
        "--import-seconds",
        type=float,
        default=0.0,
        help=f"time cap of `accord intel import` (default: {SLOWEST_IMPORT} objects/s, "
        f"at least {IMPORT_SECONDS:.0f} s)",
    )
    args = parser.parse_args(argv)
    args.data_path = DATA.get(args.data, Path(args.data))
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"--backends takes sqlite and/or postgresql, not {sorted(unknown)}")
    if not args.data_path.is_file():
        parser.error(f"--data: no file {args.data_path}")
    if not 1 <= args.requests <= 100_000 or not 1 <= args.pulls <= 20:
        parser.error("--requests must be 1..100000 and --pulls 1..20")
    if not 1 <= args.get_seconds <= 600 or not 1 <= args.peer_pull_seconds <= 3600 or not 0 <= args.profile <= 100:
        parser.error("--get-seconds must be 1..600, --peer-pull-seconds 1..3600, --profile 0..100")
    if not 0 <= args.pull_seconds <= 86_400 or not 0 <= args.import_seconds <= 86_400:
        parser.error("--pull-seconds and --import-seconds must be 0 (automatic)..86400")
    return args


def sample_ids(path: Path, k: int) -> tuple[list[str], int]:
    """``k`` distinct object ids picked at random, the same on every run, and the number of objects in the bundle.

    The ids are streamed (ijson), never all held: the sample keeps the ``k`` ids with the smallest keyed hash
    (bottom-k, a reservoir sample in which an id that occurs twice, as two versions of an object, counts once).
    """
    salt = str(SEED).encode()
    heap: list[tuple[int, str]] = []  # (-hash, id): the largest kept hash on top
    kept: set[str] = set()
    count = 0
    with path.open("rb") as handle:
        for object_id in ijson.items(handle, "objects.item.id"):
            count += 1
            if object_id in kept:
                continue
            digest = hashlib.blake2b(object_id.encode(), digest_size=8, key=salt).digest()
            key = int.from_bytes(digest, "big")
            if len(heap) < k:
                heapq.heappush(heap, (-key, object_id))
                kept.add(object_id)
            elif key < -heap[0][0]:
                _, dropped = heapq.heapreplace(heap, (-key, object_id))
                kept.discard(dropped)
                kept.add(object_id)
    return [object_id for _, object_id in sorted(heap, reverse=True)], count


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks: servers stopped, folders removed


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    began = time.perf_counter()
    args.load_at_start = os.getloadavg()
    ids, count = sample_ids(args.data_path, args.requests)
    args.pull_seconds = args.pull_seconds or max(ACCORD_PULL_SECONDS, args.pulls * count / SLOWEST_PULL + 60)
    args.import_seconds = args.import_seconds or max(IMPORT_SECONDS, count / SLOWEST_IMPORT)
    progress(
        f"{args.data_path.name}: {count:,} objects; caps: import {args.import_seconds:.0f} s, pulls "
        f"{args.pull_seconds:.0f} s"
    )
    versions = {
        "taxii2-client": version("taxii2-client"),
        "accord": f"{version('accord')}, uvicorn {version('uvicorn')}, SQLite {sqlite3.sqlite_version}",
    }
    if "postgresql" in args.backends:
        versions["postgresql"] = postgres_version(args.postgres_url)
    results: list[ServerResult] = []
    profile = ""
    for backend in args.backends:
        if backend == "sqlite":
            result, profile = run_accord("sqlite", None, args.data_path, ids, args)
        else:
            with scratch_database("postgresql", args.postgres_url, "accord_taxii_bench") as url:
                result, _ = run_accord("postgresql", url, args.data_path, ids, args)
        results.append(result)
    if not args.skip_medallion:
        python = peers_python()
        versions["peer"] = peer_versions(python)
        with args.data_path.open("rb") as handle:  # medallion's memory backend is loaded from the whole bundle
            objects: list[dict[str, Any]] = json.load(handle)["objects"]
        results.append(run_medallion(python, objects, ids, args))
        del objects
    print_report(results, args, count, versions, time.perf_counter() - began)
    if profile:
        print()
        print(f"Profile of Accord (SQLite node, whole ASGI app in this process, inline; per-request figures){profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
