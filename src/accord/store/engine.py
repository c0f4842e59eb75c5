"""Engines and transactions. Every SQLite/PostgreSQL difference lives here (STYLE: storage)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from accord.errors import AccordError
from accord.store.writers import WriterQueue

logger = logging.getLogger(__name__)

# How long a SQLite writer waits for another writer before giving up (milliseconds).
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Page cache per connection (SQLite default: 2 MiB). Index inserts into a database of gigabytes miss a small cache
# on every batch; 64 MiB kept a bulk import of 1,000,000 indicators from slowing as the file grew.
SQLITE_CACHE_KIB = 64 * 1024
# A bulk import's connection (Database.tune_for_bulk): the indexes of a million-indicator store outgrow 64 MiB and
# the last batches of a 1,000,000 import slowed to 4,909/s. Within the 1.5 GB budget of such an import.
SQLITE_BULK_CACHE_KIB = 256 * 1024
# Reads through a memory map share the operating system's page cache between connections and server processes,
# instead of each connection filling its own cache from cold (a bulk lookup at 1,000,000 values: 387 -> 305 ms).
# Servers and lookups only (Database.tune_for_serving): mapped pages count in a process's RSS, and a bulk import
# that maps the whole file went from 836 MiB to 1,866 MiB peak RSS.
SQLITE_MMAP_BYTES = 4 * 1024**3
# Connections kept open. SQLAlchemy's default (5, overflow 10) closes every connection beyond five when it is
# returned: under a few concurrent requests each one then opened a new connection (PRAGMAs, a cold cache), which
# was the largest single cost of a small API call. Sized above the web server's request threads (web.app).
SQLITE_POOL_SIZE = 24
SQLITE_CHECKPOINT_SECONDS = 1.0  # Database.tune_for_serving
# PostgreSQL likewise; a new PostgreSQL connection costs milliseconds. Two server processes stay far below the
# server's default max_connections (100).
POSTGRES_POOL_SIZE = 24
SUPPORTED_DRIVERS = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgresql+psycopg": "postgresql"}


class UnsupportedDatabase(AccordError):
    """The database URL names a database or driver Accord does not run on."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = _without_password(url)
        self.reason = reason
        super().__init__(f"database URL {self.url!r}: {reason}")


class DatabaseUnavailable(AccordError):
    """The database could not be reached (server down, wrong host, bad credentials)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = _without_password(url)
        self.reason = reason
        super().__init__(f"database {self.url} unreachable: {reason}")


def _without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


def normalise_url(url: str) -> str:
    """Map the plain ``postgresql://`` form onto the psycopg 3 driver we ship; refuse anything else."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise UnsupportedDatabase(url, "not a database URL") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise UnsupportedDatabase(url, "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
    return parsed.render_as_string(hide_password=False)


# How the SQLite transaction that begins next in this thread starts: DEFERRED (a read), or IMMEDIATE while
# Database.writing begins its session, so that a write transaction takes the write lock at BEGIN instead of
# failing half-way when another writer got there first.
_SQLITE_BEGIN: ContextVar[str] = ContextVar("accord_sqlite_begin", default="DEFERRED")


def sqlite_begin_mode() -> str:
    """The mode the SQLite transaction beginning now in this thread gets (for statement counters: the dialect
    sends BEGIN itself, so it is not among the statements SQLAlchemy's events see)."""
    return _SQLITE_BEGIN.get()


def _configure_sqlite(engine: Engine) -> None:
    # The pysqlite transaction fix from SQLAlchemy's SQLite dialect docs, first half: pysqlite must not emit BEGIN
    # itself (isolation_level None); do_begin below emits it, IMMEDIATE for a write.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL: a crash loses no committed transaction's integrity
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        # Checkpoint every ~40 MB of WAL instead of 4 MB: index pages that every batch of a bulk import touches
        # are copied back once per checkpoint, not once per few batches (a third less commit time measured).
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    # Second half: the docs emit BEGIN from a "begin" event; it is done in the dialect's do_begin instead, because
    # a connection event of any kind makes every statement of the engine go through SQLAlchemy's event dispatch,
    # which cost a transaction of three SELECTs 144 instead of 106 µs.
    def do_begin(dbapi_connection: Any) -> None:
        dbapi_connection.execute(f"BEGIN {_SQLITE_BEGIN.get()}")

    setattr(engine.dialect, "do_begin", do_begin)  # noqa: B010 (mypy refuses assigning to a method)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with our dialect settings applied."""
    url = normalise_url(url)
    dialect = SUPPORTED_DRIVERS[make_url(url).drivername]
    if dialect == "sqlite":
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a logged failure must not carry password hashes or personal data into server logs.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            hide_parameters=True,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=SQLITE_POOL_SIZE,
            # Last in, first out: each SQLite connection has its own page cache, so the one used last (warm) is
            # the one to use next; first in, first out handed each call the coldest (the checkpoint thread's
            # connection joining the rotation made a 10,000-value lookup 10 % slower).
            pool_use_lifo=True,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_POOL_SIZE, hide_parameters=True
    )


class Database:
    """The unit of work: ``reading()`` and ``writing()`` each give one transaction in a Session."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False)
        # On SQLite a write transaction starts with BEGIN IMMEDIATE (writing()), so concurrent writers queue on
        # the busy timeout rather than failing with "database is locked" at their first write.
        self._write = sessionmaker(bind=engine, expire_on_commit=False)
        # One consistent view for long reads (verifying a chain). A SQLite read transaction already is one.
        snapshot_engine = (
            engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="REPEATABLE READ")
        )
        self._snapshot = sessionmaker(bind=snapshot_engine, expire_on_commit=False)
        # SQLite has one writer at a time: writers queue in writers.WriterQueue, not in SQLite's busy handler.
        self._writers: WriterQueue | None = None
        if self.dialect == "sqlite":
            database = engine.url.database
            on_disk = bool(database) and database != ":memory:" and not str(database).startswith("file:")
            lock_file = Path(f"{database}.writer-lock") if on_disk else None
            self._writers = WriterQueue(lock_file, SQLITE_BUSY_TIMEOUT_MS / 1000)
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self.checkpoints = 0  # background checkpoints completed (tune_for_serving)

    def tune_for_serving(self) -> None:
        """SQLite, for a server or a lookup: reads through a memory map (``SQLITE_MMAP_BYTES``), and the
        write-ahead log copied back into the database from a thread of its own every
        ``SQLITE_CHECKPOINT_SECONDS`` instead of inside whichever commit crosses ``wal_autocheckpoint``.

        That commit's request otherwise waits for a checkpoint (tens of milliseconds, with an fsync) while
        holding the write queue, which was the long tail of small API writes. A PASSIVE checkpoint blocks neither
        readers nor writers. No-op on PostgreSQL.
        """
        if self.dialect != "sqlite" or self._checkpointer is not None:
            return

        def serving_pragmas(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")
            dbapi_connection.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")

        event.listen(self.engine, "connect", serving_pragmas)  # runs after _configure_sqlite's own PRAGMAs
        self.engine.dispose()  # connections opened before this keep the defaults: drop them

        def checkpoints() -> None:
            while not self._stop_checkpoints.wait(SQLITE_CHECKPOINT_SECONDS):
                try:
                    # The DBAPI connection (autocommit): SQLAlchemy's would BEGIN first, and a checkpoint cannot
                    # run inside a transaction.
                    raw = self.engine.raw_connection()
                    try:
                        raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # type: ignore[union-attr]
                    finally:
                        raw.close()
                    self.checkpoints += 1
                except Exception:  # a failed checkpoint is retried at the next tick; the WAL stays valid
                    logger.warning("SQLite checkpoint failed", exc_info=True)

        self._checkpointer = threading.Thread(target=checkpoints, name="accord-sqlite-checkpoint", daemon=True)
        self._checkpointer.start()

    def tune_for_bulk(self, session: Session) -> None:
        """Settings for one batch of a bulk import (the CLI's, of large files, with checker processes), not for a
        server's small imports.

        SQLite: ``session``'s connection gets the page cache of a bulk import (``SQLITE_BULK_CACHE_KIB``), which it
        keeps while it stays in the pool.

        PostgreSQL: the batch commits without waiting for its WAL flush (``SET LOCAL synchronous_commit = off``,
        this transaction only). A crash can lose the last batches committed so (never half of one: the server
        recovers to a consistent state), and the import then reports failure; run again, the stored objects are
        duplicates, which are no-ops. The import's own audit entry commits synchronously, which flushes the WAL
        of every batch before it, so an import that returned is durable. What it saves is a flush per batch.
        """
        if self.dialect == "sqlite":
            session.connection().exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_BULK_CACHE_KIB}")
        elif self.dialect == "postgresql":
            session.connection().exec_driver_sql("SET LOCAL synchronous_commit = off")

    def sessionmakers(self) -> tuple[sessionmaker[Session], ...]:
        """Every session factory of this database (for ORM event hooks such as identity.epoch's)."""
        return (self._read, self._write, self._snapshot)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read transaction that sees one consistent state of the database from start to end."""
        with self._snapshot() as session, session.begin():
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """Commit on success, roll back on any error: nothing is ever half-written."""
        with self._writers.turn() if self._writers is not None else nullcontext():
            with self._write() as session, session.begin():
                if self.dialect == "sqlite":
                    mode = _SQLITE_BEGIN.set("IMMEDIATE")
                    try:
                        session.connection()  # begins now, so that no read begun in between takes the mode
                    finally:
                        _SQLITE_BEGIN.reset(mode)
                yield session

    @contextmanager
    def writing_connection(self) -> Iterator[Connection]:
        """``writing()`` on a Core connection, without a Session: for writers of Core statements only, such as
        the audit log's group commit, to whom a Session's setup and teardown cost more than their statements."""
        with self._writers.turn() if self._writers is not None else nullcontext(), self.engine.connect() as connection:
            mode = _SQLITE_BEGIN.set("IMMEDIATE") if self.dialect == "sqlite" else None
            try:
                transaction = connection.begin()  # BEGIN IMMEDIATE on SQLite, sent now
            finally:
                if mode is not None:
                    _SQLITE_BEGIN.reset(mode)
            with transaction:
                yield connection

    def dispose(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join()
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()
