"""Checking import batches on every core while the importing process writes.

Why: checking (validation, identifier normalisation, canonical JSON) is ~60 % of an import's CPU time and
pure Python, so one process uses one core; the node's write path (one writer per database) stays in the
importing process. With ``workers`` > 0, batches are checked in worker processes, at most two batches per
worker in flight (memory stays bounded however long the input), and come back in input order, so the
import's result is the same as inline. Bulk imports (``accord intel import``) use it; API and TAXII requests,
whose bodies are bounded, check inline rather than start processes.

Workers are started with "spawn": the importing process may be a threaded web server, and forking one is
unsafe. Each worker pays its start-up (imports, ~1 s) once per process: a ``CheckerPool`` keeps them between
imports (several files in one ``accord intel import``, several parties' imports in a row) until the node closes.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from accord.intel.ingest import Accepted, Checked, check_batch
from accord.intel.validate import CheckedObject
from accord.intel.vocabulary import Tlp

IN_FLIGHT_PER_WORKER = 2
PARALLEL_FROM_BYTES = 8 * 1024 * 1024  # smaller files import faster than workers start (~1 s each)


def worker_count(setting: int, input_bytes: int) -> int:
    """Workers for a bulk import of ``input_bytes``: the ``intel_import_workers`` setting, -1 being one per core."""
    if input_bytes < PARALLEL_FROM_BYTES or setting == 0:
        return 0
    if setting > 0:
        return setting
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def _check_in_worker(batch: list[Any], default_tlp: Tlp, region: str | None, now: datetime) -> Checked:
    """check_batch, returning only what the writer needs: the objects themselves travel back as canonical JSON
    (``Accepted.canonical``), not a second time as dictionaries."""
    checked = check_batch(batch, default_tlp, region, now)
    slim = []
    for a in checked.accepted:
        c = a.checked
        light = CheckedObject(c.stix_id, c.stix_type, c.spec_version, c.modified, c.modified_at, c.revoked, {})
        slim.append(Accepted(light, a.tlp, a.identifiers, a.canonical))
    return Checked(accepted=slim, failures=checked.failures)


class CheckerPool:
    """Checker processes kept from one import to the next in this process, until ``close``.

    One import at a time uses the kept pool; an import that starts while another runs (two threads of one
    process) gets a pool of its own for its duration. A pool whose worker died is dropped and the next import
    starts a new one.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._workers = 0
        self._busy = False

    @contextmanager
    def lease(self, workers: int) -> Iterator[ProcessPoolExecutor]:
        with self._lock:
            shared = not self._busy
            if shared:
                self._busy = True
                if self._pool is not None and self._workers != workers:
                    self._pool.shutdown(wait=True, cancel_futures=True)
                    self._pool = None
                if self._pool is None:
                    self._pool, self._workers = _new_pool(workers), workers
                pool = self._pool
            else:
                pool = _new_pool(workers)
        try:
            yield pool
        except BrokenProcessPool:
            if shared:
                with self._lock:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            if shared:
                with self._lock:
                    self._busy = False
            else:
                pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def checked_batches(
    batches: Iterable[list[Any]],
    default_tlp: Tlp,
    region: str | None,
    clock: Callable[[], datetime],
    workers: int,
    pool: CheckerPool | None = None,
) -> Iterator[tuple[int, datetime, Checked]]:
    """(batch size, the batch's instant, its check) for each batch, in input order. With ``workers`` > 0 the
    batches are checked in ``pool``'s processes (in processes of this call's own without one)."""
    if workers <= 0:
        for batch in batches:
            now = clock()
            yield len(batch), now, check_batch(batch, default_tlp, region, now)
        return
    chosen = pool if pool is not None else CheckerPool()
    try:
        with chosen.lease(workers) as executor:
            yield from _checked_in(executor, batches, default_tlp, region, clock, workers)
    finally:
        if pool is None:
            chosen.close()


def _checked_in(
    executor: ProcessPoolExecutor,
    batches: Iterable[list[Any]],
    default_tlp: Tlp,
    region: str | None,
    clock: Callable[[], datetime],
    workers: int,
) -> Iterator[tuple[int, datetime, Checked]]:
    pending: deque[tuple[int, datetime, Future[Checked]]] = deque()
    try:
        for batch in batches:
            now = clock()
            pending.append((len(batch), now, executor.submit(_check_in_worker, batch, default_tlp, region, now)))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                size, instant, future = pending.popleft()
                yield size, instant, future.result()
        while pending:
            size, instant, future = pending.popleft()
            yield size, instant, future.result()
    finally:  # also when the writer stops early (an error, or the consumer closing us): drop queued batches
        for _size, _instant, future in pending:
            future.cancel()
        for _size, _instant, future in pending:
            if not future.cancelled():
                future.exception()  # wait for those already running, so the pool's next import starts clean
