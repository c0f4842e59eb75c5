"""Normalising the values of a large lookup on more than one core.

Why: normalisation (libphonenumber, schwifty, ipaddress) is pure Python and was a third of a 10,000-value
lookup against a million indexed values (docs/benchmarks.md), all of it on one core while the other waited.
Above ``PARALLEL_FROM`` distinct values, worker processes normalise a share each while the calling thread
normalises its own; they send back only what the lookup reads (kind, canonical value or reason), not the
normalisers' details.

Workers are started with "spawn" (intel.pipeline says why a server must not fork) by the first lookup of a
process that could use them, and kept until the service closes: a node that never answers a large lookup
never runs one. Until a worker has answered its warm-up call, lookups normalise inline rather than wait for
it (``accord lookup`` reads 5,000 values at a time, so its later chunks have them). A worker that dies is
dropped and the lookup normalises its share inline, so an answer never depends on them.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from accord.intel.normalise import Canonical, IdentifierKind, InvalidIdentifier, detect, normalise
from accord.intel.normalise.detect import UNKNOWN

PARALLEL_FROM = 2_000  # distinct values; below this, the round trip to a worker costs more than it saves
AUTO_WORKERS_MAX = 3  # a lookup's share per worker shrinks with each one, its round trip does not

Pair = tuple[str, str | None]  # (raw value, kind given or None to detect it)
Slim = tuple[str, str | None, str | None]  # (kind, canonical value or None, reason when None)


def canonical(raw: str, kind: str | None, region: str | None) -> Canonical | InvalidIdentifier:
    """``raw`` normalised as ``kind`` says, or detected; national phone numbers read in ``region``."""
    if not raw.strip():
        return InvalidIdentifier(kind or UNKNOWN, raw, "empty value")
    try:
        return normalise(kind, raw, default_region=region) if kind else detect(raw, default_region=region)
    except InvalidIdentifier as exc:
        return exc


def worker_count(setting: int) -> int:
    """Worker processes for the ``matching_lookup_workers`` setting: -1 is one less than the cores (at most
    AUTO_WORKERS_MAX; none on a single core)."""
    if setting >= 0:
        return setting
    return max(0, min((os.cpu_count() or 1) - 1, AUTO_WORKERS_MAX))


def _slim_all(pairs: Sequence[Pair], region: str | None) -> list[Slim]:
    """In a worker: each pair's outcome, as little as the lookup reads."""
    slim: list[Slim] = []
    for raw, kind in pairs:
        item = canonical(raw, kind, region)
        if isinstance(item, InvalidIdentifier):
            slim.append((item.kind, None, item.reason))
        else:
            slim.append((str(item.kind), item.value, None))
    return slim


def _widen(raw: str, slim: Slim) -> Canonical | InvalidIdentifier:
    kind, value, reason = slim
    if value is None:
        return InvalidIdentifier(kind, raw, reason or "not valid")
    return Canonical(IdentifierKind(kind), value, raw)


def _warm_up() -> None:
    """Loads the normalisers' data in the worker (phone metadata, IBAN registry) before real work arrives."""
    _slim_all([("+84 91 234 5678", "phone-number"), ("GB82 WEST 1234 5698 7654 32", "bank-account")], None)


class NormalisingPool:
    """``canonical_all``: the outcome of each pair, in order, normalised here and in up to ``workers`` processes."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future[None] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the workers in the background (no-op without workers, or when they run): the first large lookup
        does, and benchmarks do to measure a node that has answered one before."""
        with self._lock:
            if self._workers == 0 or self._pool is not None or self._closed:
                return
            self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
            self._warm = self._pool.submit(_warm_up)

    def ready(self, timeout: float | None = None) -> bool:
        """Whether the workers answer, waiting up to ``timeout`` seconds for their warm-up (benchmarks and tests
        measure a server that has been up for a moment)."""
        with self._lock:
            warm = self._warm
        if warm is None:
            return False
        try:
            warm.result(timeout)
        except Exception:  # still starting (TimeoutError) or failed: not ready
            return False
        return True

    def canonical_all(self, pairs: Sequence[Pair], region: str | None) -> list[Canonical | InvalidIdentifier]:
        pool = self._ready() if len(pairs) >= PARALLEL_FROM else None
        if pool is None:
            return [canonical(raw, kind, region) for raw, kind in pairs]
        shares = self._workers + 1
        size = -(-len(pairs) // shares)
        mine, theirs = pairs[:size], [pairs[start : start + size] for start in range(size, len(pairs), size)]
        try:
            futures = [pool.submit(_slim_all, list(share), region) for share in theirs]
        except RuntimeError:  # broken (a worker died: BrokenProcessPool) or shut down meanwhile: all of it here
            self._drop(pool)
            return [canonical(raw, kind, region) for raw, kind in pairs]
        results = [canonical(raw, kind, region) for raw, kind in mine]
        for share, future in zip(theirs, futures, strict=True):
            try:
                slims = future.result()
            except Exception:  # a dead worker (BrokenProcessPool) or a failed call: this share inline
                self._drop(pool)
                results += [canonical(raw, kind, region) for raw, kind in share]
            else:
                results += [_widen(raw, slim) for (raw, _), slim in zip(share, slims, strict=True)]
        return results

    def _ready(self) -> ProcessPoolExecutor | None:
        """The pool once its warm-up call has answered; starts it on first need, and answers None meanwhile."""
        with self._lock:
            pool, warm = self._pool, self._warm
        if pool is None:
            self.start()
            return None
        if warm is None or not warm.done():
            return None
        if warm.cancelled() or warm.exception() is not None:  # the warm-up failed: the next lookup starts anew
            self._drop(pool)
            return None
        return pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is not pool:
                return
            self._pool, self._warm = None, None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._warm, self._closed = self._pool, None, None, True
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
