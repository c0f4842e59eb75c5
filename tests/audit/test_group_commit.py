"""Audit entries recorded at the same moment by many threads share transactions (group commit), and each caller
still returns only once its own entry is committed, with its own sequence number."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from accord.audit.service import AuditActor
from accord.config import Settings
from accord.node import Node, open_node
from tests.conftest import count_rows

ACTOR = AuditActor(id="user--1", name="lan", party_id="party--1")
THREADS, PER_THREAD = 8, 40


def test_concurrent_records_form_one_valid_chain_and_share_transactions(node: Node) -> None:
    transactions = 0
    original = node.db.writing

    def counting_writing():  # type: ignore[no-untyped-def]
        nonlocal transactions
        transactions += 1
        return original()

    node.db.writing = counting_writing  # type: ignore[method-assign]
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
    assert transactions < THREADS * PER_THREAD  # some entries shared a transaction


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
