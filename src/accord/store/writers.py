"""SQLite's one writer at a time, queued so that a waiting writer starts as soon as the one before it commits.

SQLite lets one transaction write at a time and makes the others wait in its busy handler, which sleeps 1, 2,
5, 10, ... up to 100 ms between tries. Under a steady stream of small API writes (an audit entry per lookup)
from two server processes, a writer that lost once kept losing to the other process's next writer and slept
longer each time: p99 latencies of over 100 ms with the CPUs half idle. Writers of this node therefore queue
first on a lock of their own process (threads) and then on an advisory file lock beside the database
(processes: every Accord process writing to the file takes it), polled at sub-millisecond intervals. SQLite's
lock is then free whenever BEGIN IMMEDIATE is reached, and its busy timeout still bounds a writer that is not
Accord. PostgreSQL needs none of this (row locks).
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FIRST_POLL_SECONDS = 0.00005
LAST_POLL_SECONDS = 0.0005  # a waiting process notices a released file lock within half a millisecond


class WriterQueue:
    """Serialises write transactions across this process's threads and, with ``lock_file``, across processes."""

    def __init__(self, lock_file: Path | None, timeout_seconds: float) -> None:
        self._threads = threading.RLock()
        self._depth = 0  # nested write transactions of the thread that holds the queue
        self._timeout = timeout_seconds
        self._fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600) if lock_file is not None else None

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this writer's turn, at most the timeout; past it, go ahead unqueued and let SQLite's busy
        timeout decide, as it would without the queue."""
        deadline = time.monotonic() + self._timeout
        if not self._threads.acquire(timeout=self._timeout):
            yield
            return
        locked = False
        try:
            self._depth += 1
            if self._depth == 1 and self._fd is not None:
                locked = self._lock_file(self._fd, deadline)
            yield
        finally:
            if locked and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._depth -= 1
            self._threads.release()

    @staticmethod
    def _lock_file(fd: int, deadline: float) -> bool:
        # Polled rather than blocking: a blocking flock cannot time out, and a writer stuck in another process
        # must not hang this one for longer than the busy timeout.
        pause = FIRST_POLL_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(pause)
                pause = min(pause * 2, LAST_POLL_SECONDS)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
