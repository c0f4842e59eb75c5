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
6. the full import of N synthetic scam indicators (``--synthetic N``) whose patterns hold a Vietnamese phone
   number, a German IBAN and an IPv4 address, with the database bytes per indicator.

Each import runs in a fresh subprocess (so its peak RSS is its own) against a fresh node: SQLite in a temporary
directory, PostgreSQL in a database created for the run and dropped at the end (also on error or interrupt).

    .venv/bin/python bench/intel_import.py [--data FILE] [--synthetic N] [--backends sqlite,postgresql] [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
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
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import schwifty
import stix2
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from accord.config import load_settings
from accord.identity.actor import operator_actor
from accord.intel.errors import InvalidStix
from accord.intel.validate import check_object
from accord.node import Node, init_node, open_node

DEFAULT_DATA = Path("/work/shared/data/enterprise-attack-18.1-stix21.json")
DEFAULT_SYNTHETIC = 20_000
DEFAULT_BACKENDS = "sqlite,postgresql"
POSTGRES_SERVER = os.environ.get("ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
VALIDATION_SAMPLE = 2_000  # synthetic indicators validated without a database (the first ones of the set)
GOAL = 5_000  # objects/s with validation and indexing (the target)
WORKER_TIMEOUT = 1_800  # seconds; one import that takes longer than this is not a benchmark any more
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


def synthetic_indicators(count: int) -> list[dict[str, Any]]:
    """``count`` scam indicators, each naming a caller's phone, a mule account and a landing-page host.

    Indicator n holds phone +8491 followed by n (unique), the IBAN of account n // 2 (two reports per mule
    account) and the IPv4 address number n // 4 from 11.0.0.0 (four reports per host), so the index gets
    1.75 observables and 3 postings per indicator.
    """
    indicators: list[dict[str, Any]] = []
    for n in range(count):
        phone = f"+8491{n % 10_000_000:07d}"
        iban = str(schwifty.IBAN.generate("DE", bank_code="37040044", account_code=str(n // 2)))
        host = str(ipaddress.IPv4Address(FIRST_IPV4 + n // 4))
        stamp = datetime.fromtimestamp(SYNTHETIC_TIME.timestamp() + n, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        indicators.append(
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": f"indicator--{uuid.uuid5(SYNTHETIC_NAMESPACE, f'indicator/{n}')}",
                "created": stamp,
                "modified": stamp,
                "name": f"Investment scam report {n}",
                "description": "Victim was called, sent to a trading site and paid into a mule account.",
                "indicator_types": ["malicious-activity"],
                "pattern": (
                    f"[phone-number:value = '{phone}'] OR [bank-account:iban = '{iban}'] "
                    f"OR [ipv4-addr:value = '{host}']"
                ),
                "pattern_type": "stix",
                "valid_from": stamp,
            }
        )
    return indicators


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


def in_process_rates(data: Path, synthetic: int) -> list[Rate]:
    """The floor and the peers, in this process: json.load, then validation of the bundle and the scam set."""
    data.read_bytes()  # warm the page cache, so json.load measures parsing, not the disk
    objects, seconds = timed(lambda: load_bundle(data))
    rates = [Rate("json.load", "(no db)", len(objects), seconds)]
    progress(f"{'json.load':<36} {rates[-1].per_second:>8,.0f} objects/s")
    rates += validation_rates(objects, "")
    if synthetic:
        # A sample, not all N: stix2's pattern validation makes these slow, and the imports below cover all N.
        rates += validation_rates(synthetic_indicators(min(synthetic, VALIDATION_SAMPLE)), ", synthetic scam")
    return rates


def _proc_status_mib(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        return None
    return None


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


def worker(dataset: str, url: str, home: Path, data: Path, synthetic: int, profile: int) -> dict[str, Any]:
    """Import one data set into a fresh node in this (fresh) process; return the figures as JSON-able values."""
    objects = load_bundle(data) if dataset == "attack" else synthetic_indicators(synthetic)
    node = fresh_node(home, url)
    try:
        actor = operator_actor("bench")
        party = node.identity.add_party(actor, "Bench party", "law_enforcement", "VN")
        empty_bytes = database_bytes(node, checkpoint=True)
        gc.collect()
        rss_before = reset_peak_rss()

        def run() -> Any:
            return node.intel.import_objects(actor, objects, owner=party.id, source=f"bench {dataset}")

        if profile:
            profiler = cProfile.Profile()
            profiler.enable()
            report, seconds = timed(run)
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(profile * 2)
        else:
            report, seconds = timed(run)
        figures: dict[str, Any] = {
            "objects": len(objects),
            "seconds": seconds,
            "failed": len(report.failures),
            "first_failures": report.failures[:3],
            "stored": len(report.successes) - report.duplicates,
            "rss_before_mib": rss_before,
            "peak_rss_mib": peak_rss_mib(),
            "db_bytes": database_bytes(node, checkpoint=False),
            "db_bytes_compact": database_bytes(node, checkpoint=True),
            "empty_bytes": empty_bytes,
            "observables": count_rows(node, "observables"),
            "postings": count_rows(node, "observable_postings"),
        }
        if dataset == "attack" and not profile:
            again, seconds = timed(run)
            figures["reimport_seconds"] = seconds
            figures["reimport_duplicates"] = again.duplicates
        return figures
    finally:
        node.close()


def run_worker(args: argparse.Namespace, backend: str, dataset: str, url: str, profile: int = 0) -> dict[str, Any]:
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
        ]
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=WORKER_TIMEOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{backend} {dataset} import failed (exit {done.returncode})")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["failed"]:
        raise RuntimeError(
            f"{backend} {dataset}: {figures['failed']} objects refused, e.g. {figures['first_failures']}"
        )
    return figures


@contextmanager
def scratch_database(backend: str, server: str) -> Iterator[str]:
    """A fresh, empty database URL for one import: a temporary SQLite file, or a PostgreSQL database."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="accord-bench-") as directory:
            yield f"sqlite:///{Path(directory) / 'accord.db'}"
        return
    name = f"accord_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


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
    floor = next(r.per_second for r in rates if r.step == "json.load")
    peer = next(r.per_second for r in rates if r.step == "stix2.parse")  # on the bundle
    print()
    print("Accord intelligence import benchmark")
    for label, value in info:
        print(f"  {label:<11} {value}")
    print()
    header = (
        f"{'step':<36}  {'backend':<10}  {'objects':>7}  {'seconds':>7}  {'objects/s':>9}  {'vs stix2.parse':>14}  "
    )
    header += f"{'vs json.load':>12}"
    print(header)
    print("-" * len(header))
    for r in rates:
        print(
            f"{r.step:<36}  {r.backend:<10}  {r.objects:>7,}  {r.seconds:>7.2f}  {r.per_second:>9,.0f}  "
            f"{r.per_second / peer:>13.2f}x  {r.per_second / floor:>11.3f}x"
        )
    print()
    header = f"{'import':<22}  {'backend':<10}  {'stored':>7}  {'obs.':>6}  {'postings':>8}  {'DB MiB':>7}  "
    header += f"{'bytes/object':>12}  {'RSS before MiB':>14}  {'peak RSS MiB':>12}"
    print(header)
    print("-" * len(header))
    for (backend, dataset), f in imports.items():
        per_object = (f["db_bytes_compact"] - f["empty_bytes"]) / max(1, f["stored"])
        print(
            f"{dataset:<22}  {backend:<10}  {f['stored']:>7,}  {f['observables']:>6,}  {f['postings']:>8,}  "
            f"{f['db_bytes'] / 2**20:>7.1f}  {per_object:>12,.0f}  {f['rss_before_mib']:>14.0f}  "
            f"{f['peak_rss_mib']:>12.0f}"
        )
    print()
    print("DB MiB: SQLite file + WAL (PostgreSQL: pg_database_size) right after the import. bytes/object: growth over")
    print("the empty node (SQLite after a truncating WAL checkpoint), divided by the objects stored.")
    print("RSS before: the importing process's RSS holding the objects, before importing; peak RSS: its peak during")
    print("the import (VmHWM, reset just before the import).")
    print()
    full = [r for r in rates if r.step.startswith("full import") and "ATT&CK" in r.step]
    for r in full:
        met = "MET" if r.per_second >= GOAL else "NOT MET"
        print(
            f"goal {GOAL:,} objects/s with validation and indexing, {r.backend}: {met} "
            f"({r.per_second:,.0f}/s = {r.per_second / GOAL:.0%} of the goal; "
            f"{r.per_second / peer:.2f}x stix2.parse alone, {r.per_second / floor:.3f}x json.load)"
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
    parser.add_argument("--worker", choices=["attack", "synthetic"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown or not args.backends:
        parser.error(f"--backends takes sqlite and/or postgresql, not {sorted(unknown) or 'nothing'}")
    if not 0 <= args.synthetic <= 1_000_000 or not 0 <= args.profile <= 200:
        parser.error("--synthetic must be 0..1,000,000 and --profile 0..200")
    if not args.worker and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, so the scratch databases go too


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.worker:
        figures = worker(args.worker, args.worker_url, args.worker_home, args.data, args.synthetic, args.profile)
        print(json.dumps(figures))
        return 0

    rates = in_process_rates(args.data, args.synthetic)
    n = rates[0].objects
    gc.collect()

    datasets = [("attack", "ATT&CK")] + ([("synthetic", "synthetic scam")] if args.synthetic else [])
    imports: dict[tuple[str, str], dict[str, Any]] = {}
    for dataset, label in datasets:
        for backend in args.backends:
            with scratch_database(backend, args.postgres_url) as url:
                figures = run_worker(args, backend, dataset, url)
            imports[(backend, label)] = figures
            rates.append(Rate(f"full import, {label}", backend, figures["objects"], figures["seconds"]))
            progress(f"{backend:<10} full import {label:<15} {rates[-1].per_second:>8,.0f} objects/s")
            if "reimport_seconds" in figures:
                if figures["reimport_duplicates"] != figures["objects"]:
                    raise RuntimeError(f"{backend}: re-import found {figures['reimport_duplicates']} duplicates")
                rates.append(Rate(f"re-import, {label} (duplicates)", backend, n, figures["reimport_seconds"]))
                progress(f"{backend:<10} re-import {label:<17} {rates[-1].per_second:>8,.0f} objects/s")
    print_report(rates, imports, machine(args.backends, args.postgres_url))
    if args.profile:
        with scratch_database("sqlite", args.postgres_url) as url:
            run_worker(args, "sqlite", "attack", url, profile=args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
