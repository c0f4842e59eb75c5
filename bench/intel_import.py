"""Benchmark: how fast Accord imports STIX 2.1 intelligence, beside the peers that bound it.

One run, the same objects for every step: MITRE ATT&CK Enterprise v18.1 in STIX 2.1 (24,771 objects, see
/work/shared/data/README.md), and a synthetic set of scam indicators. It measures, in objects per second:

1. ``json.load`` of the bundle file: the floor, nothing can import faster than it parses;
2. ``stix2.parse(obj, allow_custom=True)`` per object: the peer library, the rate the issue asks to print beside ours;
3. Accord's validation alone, ``accord.intel.validate.check_object`` per object (it calls ``stix2.parse`` inside);
4. Accord's full import, ``IntelService.import_objects``: validation, identifier extraction and normalisation,
   RFC 8785 canonical JSON, the insert, the observable index and the audit entry, into a fresh node on SQLite
   and on PostgreSQL; with the wall time, the database size after the import, bytes per stored object and the
   peak RSS of the importing process;
5. the re-import of the same objects (all duplicates);
6. the full import of N synthetic scam indicators (``--synthetic N``, up to 1,000,000) whose patterns hold a
   Vietnamese phone number, a German IBAN and an IPv4 address, with the database bytes per indicator. The set is
   written once to a bundle file in a temporary folder, and the import streams it exactly as ``accord intel
   import`` does (ijson, ``accord.cli.intel._objects``), with the CLI's checker processes (``--workers``). Its
   rate is reported per window of objects as well as overall ("sustained"), and its memory as the importing
   process's peak RSS and the checker processes' peaks.

Each import runs in a fresh subprocess (so its peak RSS is its own) against a fresh node: SQLite in a temporary
directory, PostgreSQL in a database created for the run and dropped at the end (also on error or interrupt).
The ATT&CK import checks its objects in the importing process (no checker processes), as it always has.

    .venv/bin/python bench/intel_import.py [--data FILE] [--synthetic N] [--workers N] [--skip-attack]
        [--backends sqlite,postgresql] [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
import itertools
import json
import os
import platform
import pstats
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import schwifty
import stix2
from sqlalchemy import create_engine, text

from accord.cli.intel import _objects as stream_bundle  # the CLI's reader: ijson, one object at a time
from accord.config import load_settings
from accord.identity.actor import operator_actor
from accord.intel.errors import InvalidStix
from accord.intel.pipeline import IN_FLIGHT_PER_WORKER, worker_count
from accord.intel.service import BATCH
from accord.intel.validate import check_object
from accord.node import Node, init_node, open_node
from scratch import scratch_database  # bench/scratch.py: the scripts run from bench/

DEFAULT_DATA = Path("/work/shared/data/enterprise-attack-18.1-stix21.json")
DEFAULT_SYNTHETIC = 20_000
DEFAULT_BACKENDS = "sqlite,postgresql"
POSTGRES_SERVER = os.environ.get("ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
VALIDATION_SAMPLE = 2_000  # synthetic indicators validated without a database (the first ones of the set)
GOAL = 5_000  # objects/s with validation and indexing (the target)
GOAL_RSS_BYTES = 1_500_000_000  # the "peak RSS while importing the 1M set <= 1.5 GB"
GOAL_RSS_SET = 1_000_000  # the set size that RSS goal is about
WINDOW = 50_000  # objects per "sustained" window (smaller runs: max(1000, N // 20))
MEMORY_SAMPLE_SECONDS = 0.25  # how often the synthetic worker samples its checker processes' memory
WORKER_TIMEOUT = 3_600  # seconds; a 1M import on PostgreSQL should take ~400 s: one past an hour is not a benchmark
SYNTHETIC_NAMESPACE = uuid.UUID("6f0d5b8e-3a51-5c1e-9d0b-2a7c4e1f8b30")  # fixed: the same ids on every run
SYNTHETIC_TIME = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
FIRST_IPV4 = int(ipaddress.IPv4Address("11.0.0.0"))  # public unicast space; the synthetic hosts count up from here
T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------------------
# The workloads.


def load_bundle(path: Path) -> list[dict[str, Any]]:
    with path.open("rb") as handle:
        objects: list[dict[str, Any]] = json.load(handle)["objects"]
    return objects


def iter_synthetic_indicators(count: int) -> Iterator[dict[str, Any]]:
    """``count`` scam indicators, one at a time, each naming a caller's phone, a mule account and a landing-page host.

    Indicator n holds phone +8491 followed by n (unique), the IBAN of account n // 2 (two reports per mule
    account) and the IPv4 address number n // 4 from 11.0.0.0 (four reports per host), so the index gets
    1.75 observables and 3 postings per indicator.
    """
    iban = host = ""
    for n in range(count):
        if n % 2 == 0:  # schwifty is most of the generation time: one IBAN per pair of indicators, not per indicator
            iban = str(schwifty.IBAN.generate("DE", bank_code="37040044", account_code=str(n // 2)))
        if n % 4 == 0:
            host = str(ipaddress.IPv4Address(FIRST_IPV4 + n // 4))
        phone = f"+8491{n % 10_000_000:07d}"
        stamp = datetime.fromtimestamp(SYNTHETIC_TIME.timestamp() + n, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        yield {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.uuid5(SYNTHETIC_NAMESPACE, f'indicator/{n}')}",
            "created": stamp,
            "modified": stamp,
            "name": f"Investment scam report {n}",
            "description": "Victim was called, sent to a trading site and paid into a mule account.",
            "indicator_types": ["malicious-activity"],
            "pattern": (
                f"[phone-number:value = '{phone}'] OR [bank-account:iban = '{iban}'] OR [ipv4-addr:value = '{host}']"
            ),
            "pattern_type": "stix",
            "valid_from": stamp,
        }


def synthetic_indicators(count: int) -> list[dict[str, Any]]:
    """The first ``count`` synthetic scam indicators as a list (see :func:`iter_synthetic_indicators`)."""
    return list(iter_synthetic_indicators(count))


def write_synthetic_bundle(path: Path, count: int) -> int:
    """Write the ``count`` synthetic indicators as one STIX 2.1 bundle, an object per line, without holding them
    (json.dumps per object, as ``accord intel export`` writes); return the file's size in bytes."""
    bundle_id = f"bundle--{uuid.uuid5(SYNTHETIC_NAMESPACE, f'bundle/{count}')}"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(f'{{"type": "bundle", "id": "{bundle_id}", "objects": [\n')
        for n, indicator in enumerate(iter_synthetic_indicators(count)):
            handle.write(("," if n else "") + json.dumps(indicator, ensure_ascii=False) + "\n")
        handle.write("]}\n")
    return path.stat().st_size


# ---------------------------------------------------------------------------------------------------------------
# Measuring.


@dataclass(frozen=True)
class Rate:
    step: str
    backend: str
    objects: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.objects / self.seconds if self.seconds > 0 else float("inf")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = work()
    return value, time.perf_counter() - start


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def parse_each(objects: Sequence[dict[str, Any]]) -> None:
    for obj in objects:
        stix2.parse(obj, allow_custom=True)


def check_each(objects: Sequence[dict[str, Any]]) -> int:
    """Validate every object; return how many were refused (counted, not raised, as the import does)."""
    now, refused = datetime.now(UTC), 0
    for obj in objects:
        try:
            check_object(obj, now)
        except InvalidStix:
            refused += 1
    return refused


def validation_rates(objects: Sequence[dict[str, Any]], label: str) -> list[Rate]:
    """stix2.parse alone, then Accord's check_object, over the same objects (no database)."""
    _, seconds = timed(lambda: parse_each(objects))
    rates = [Rate(f"stix2.parse{label}", "(no db)", len(objects), seconds)]
    progress(f"{rates[-1].step:<36} {rates[-1].per_second:>8,.0f} objects/s")
    refused, seconds = timed(lambda: check_each(objects))
    if refused:
        raise RuntimeError(f"check_object refused {refused} of {len(objects)} objects{label}")
    rates.append(Rate(f"Accord check_object{label}", "(no db)", len(objects), seconds))
    progress(f"{rates[-1].step:<36} {rates[-1].per_second:>8,.0f} objects/s")
    return rates


def in_process_rates(data: Path | None, synthetic: int) -> list[Rate]:
    """The floor and the peers, in this process: json.load, then validation of the bundle (unless ``data`` is
    None: --skip-attack) and of the scam set."""
    rates: list[Rate] = []
    if data is not None:
        data.read_bytes()  # warm the page cache, so json.load measures parsing, not the disk
        objects, seconds = timed(lambda: load_bundle(data))
        rates.append(Rate("json.load", "(no db)", len(objects), seconds))
        progress(f"{'json.load':<36} {rates[-1].per_second:>8,.0f} objects/s")
        rates += validation_rates(objects, "")
        del objects
    if synthetic:
        # A sample, not all N: stix2's pattern validation makes these slow, and the imports below cover all N.
        rates += validation_rates(synthetic_indicators(min(synthetic, VALIDATION_SAMPLE)), ", synthetic scam")
    return rates


def stream_rate(bundle: Path) -> Rate:
    """The CLI's reader alone (ijson over the synthetic bundle): the floor of the synthetic import."""
    bundle.read_bytes()  # warm the page cache
    count, seconds = timed(lambda: sum(1 for _ in stream_bundle(bundle, NoBar())))
    rate = Rate("ijson stream, synthetic bundle", "(no db)", count, seconds)
    progress(f"{rate.step:<36} {rate.per_second:>8,.0f} objects/s")
    return rate


class NoBar:
    """Stands in for the CLI's progress bar, to which ``accord.cli.intel._objects`` reports the bytes it reads."""

    def update(self, n: int) -> None:
        pass


def window_size(count: int) -> int:
    """Objects per window: WINDOW, or for smaller sets max(1000, count // 20), in whole import batches."""
    return min(WINDOW, max(1_000, count // 20 // BATCH * BATCH))


def pipeline_lead(workers: int) -> int:
    """How many objects the import has taken but not yet stored when it takes the next batch's first object.

    Inline (0 workers) it stores each batch before taking the next. With checker processes it keeps
    ``workers * IN_FLIGHT_PER_WORKER`` batches submitted and takes a new batch right after storing the oldest,
    so all but that one are still in flight (accord.intel.pipeline.checked_batches).
    """
    return max(0, workers * IN_FLIGHT_PER_WORKER - 1) * BATCH


class Windows:
    """Hands the import its objects and notes (objects taken, perf_counter) every ``every`` objects.

    A mark is taken when the import asks for the object after the ``every``-th, i.e. right after it stored a
    batch; :func:`window_rates` turns taken into stored by subtracting :func:`pipeline_lead`. Each mark is also
    reported on stderr, so a long run can be watched.
    """

    def __init__(self, objects: Iterable[Any], every: int, lead: int, label: str) -> None:
        self._objects = objects
        self.every = every
        self.lead = lead
        self.label = label
        self.taken = 0
        self.marks: list[tuple[int, float]] = []
        self._reported = (0, 0.0)  # (stored, perf_counter) at the last report

    def __iter__(self) -> Iterator[Any]:
        self.marks.append((0, time.perf_counter()))
        self._reported = self.marks[0]
        for obj in self._objects:
            if self.taken and self.taken % self.every == 0:
                self.marks.append((self.taken, time.perf_counter()))
                self._report()
            self.taken += 1
            yield obj

    def _report(self) -> None:
        taken, now = self.marks[-1]
        if taken <= self.lead:
            return  # nothing stored yet that this mark could count
        (stored, then), self._reported = self._reported, (taken - self.lead, now)
        progress(
            f"{self.label}: {taken - self.lead:>9,} stored, {(taken - self.lead - stored) / (now - then):>8,.0f}/s"
        )


def window_rates(
    marks: Sequence[Sequence[float]], total: int, end: float, every: int, lead: int
) -> list[tuple[int, float]]:
    """(objects stored, seconds) per window between marks, the last one ending when the import returned.

    The first window starts at the import's start and ends ``lead`` objects short (those are in flight), the
    last one takes them. A last window of less than half ``every`` objects is merged into the one before it, so
    its few objects do not make a rate of their own.
    """
    start = marks[0][1]
    points = [(0, start)] + [(int(n) - lead, t) for n, t in marks[1:] if lead < n < total] + [(total, end)]
    if len(points) > 2 and points[-1][0] - points[-2][0] < every / 2:
        del points[-2]
    return [(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(points)]


def _status_kib(status: str, field: str) -> int | None:
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def _proc_status_mib(field: str) -> float | None:
    try:
        value = _status_kib(Path("/proc/self/status").read_text(), field)
    except OSError:
        return None
    return None if value is None else value / 1024


def peak_rss_mib() -> float:
    """This process's peak resident set, MiB: Linux's VmHWM, else ru_maxrss.

    ru_maxrss is not used on Linux because it survives execve: a child started from this benchmark's parent
    inherits the parent's peak (the parent held the whole bundle), so it would not be the import's own figure.
    VmHWM belongs to the process's address space, which exec replaces.
    """
    peak = _proc_status_mib("VmHWM")
    return peak if peak is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def reset_peak_rss() -> float:
    """Start a new peak at the current RSS (Linux 4.0+: clear_refs 5), so json.load's transient peak does not
    hide the import's; return the current RSS in MiB. Elsewhere the peak is left alone."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return peak_rss_mib()
    return _proc_status_mib("VmRSS") or peak_rss_mib()


class TreeMemory:
    """Samples the memory of this process and of its children (the import's checker processes) on a thread.

    Linux only (``/proc``). A checker's peak is its own ``VmHWM``, which starts afresh at its exec; the last
    sample is taken at most one interval before the pool stops it. The total is the sum of ``VmRSS`` over this
    process and all its children (checkers and multiprocessing's resource tracker) at each sample, so a spike
    shorter than the interval can be missed, and pages of shared libraries count once per process.
    """

    def __init__(self, interval: float = MEMORY_SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.checker_peaks_kib: dict[int, int] = {}
        self.total_peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        try:
            own = _status_kib(Path("/proc/self/status").read_text(), "VmRSS") or 0
            tasks = os.listdir("/proc/self/task")
        except OSError:
            return
        total = own
        for task in tasks:
            try:
                children = Path(f"/proc/self/task/{task}/children").read_text().split()
            except OSError:
                continue
            for pid in map(int, children):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    checker = b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue  # it ended between the listing and the read
                total += _status_kib(status, "VmRSS") or 0
                if checker:
                    peak = _status_kib(status, "VmHWM") or 0
                    self.checker_peaks_kib[pid] = max(peak, self.checker_peaks_kib.get(pid, 0))
        self.total_peak_kib = max(self.total_peak_kib, total)


def database_bytes(node: Node, checkpoint: bool) -> int:
    """SQLite: the database file plus its WAL (after a truncating checkpoint if asked). PostgreSQL: the database."""
    engine = node.db.engine
    if engine.dialect.name == "sqlite":
        database = Path(str(engine.url.database))
        if checkpoint:
            with engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = database.with_name(database.name + "-wal")
        return database.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def count_rows(node: Node, table: str) -> int:
    with node.db.reading() as session:
        return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608


def fresh_node(home: Path, url: str) -> Node:
    settings = load_settings(env={}, overrides={"home": home, "database_url": url})
    init_node(settings, "Benchmark node", "VN")
    return open_node(load_settings(env={}, overrides={"home": home, "database_url": url}))


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Import one data set into a fresh node in this (fresh) process; return the figures as JSON-able values.

    ATT&CK: the objects are loaded first and checked in this process. Synthetic: the bundle file is streamed as
    ``accord intel import`` streams it, with its checker processes, counted in windows.
    """
    dataset, profile = args.worker, args.profile
    node = fresh_node(args.worker_home, args.worker_url)
    try:
        objects: Iterable[Any]
        if dataset == "attack":
            objects, workers, windows = load_bundle(args.data), 0, None
        else:
            size = args.worker_bundle.stat().st_size
            workers = args.workers if args.workers >= 0 else worker_count(node.settings.intel_import_workers, size)
            lead, label = pipeline_lead(workers), f"{node.db.engine.dialect.name:<10} synthetic"
            windows = Windows(stream_bundle(args.worker_bundle, NoBar()), window_size(args.synthetic), lead, label)
            objects = windows
        actor = operator_actor("bench")
        party = node.identity.add_party(actor, "Bench party", "law_enforcement", "VN")
        empty_bytes = database_bytes(node, checkpoint=True)
        gc.collect()
        rss_before = reset_peak_rss()

        def run() -> Any:
            return node.intel.import_objects(actor, objects, owner=party.id, source=f"bench {dataset}", workers=workers)

        memory = TreeMemory()
        with memory:
            if profile:
                profiler = cProfile.Profile()
                profiler.enable()
                report, seconds = timed(run)
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(profile * 2)
            else:
                report, seconds = timed(run)
            ended = time.perf_counter()
            memory.sample()
        peak_rss = peak_rss_mib()
        figures: dict[str, Any] = {
            "objects": report.total,
            "seconds": seconds,
            "workers": workers,
            "failed": len(report.failures),
            "first_failures": report.failures[:3],
            "stored": len(report.successes) - report.duplicates,
            "rss_before_mib": rss_before,
            "peak_rss_mib": peak_rss,
            "checker_peaks_mib": sorted(kib / 1024 for kib in memory.checker_peaks_kib.values()),
            "tree_peak_mib": max(memory.total_peak_kib / 1024, peak_rss),
            "db_bytes": database_bytes(node, checkpoint=False),
            "db_bytes_compact": database_bytes(node, checkpoint=True),
            "empty_bytes": empty_bytes,
            "observables": count_rows(node, "observables"),
            "postings": count_rows(node, "observable_postings"),
        }
        if windows is not None:
            figures["window"] = windows.every
            figures["windows"] = window_rates(windows.marks, report.total, ended, windows.every, windows.lead)
        if dataset == "attack" and not profile:
            again, seconds = timed(run)
            figures["reimport_seconds"] = seconds
            figures["reimport_duplicates"] = again.duplicates
        return figures
    finally:
        node.close()


def run_worker(
    args: argparse.Namespace, backend: str, dataset: str, url: str, bundle: Path | None = None, profile: int = 0
) -> dict[str, Any]:
    """Run :func:`worker` in a child process; its last line of output is the JSON of the figures."""
    with tempfile.TemporaryDirectory(prefix="accord-bench-node-") as home:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            dataset,
            "--worker-url",
            url,
            "--worker-home",
            home,
            "--data",
            str(args.data),
            "--synthetic",
            str(args.synthetic),
            "--profile",
            str(profile),
            "--workers",
            str(args.workers),
        ]
        if bundle is not None:
            command += ["--worker-bundle", str(bundle)]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=WORKER_TIMEOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{backend} {dataset} import failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["failed"]:
        raise RuntimeError(
            f"{backend} {dataset}: {figures['failed']} objects refused, e.g. {figures['first_failures']}"
        )
    if dataset == "synthetic" and figures["objects"] != args.synthetic:
        raise RuntimeError(f"{backend} synthetic: imported {figures['objects']} objects, not {args.synthetic}")
    return figures


# ---------------------------------------------------------------------------------------------------------------
# Reporting.


def machine(backends: Sequence[str], server: str) -> list[tuple[str, str]]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rows = [
        ("date (UTC)", f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"),
        ("python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("platform", platform.platform()),
        ("cpu_count", str(os.cpu_count())),
        ("memory", f"{memory:.1f} GiB"),
        (
            "libraries",
            f"stix2 {version('stix2')}, stix2-patterns {version('stix2-patterns')}, "
            f"SQLAlchemy {version('sqlalchemy')}, psycopg {version('psycopg')}",
        ),
    ]
    if "sqlite" in backends:
        rows.append(("sqlite", sqlite3.sqlite_version))
    if "postgresql" in backends:
        engine = create_engine(server)
        try:
            with engine.connect() as connection:
                rows.append(("postgresql", str(connection.exec_driver_sql("SHOW server_version").scalar_one())))
        finally:
            engine.dispose()
    return rows


def print_report(
    rates: Sequence[Rate], imports: dict[tuple[str, str], dict[str, Any]], info: Sequence[tuple[str, str]]
) -> None:
    # What the ratio columns compare with: ATT&CK's json.load and stix2.parse, or with --skip-attack the CLI's
    # reader over the synthetic bundle and stix2.parse over the synthetic sample.
    floor_rate = next((r for r in rates if r.step == "json.load"), None) or next(
        r for r in rates if r.step.startswith("ijson stream")
    )
    peer_rate = next((r for r in rates if r.step == "stix2.parse"), None) or next(
        r for r in rates if r.step.startswith("stix2.parse")
    )
    floor, peer = floor_rate.per_second, peer_rate.per_second
    floor_name, peer_name = floor_rate.step.split(",")[0], peer_rate.step.split(",")[0]
    print()
    print("Accord intelligence import benchmark")
    for label, value in info:
        print(f"  {label:<11} {value}")
    print()
    header = f"{'step':<36}  {'backend':<10}  {'objects':>9}  {'seconds':>7}  {'objects/s':>9}  "
    header += f"{'vs ' + peer_name:>14}  {'vs ' + floor_name:>13}"
    print(header)
    print("-" * len(header))
    for r in rates:
        print(
            f"{r.step:<36}  {r.backend:<10}  {r.objects:>9,}  {r.seconds:>7.2f}  {r.per_second:>9,.0f}  "
            f"{r.per_second / peer:>13.2f}x  {r.per_second / floor:>12.3f}x"
        )
    if floor_rate.step != "json.load":
        print(f"(ratios: to {peer_rate.step} and to {floor_rate.step})")
    print()
    header = f"{'import':<15}  {'backend':<10}  {'stored':>9}  {'obs.':>9}  {'postings':>9}  {'DB MiB':>8}  "
    header += f"{'bytes/object':>12}  {'workers':>7}  {'RSS before':>10}  {'peak RSS':>8}  {'checker':>7}  {'total':>6}"
    print(header)
    print("-" * len(header))
    for (backend, dataset), f in imports.items():
        per_object = (f["db_bytes_compact"] - f["empty_bytes"]) / max(1, f["stored"])
        checker = f"{max(f['checker_peaks_mib']):.0f}" if f["checker_peaks_mib"] else "-"
        print(
            f"{dataset:<15}  {backend:<10}  {f['stored']:>9,}  {f['observables']:>9,}  {f['postings']:>9,}  "
            f"{f['db_bytes'] / 2**20:>8.1f}  {per_object:>12,.0f}  {f['workers']:>7}  {f['rss_before_mib']:>10.0f}  "
            f"{f['peak_rss_mib']:>8.0f}  {checker:>7}  {f['tree_peak_mib']:>6.0f}"
        )
    print()
    print("DB MiB: SQLite file + WAL (PostgreSQL: pg_database_size) right after the import. bytes/object: growth over")
    print("the empty node (SQLite after a truncating WAL checkpoint), divided by the objects stored. workers: checker")
    print("processes (0: checked in the importing process). Memory in MiB. RSS before: the importing process before")
    print("the import (ATT&CK: holding the objects; synthetic: streaming them from the file, so small). peak RSS: its")
    print("peak during the import (VmHWM, reset just before the import). checker: the largest peak (VmHWM) of one")
    print("checker process. total: peak of the summed RSS of the importing process and all its children (checkers,")
    print(f"multiprocessing's resource tracker), sampled every {MEMORY_SAMPLE_SECONDS} s (pages of shared libraries")
    print("count once per process), and at least the importing process's own peak.")
    for (backend, dataset), f in imports.items():
        if "windows" not in f:
            continue
        rates_per_window = [n / s for n, s in f["windows"] if s > 0]
        starting = f"the first includes starting {f['workers']} checker processes, " if f["workers"] else ""
        print()
        print(
            f"{dataset}, {backend}: objects stored per second, per window of {f['window']:,} objects "
            f"({starting}the last ends when the import returned)"
        )
        line = "  "
        for rate in rates_per_window:
            if len(line) > 100:
                print(line.rstrip())
                line = "  "
            line += f"{rate:,.0f} "
        print(line.rstrip())
    print()
    full = [r for r in rates if r.step.startswith("full import") and "ATT&CK" in r.step]
    for r in full:
        met = "MET" if r.per_second >= GOAL else "NOT MET"
        print(
            f"goal {GOAL:,} objects/s with validation and indexing, {r.backend}: {met} "
            f"({r.per_second:,.0f}/s = {r.per_second / GOAL:.0%} of the goal; "
            f"{r.per_second / peer:.2f}x {peer_name} alone, {r.per_second / floor:.3f}x {floor_name})"
        )
    for (backend, dataset), f in imports.items():
        if "windows" not in f:
            continue
        overall = f["objects"] / f["seconds"]
        per_window = [n / s for n, s in f["windows"] if s > 0] or [overall]
        met = "MET" if min(per_window) >= GOAL else "NOT MET"
        later = f", {min(per_window[1:]):,.0f}/s after the first" if len(per_window) > 1 else ""
        print(
            f"goal {GOAL:,}/s sustained, {dataset} ({f['objects']:,} indicators, {f['workers']} checker processes), "
            f"{backend}: {met} (min window {min(per_window):,.0f}/s{later}; overall {overall:,.0f}/s)"
        )
    for (backend, _dataset), f in imports.items():
        if "windows" not in f:
            continue
        verdict = "MET" if f["tree_peak_mib"] * 2**20 <= GOAL_RSS_BYTES else "NOT MET"
        checkers = ", checked in it"
        if f["checker_peaks_mib"]:
            checkers = f", {f['workers']} checkers of at most {max(f['checker_peaks_mib']):,.0f} MiB each"
        if f["objects"] < GOAL_RSS_SET:
            verdict = f"not shown by {f['objects']:,} indicators ({verdict} at this size)"
        print(
            f"goal peak RSS <= {GOAL_RSS_BYTES / 1e9:.1f} GB ({GOAL_RSS_BYTES / 2**20:,.0f} MiB) importing "
            f"{GOAL_RSS_SET:,} indicators, {backend}: {verdict}: total {f['tree_peak_mib']:,.0f} MiB (importing "
            f"process {f['peak_rss_mib']:,.0f} MiB{checkers})"
        )


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="STIX 2.1 bundle (default: ATT&CK v18.1)")
    parser.add_argument("--synthetic", type=int, default=DEFAULT_SYNTHETIC, help="synthetic scam indicators")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated: sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER, help="server to create the scratch database on")
    parser.add_argument(
        "--profile", type=int, default=0, help="also profile the SQLite ATT&CK import (cProfile), print N top items"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=-1,
        help="checker processes for the synthetic import (default -1: as accord intel import, one per core for "
        "files of 8 MiB or more)",
    )
    parser.add_argument("--skip-attack", action="store_true", help="run the synthetic set only (no ATT&CK steps)")
    parser.add_argument("--worker", choices=["attack", "synthetic"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-bundle", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown or not args.backends:
        parser.error(f"--backends takes sqlite and/or postgresql, not {sorted(unknown) or 'nothing'}")
    if not 0 <= args.synthetic <= 1_000_000 or not 0 <= args.profile <= 200 or not -1 <= args.workers <= 64:
        parser.error("--synthetic must be 0..1,000,000, --profile 0..200 and --workers -1..64")
    if args.skip_attack and (not args.synthetic or args.profile):
        parser.error("--skip-attack needs --synthetic N > 0, and --profile profiles the ATT&CK import")
    if not args.worker and not args.skip_attack and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, so the scratch databases go too


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0

    rates = in_process_rates(None if args.skip_attack else args.data, args.synthetic)
    gc.collect()
    info = machine(args.backends, args.postgres_url)
    with tempfile.TemporaryDirectory(prefix="accord-bench-synthetic-") as directory:
        bundle: Path | None = None
        if args.synthetic:
            bundle = Path(directory) / f"synthetic-{args.synthetic}.json"
            size, seconds = timed(lambda: write_synthetic_bundle(bundle, args.synthetic))
            written = (
                f"{args.synthetic:,} indicators, {size / 2**20:,.1f} MiB ({size / args.synthetic:,.0f} bytes each)"
            )
            info.append(("synthetic", f"{written}, written in {seconds:.1f} s"))
            progress(f"synthetic bundle: {written}, written in {seconds:.1f} s")
            rates.append(stream_rate(bundle))

        datasets = ([] if args.skip_attack else [("attack", "ATT&CK")]) + (
            [("synthetic", "synthetic scam")] if args.synthetic else []
        )
        imports: dict[tuple[str, str], dict[str, Any]] = {}
        timeouts: list[str] = []
        for dataset, label in datasets:
            for backend in args.backends:
                try:
                    with scratch_database(backend, args.postgres_url) as url:
                        figures = run_worker(args, backend, dataset, url, bundle if dataset == "synthetic" else None)
                except subprocess.TimeoutExpired:  # report the other imports; this one is not a benchmark any more
                    timeouts.append(f"{backend} {label}")
                    progress(f"{backend:<10} full import {label:<15} stopped after {WORKER_TIMEOUT:,} s")
                    continue
                imports[(backend, label)] = figures
                rates.append(Rate(f"full import, {label}", backend, figures["objects"], figures["seconds"]))
                progress(
                    f"{backend:<10} full import {label:<15} {rates[-1].per_second:>8,.0f} objects/s "
                    f"({figures['workers']} checker processes)"
                )
                if "reimport_seconds" in figures:
                    if figures["reimport_duplicates"] != figures["objects"]:
                        raise RuntimeError(f"{backend}: re-import found {figures['reimport_duplicates']} duplicates")
                    rates.append(
                        Rate(
                            f"re-import, {label} (duplicates)", backend, figures["objects"], figures["reimport_seconds"]
                        )
                    )
                    progress(f"{backend:<10} re-import {label:<17} {rates[-1].per_second:>8,.0f} objects/s")
    print_report(rates, imports, info)
    for timeout in timeouts:
        print(f"{timeout}: the import did not finish within {WORKER_TIMEOUT:,} s and was stopped (no figures)")
    if args.profile:
        with scratch_database("sqlite", args.postgres_url) as url:
            run_worker(args, "sqlite", "attack", url, profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
