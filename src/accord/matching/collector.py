"""Pausing Python's cyclic garbage collector while a bulk lookup builds its answer.

A lookup of 100,000 values allocates and keeps a few hundred thousand small objects (normalised values, index
rows, results), none of them in a reference cycle. Each allocation counts towards the collector's thresholds, so
the collector runs over and over during the call, and every third or so run is a full one that walks the whole
heap of the process: 0.7 to 1 s of a 3.4 s call against 1,000,000 indicators (bench/lookup.py), for nothing to
free. Reference counting still frees everything as usual; only the search for cycles waits until the call ends,
when the collector runs on its normal schedule again.

The switch is process-wide, so pauses are counted: concurrent lookups in several threads resume the collector
when the last of them ends, and a collector that was already disabled by the application stays disabled.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (and the threads running meanwhile)."""
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
