"""Audit entries recorded at the same moment by many threads share transactions (group commit), and each caller
still returns only once its own entry is committed, with its own sequence number."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Connection, event, text

from accord.audit.batching import GroupCommit, LoopWaiter
from accord.audit.service import AuditActor
from accord.config import Settings
from accord.node import Node, open_node
from tests.conftest import count_rows

ACTOR = AuditActor(id="user--1", name="lan", party_id="party--1")
THREADS, PER_THREAD = 8, 40


def test_concurrent_records_form_one_valid_chain_and_share_transactions(node: Node) -> None:
    commits = 0

    def count_commit(_connection: object) -> None:
        nonlocal commits
        commits += 1

    event.listen(node.db.engine, "commit", count_commit)
    start = threading.Barrier(THREADS)

    def work(worker: int) -> list[int]:
        start.wait()
        return [
            node.audit.record(ACTOR, "test.event", object_id=f"{worker}-{i}", details={"i": i})
            for i in range(PER_THREAD)
        ]

    with ThreadPoolExecutor(THREADS) as pool:
        seqs = [seq for part in pool.map(work, range(THREADS)) for seq in part]
    assert sorted(seqs) == list(range(1, THREADS * PER_THREAD + 1))  # each caller got its own, committed entry
    assert count_rows(node, "audit_entries") == THREADS * PER_THREAD
    assert node.audit.verify().entries == THREADS * PER_THREAD
    event.remove(node.db.engine, "commit", count_commit)
    assert 0 < commits < THREADS * PER_THREAD  # some entries shared a transaction


def test_a_faulty_entry_fails_only_its_own_caller(node: Node) -> None:
    start = threading.Barrier(6)

    def work(worker: int) -> int:
        start.wait()
        details = {"bad": object()} if worker == 3 else {"worker": worker}  # not JSON: append raises
        return node.audit.record(ACTOR, "test.event", object_id=str(worker), details=details)

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(work, worker) for worker in range(6)]
    for worker, future in enumerate(futures):
        if worker == 3:
            with pytest.raises((TypeError, ValueError)):
                future.result()
        else:
            assert future.result() >= 1
    assert count_rows(node, "audit_entries") == 5
    assert node.audit.verify().entries == 5


def test_close_commits_what_is_queued(settings: Settings) -> None:
    node = open_node(settings)
    try:
        node.audit.record(ACTOR, "test.event")
    finally:
        node.close()
    again = open_node(settings)
    try:
        assert again.audit.verify().entries == 1
    finally:
        again.close()


def test_an_entry_recorded_later_is_awaited_in_an_event_loop_and_committed_first(node: Node) -> None:
    async def lookup_like() -> tuple[int, int]:
        waiter = LoopWaiter()
        pending = node.audit.record_later(ACTOR, "test.event", on_committed=waiter.notify, details={"i": 1})
        await waiter.wait()  # the loop is free meanwhile; no thread waits on the writer
        return pending.outcome(), count_rows(node, "audit_entries")

    seq, stored = asyncio.run(lookup_like())
    assert (seq, stored) == (1, 1)
    assert node.audit.verify().entries == 1


def test_a_failed_batch_is_written_again_entry_by_entry_and_only_the_faulty_caller_fails(node: Node) -> None:
    """The writer takes what is queued as one batch; when its transaction fails, each entry is tried alone."""
    release = threading.Event()
    batches: list[list[str]] = []

    def write(connection: Connection, entries: list[str]) -> list[int]:
        batches.append(list(entries))
        if entries == ["first"]:
            release.wait(5)  # the others queue meanwhile, and form the next batch
        if "bad" in entries:
            raise ValueError("bad entry")
        connection.execute(text("SELECT 1"))
        return [len(batches)] * len(entries)

    group = GroupCommit(node.db.writing_connection, write)
    try:
        first = group.submit_later("first")
        while not batches:
            time.sleep(0.01)
        rest = {name: group.submit_later(name) for name in ("a", "bad", "c")}
        release.set()
        assert first.outcome() == 1
        assert rest["a"].outcome() == 3 and rest["c"].outcome() == 5
        with pytest.raises(ValueError, match="bad entry"):
            rest["bad"].outcome()
        with pytest.raises(ValueError):
            rest["bad"].outcome()  # asking again gives the same answer
    finally:
        group.close()
    assert batches == [["first"], ["a", "bad", "c"], ["a"], ["bad"], ["c"]]
