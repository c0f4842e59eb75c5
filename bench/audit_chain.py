"""Benchmark: the price of Accord's hash-chained audit log over a plain insert.

Every audit entry is appended through ``AuditLog.append``: lock the single head row, canonicalise the entry
(RFC 8785), hash it with its predecessor's hash (SHA-256), insert it and move the head. This script measures
that path against a baseline peer run in the same process, on the same data: the same rows inserted into an
un-chained table of the same shape (``audit_plain``: same columns and indexes, no hash, no head row). It also
times ``AuditLog.verify()`` over the whole log against a plain paged scan of the baseline table, and the
hashing alone (no database), so the figures say where the time goes.

Each backend gets a fresh database: SQLite in a temporary directory, PostgreSQL in a database created for the
run and dropped at the end (also on error or interrupt).

    .venv/bin/python bench/audit_chain.py [--entries N] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    insert,
    select,
)

from accord.audit.chain import entry_body, entry_hash
from accord.audit.models import GENESIS_HASH
from accord.audit.service import VERIFY_BATCH, AuditActor, AuditLog, Disclosure, Outcome
from accord.canonical_json import canonical_bytes
from accord.clock import SystemClock
from accord.store import migrate
from accord.store.base import UtcDateTime
from accord.store.engine import Database, make_engine
from scratch import scratch_database  # bench/scratch.py: the scripts run from bench/

DEFAULT_ENTRIES = 20_000
DEFAULT_BATCH = 500
DEFAULT_BACKENDS = "sqlite,postgresql"
POSTGRES_SERVER = os.environ.get("ACCORD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SEED = 20261123
T = TypeVar("T")
U = TypeVar("U")
PLACEHOLDER_HASH = "f" * 64  # the plain table stores a hash-sized string but computes nothing

ACTIONS = ["case.view", "case.create", "report.submit", "audit.read", "login.denied", "token.create", "party.add"]
OBJECT_TYPES = ["case", "report", "audit", "user", "party", "token"]
PURPOSES = [
    "Investigation of online fraud reported by Demo Bank VN",
    "Mutual legal assistance request from PNP Anti-Cybercrime Group",
    "Routine review of access to personal data",
]
LEGAL_BASES = ["Law on Cybersecurity, art. 26", "Budapest Convention, art. 29", "Data Protection Decree, art. 17"]

# ---------------------------------------------------------------------------------------------------------------
# The workload: deterministic entries, shared by the chained log and the plain baseline.


@dataclass(frozen=True)
class Entry:
    actor: AuditActor
    action: str
    object_type: str | None
    object_id: str | None
    disclosure: Disclosure | None
    outcome: Outcome
    details: dict[str, Any]


def make_entries(count: int, seed: int) -> list[Entry]:
    rng = random.Random(seed)
    actors = [
        AuditActor(id=uuid.UUID(int=rng.getrandbits(128)).hex, name=f"user{i:02d}", party_id=None) for i in range(20)
    ]
    actors = [AuditActor(a.id, a.name, uuid.UUID(int=rng.getrandbits(128)).hex) for a in actors]
    entries: list[Entry] = []
    for i in range(count):
        action = rng.choice(ACTIONS)
        disclosed = action in {"case.view", "audit.read"}
        entries.append(
            Entry(
                actor=rng.choice(actors),
                action=action,
                object_type=rng.choice(OBJECT_TYPES),
                object_id=uuid.UUID(int=rng.getrandbits(128)).hex,
                disclosure=Disclosure(rng.choice(PURPOSES), rng.choice(LEGAL_BASES)) if disclosed else None,
                outcome=Outcome.DENIED if action == "login.denied" else Outcome.OK,
                details={
                    "n": i,
                    "client": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
                    "fields": ["name", "iban"],
                },
            )
        )
    return entries


def plain_row(seq: int, entry: Entry, at: datetime) -> dict[str, Any]:
    """The row a plain, un-chained log would store for ``entry``: same columns, no canonicalisation, no hash."""
    disclosure = entry.disclosure or Disclosure()
    return {
        "seq": seq,
        "at": at,
        "actor_id": entry.actor.id,
        "actor": entry.actor.name,
        "party_id": entry.actor.party_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "purpose": disclosure.purpose,
        "legal_basis": disclosure.legal_basis,
        "outcome": str(entry.outcome),
        "details": json.dumps(entry.details),
        "prev_hash": PLACEHOLDER_HASH,
        "entry_hash": PLACEHOLDER_HASH,
    }


def batches(items: Sequence[Entry], size: int) -> Iterator[Sequence[Entry]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------------------------------
# The plain baseline table: the shape of audit_entries (migration 0001), without the chain.

plain_metadata = MetaData()
audit_plain = Table(
    "audit_plain",
    plain_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor_id", String(64), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("party_id", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("object_type", String(64), nullable=True),
    Column("object_id", String(200), nullable=True),
    Column("purpose", String(500), nullable=True),
    Column("legal_basis", String(500), nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Index("ix_audit_plain_action", "action"),
    Index("ix_audit_plain_at", "at"),
)


class PlainLog:
    """Inserts into ``audit_plain``; numbers rows itself so that no sequence or lock is involved."""

    def __init__(self, db: Database, clock: SystemClock) -> None:
        self._db = db
        self._clock = clock
        self._seq = 0

    def _next(self, entry: Entry) -> dict[str, Any]:
        self._seq += 1
        return plain_row(self._seq, entry, self._clock.now())

    def insert_each(self, entries: Sequence[Entry]) -> None:
        """One INSERT statement per entry, all in one transaction (the chain's statement pattern, minus the head)."""
        with self._db.writing() as session:
            for entry in entries:
                session.execute(insert(audit_plain), self._next(entry))

    def insert_many(self, entries: Sequence[Entry]) -> None:
        """One executemany for the whole batch: the cheapest way to store the rows."""
        with self._db.writing() as session:
            session.execute(insert(audit_plain), [self._next(entry) for entry in entries])

    def insert_own_transaction(self, entry: Entry) -> None:
        with self._db.writing() as session:
            session.execute(insert(audit_plain), self._next(entry))

    def scan(self) -> int:
        """Read every row oldest first in VERIFY_BATCH pages, as verify does, but check nothing."""
        with self._db.reading() as session:
            total = int(session.execute(select(func.count()).select_from(audit_plain)).scalar_one())
            seen, last = 0, 0
            for _page in range(total // VERIFY_BATCH + 2):
                rows = session.execute(
                    select(audit_plain).where(audit_plain.c.seq > last).order_by(audit_plain.c.seq).limit(VERIFY_BATCH)
                ).all()
                if not rows:
                    break
                seen, last = seen + len(rows), rows[-1].seq
        return seen


def append_batch(log: AuditLog, db: Database, entries: Sequence[Entry]) -> None:
    with db.writing() as session:
        for entry in entries:
            log.append(
                session,
                entry.actor,
                entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                disclosure=entry.disclosure,
                outcome=entry.outcome,
                details=entry.details,
            )


def record_one(log: AuditLog, entry: Entry) -> None:
    log.record(
        entry.actor,
        entry.action,
        object_type=entry.object_type,
        object_id=entry.object_id,
        disclosure=entry.disclosure,
        outcome=entry.outcome,
        details=entry.details,
    )


def hash_only(entries: Sequence[Entry], clock: SystemClock) -> None:
    """The CPU work append does per entry besides SQL: canonical details, the entry body, its SHA-256."""
    prev = GENESIS_HASH
    for seq, entry in enumerate(entries, start=1):
        disclosure = entry.disclosure or Disclosure()
        body = entry_body(
            seq=seq,
            at=clock.now(),
            actor_id=entry.actor.id,
            actor=entry.actor.name,
            party_id=entry.actor.party_id,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            purpose=disclosure.purpose,
            legal_basis=disclosure.legal_basis,
            outcome=str(entry.outcome),
            details=canonical_bytes(entry.details).decode(),
            prev_hash=prev,
        )
        prev = entry_hash(body)


# ---------------------------------------------------------------------------------------------------------------
# Measuring and reporting.


@dataclass(frozen=True)
class Result:
    backend: str
    operation: str
    entries: int
    seconds: float
    baseline: str | None = None  # the operation this one is compared with

    @property
    def rate(self) -> float:
        return self.entries / self.seconds if self.seconds > 0 else float("inf")


def timed(work: Callable[[], T]) -> tuple[T, float]:
    start = time.perf_counter()
    value = work()
    return value, time.perf_counter() - start


def each(step: Callable[[U], object], items: Iterable[U]) -> Callable[[], None]:
    """A bounded loop over ``items`` to hand to :func:`timed`."""

    def run() -> None:
        for item in items:
            step(item)

    return run


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def run_backend(backend: str, url: str, entries: Sequence[Entry], singles: Sequence[Entry], batch: int) -> list[Result]:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        plain_metadata.create_all(engine)
        db = Database(engine)
        clock = SystemClock()
        log, plain = AuditLog(db, clock), PlainLog(db, clock)
        n, m = len(entries), len(singles)

        # Warm up connections and statement caches on both sides; these entries stay in the log and get verified.
        warm = entries[: min(100, n)]
        append_batch(log, db, warm)
        plain.insert_many(warm)

        results: list[Result] = []

        def add(operation: str, count: int, seconds: float, baseline: str | None = None) -> None:
            results.append(Result(backend, operation, count, seconds, baseline))
            progress(f"{backend:<10} {operation:<36} {results[-1].rate:>10,.0f} entries/s")

        _, seconds = timed(each(plain.insert_each, batches(entries, batch)))
        add("plain insert, 1 stmt/entry", n, seconds)
        _, seconds = timed(each(plain.insert_many, batches(entries, batch)))
        add("plain insert, executemany", n, seconds)
        _, seconds = timed(each(lambda chunk: append_batch(log, db, chunk), batches(entries, batch)))
        add("chained append", n, seconds, "plain insert, 1 stmt/entry")
        _, seconds = timed(each(plain.insert_own_transaction, singles))
        add("plain insert, 1 tx/entry", m, seconds)
        _, seconds = timed(each(lambda entry: record_one(log, entry), singles))
        add("chained record, 1 tx/entry", m, seconds, "plain insert, 1 tx/entry")
        scanned, seconds = timed(plain.scan)
        add("plain scan", scanned, seconds)
        report, seconds = timed(log.verify)
        add("verify", report.entries, seconds, "plain scan")
        expected = len(warm) + n + m
        if report.entries != expected:
            raise RuntimeError(f"verify saw {report.entries} entries, expected {expected}")
        return results
    finally:
        engine.dispose()


def server_versions(backends: Sequence[str], server: str) -> dict[str, str]:
    versions: dict[str, str] = {}
    if "sqlite" in backends:
        versions["sqlite"] = sqlite3.sqlite_version
    if "postgresql" in backends:
        engine = create_engine(server)
        try:
            with engine.connect() as connection:
                versions["postgresql"] = str(connection.exec_driver_sql("SHOW server_version").scalar_one())
        finally:
            engine.dispose()
    return versions


def print_report(results: Sequence[Result], args: argparse.Namespace, versions: dict[str, str]) -> None:
    print()
    print("Accord audit chain benchmark")
    print(f"  date (UTC)  {datetime.now(UTC):%Y-%m-%d %H:%M:%S}")
    print(f"  python      {platform.python_version()} ({platform.python_implementation()})")
    print(f"  platform    {platform.platform()}")
    print(f"  cpu_count   {os.cpu_count()}")
    for backend, version in versions.items():
        print(f"  {backend:<11} {version}")
    print(f"  entries     {args.entries} appended in batches of {args.batch}; {args.singles} one transaction each")
    print()
    rates = {(r.backend, r.operation): r.rate for r in results}
    header = f"{'backend':<10}  {'operation':<28}  {'entries':>8}  {'seconds':>8}  {'entries/s':>10}  vs baseline"
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = ""
        if r.baseline is not None:
            base = rates[(r.backend, r.baseline)]
            ratio = f"{r.rate / base:.2f}x of {r.baseline} ({base / r.rate:.1f}x slower)"
        print(f"{r.backend:<10}  {r.operation:<28}  {r.entries:>8}  {r.seconds:>8.2f}  {r.rate:>10,.0f}  {ratio}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=DEFAULT_ENTRIES, help="entries appended in batches")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="entries per transaction")
    parser.add_argument("--singles", type=int, help="entries appended one transaction each (default: entries/10)")
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated: sqlite,postgresql")
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER, help="server to create the scratch database on")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.singles is None:
        args.singles = max(1, args.entries // 10)
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown or not args.backends:
        parser.error(f"--backends takes sqlite and/or postgresql, not {sorted(unknown) or 'nothing'}")
    if not 1 <= args.entries <= 10_000_000 or not 1 <= args.batch or not 1 <= args.singles <= 1_000_000:
        parser.error("--entries, --batch and --singles must be positive (entries at most 10,000,000)")
    return args


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks, so the scratch databases go too


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    workload = make_entries(args.entries + args.singles, SEED)
    entries, singles = workload[: args.entries], workload[args.entries :]

    _, seconds = timed(lambda: hash_only(entries, SystemClock()))
    hash_results = [Result("(no db)", "hash only (no database)", len(entries), seconds)]
    progress(f"{'(no db)':<10} {hash_results[0].operation:<36} {hash_results[0].rate:>10,.0f} entries/s")
    results: list[Result] = []
    for backend in args.backends:
        scratch = scratch_database(backend, args.postgres_url)
        with scratch as url:
            results.extend(run_backend(backend, url, entries, singles, args.batch))
    print_report(hash_results + results, args, server_versions(args.backends, args.postgres_url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
