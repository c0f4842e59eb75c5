"""Bulk imports checked in worker processes store exactly what an inline import stores."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from accord.audit.service import Disclosure
from accord.intel import pipeline
from accord.intel.ingest import Checked
from accord.intel.pipeline import PARALLEL_FROM_BYTES, CheckerPool, worker_count
from accord.intel.vocabulary import Tlp
from accord.node import Node
from tests.conftest import World, count_rows
from tests.intel.conftest import TLP_GREEN, indicator

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def _objects(count: int) -> list[dict[str, object]]:
    objects: list[dict[str, object]] = [
        indicator(n, f"[phone-number:value = '+8491{n:07d}']", markings=[TLP_GREEN]) for n in range(count)
    ]
    objects[700] = {**objects[700], "pattern": "[phone-number:value = '+84"}  # one bad object, mid-stream
    objects[1100] = objects[3]  # a duplicate
    return objects


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_store_what_the_inline_import_stores(node: Node, world: World, workers: int) -> None:
    analyst = node.identity.authenticate_token(world.tokens["analyst"])
    report = node.intel.import_objects(analyst, iter(_objects(1_300)), source="test", workers=workers)
    assert report.total == 1_300
    assert [failure["id"] for failure in report.failures] == [indicator(700, "")["id"]]
    assert report.duplicates == 1
    assert len(report.successes) == 1_299
    assert report.successes[0]["id"] == indicator(0, "")["id"]  # in input order
    assert count_rows(node, "intel_objects") == 1_298
    assert count_rows(node, "observable_postings") == 1_298
    hits = node.intel.search(analyst, "+84910000003", Disclosure(purpose="test")).hits
    assert [hit.stix_id for hit in hits] == [indicator(3, "")["id"]]


def test_worker_count_follows_the_setting_and_the_input_size() -> None:
    big = PARALLEL_FROM_BYTES
    assert worker_count(4, big - 1) == 0  # small files: starting processes costs more than it saves
    assert worker_count(0, big) == 0
    assert worker_count(3, big) == 3
    assert worker_count(-1, big) >= 0


def _pids(_batch: list[object], *_args: object) -> Checked:
    """A stand-in check that reports which process ran it (module level: spawned workers import it)."""
    return Checked(failures=[("pid", str(os.getpid()))])


def test_a_pool_keeps_its_processes_from_one_import_to_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "_check_in_worker", _pids)
    pool = CheckerPool()
    try:

        def run() -> set[str]:
            checked = pipeline.checked_batches([[1]] * 6, Tlp.GREEN, "VN", lambda: NOW, 2, pool)
            return {reason for _size, _now, batch in checked for _id, reason in batch.failures}

        first = run()
        assert first and str(os.getpid()) not in first
        assert run() <= first  # the same processes: none started for the second import
        # An import stopped early leaves the pool usable for the next.
        stopped = pipeline.checked_batches([[1]] * 20, Tlp.GREEN, "VN", lambda: NOW, 2, pool)
        next(stopped)
        stopped.close()
        assert run() <= first
    finally:
        pool.close()
