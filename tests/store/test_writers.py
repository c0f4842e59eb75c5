"""SQLite writers queue across threads and processes (store.writers), and a server's checkpoints run in the
background (Database.tune_for_serving)."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from accord.audit.service import AuditActor
from accord.identity.actor import operator_actor
from accord.node import Node
from accord.store.engine import SQLITE_BULK_CACHE_KIB, SQLITE_CACHE_KIB
from accord.store.writers import WriterQueue
from tests.intel.conftest import indicator


def test_a_writer_waits_for_the_file_lock_of_another_process_and_starts_when_it_is_released(tmp_path: Path) -> None:
    lock_file = tmp_path / "db.writer-lock"
    queue = WriterQueue(lock_file, timeout_seconds=10)
    other = os.open(lock_file, os.O_RDWR)  # another open file description: what another process holds
    fcntl.flock(other, fcntl.LOCK_EX)
    entered = threading.Event()

    def writer() -> None:
        with queue.turn():
            entered.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert not entered.wait(0.2)  # queued behind the other process
    released = time.monotonic()
    fcntl.flock(other, fcntl.LOCK_UN)
    assert entered.wait(2)
    assert time.monotonic() - released < 0.1  # noticed at once, not after a busy handler's long sleep
    thread.join()
    # The queue let go of the file lock: the other process can take it again without waiting.
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)
    queue.close()


def test_past_the_timeout_a_writer_goes_ahead_unqueued(tmp_path: Path) -> None:
    lock_file = tmp_path / "db.writer-lock"
    queue = WriterQueue(lock_file, timeout_seconds=0.2)
    other = os.open(lock_file, os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    started = time.monotonic()
    with queue.turn():
        waited = time.monotonic() - started
    assert 0.2 <= waited < 2
    os.close(other)
    queue.close()


def test_threads_take_turns_and_a_nested_turn_does_not_deadlock(tmp_path: Path) -> None:
    queue = WriterQueue(tmp_path / "db.writer-lock", timeout_seconds=10)
    inside, overlaps = 0, 0
    guard = threading.Lock()

    def writer() -> None:
        nonlocal inside, overlaps
        for _ in range(50):
            with queue.turn():
                with guard:
                    inside += 1
                    overlaps += inside > 1
                with queue.turn():  # the same thread again (a nested write transaction)
                    pass
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == 0
    queue.close()


def test_a_server_database_checkpoints_in_the_background(node: Node) -> None:
    if node.db.dialect != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    with node.db.engine.connect() as connection:
        # Not mapped before: a bulk import's RSS would count every page of the file it touches.
        assert connection.execute(text("PRAGMA mmap_size")).scalar() == 0
    node.db.tune_for_serving()
    with node.db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == 0  # no commit checkpoints
        assert connection.execute(text("PRAGMA mmap_size")).scalar() > 0  # reads through a memory map
    for index in range(50):
        node.audit.record(AuditActor(id=None, name="lan", party_id=None), "test.event", object_id=str(index))
    deadline = time.monotonic() + 5
    while node.db.checkpoints == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert node.db.checkpoints >= 1


def test_only_bulk_imports_widen_the_page_cache(node: Node) -> None:
    if node.db.dialect != "sqlite":
        pytest.skip("SQLite's page cache")

    def cache_sizes() -> set[int]:
        with node.db.engine.connect() as connection:
            return {int(connection.execute(text("PRAGMA cache_size")).scalar_one())}

    operator = operator_actor("test")
    party = node.identity.add_party(operator, "A05 Cybercrime Unit", "law_enforcement", "VN")
    report = node.intel.import_objects(
        operator, [indicator(1, "[ipv4-addr:value = '198.51.100.7']")], owner=party.id, source="test"
    )
    assert report.total == 1
    assert cache_sizes() == {-SQLITE_CACHE_KIB}  # an API-sized import (no checker processes): a server's cache
    with node.db.writing() as session:
        node.db.tune_for_bulk(session)
        widened = session.connection().exec_driver_sql("PRAGMA cache_size").scalar_one()
    assert widened == -SQLITE_BULK_CACHE_KIB


def test_a_bulk_batch_on_postgresql_commits_without_waiting_for_its_flush_and_only_it(node: Node) -> None:
    if node.db.dialect != "postgresql":
        pytest.skip("PostgreSQL's synchronous_commit")
    with node.db.writing() as session:
        node.db.tune_for_bulk(session)
        assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar_one() == "off"
    for _ in range(3):  # whichever pooled connection comes next: the setting ended with its transaction
        with node.db.writing() as session:
            assert session.connection().exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"


def test_a_sqlite_write_transaction_holds_the_write_lock_from_its_start_and_a_read_never_takes_it(
    node: Node,
) -> None:
    """Database.writing begins with BEGIN IMMEDIATE, before its first statement; reads begin DEFERRED, also a read
    begun inside a write (it must not wait for the lock its own thread holds)."""
    if node.db.dialect != "sqlite":
        pytest.skip("SQLite's BEGIN modes")
    other = sqlite3.connect(str(node.db.engine.url.database), timeout=0, isolation_level=None)

    def other_can_write() -> bool:
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        other.execute("ROLLBACK")
        return True

    with node.db.reading() as session:
        session.execute(text("SELECT 1"))
        assert other_can_write()
    with node.db.snapshot() as session:
        session.execute(text("SELECT 1"))
        assert other_can_write()
    with node.db.writing():
        assert not other_can_write()
        with node.db.reading() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    assert other_can_write()
    with node.db.writing_connection():  # the Core connection of the audit log's group commit: the same
        assert not other_can_write()
        with node.db.reading() as session:
            assert session.execute(text("SELECT 1")).scalar_one() == 1
    assert other_can_write()
    other.close()


def test_a_core_write_transaction_commits_on_success_and_leaves_nothing_on_error(node: Node) -> None:
    def epoch() -> int:
        with node.db.reading() as session:
            return int(session.execute(text("SELECT value FROM identity_epoch")).scalar_one())

    before = epoch()
    with node.db.writing_connection() as connection:
        connection.execute(text("UPDATE identity_epoch SET value = value + 1"))
    with pytest.raises(RuntimeError), node.db.writing_connection() as connection:
        connection.execute(text("UPDATE identity_epoch SET value = value + 100"))
        raise RuntimeError("half-way")
    assert epoch() == before + 1
