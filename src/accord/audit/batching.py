"""Group commit for audit entries that have no transaction of their own to ride in (``AuditLog.record``).

Every lookup writes one audit entry, so under load each server process would start hundreds of write
transactions a second, each taking the database's single write lock and each waiting its turn behind the
others (and, in a thread, for the interpreter lock while holding it). Here one thread per process writes the
entries that are waiting in one transaction, in arrival order, and each caller returns once the transaction
holding its entry has committed: the guarantee of ``record`` is unchanged (the entry is durable before the
action's answer leaves), only the number of transactions drops with the load. An idle log writes a lone entry
at once: nothing waits for a batch to fill.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

MAX_BATCH = 256  # entries per transaction; a larger backlog is written in several


class Pending:
    """One entry waiting for its transaction, and its caller waiting for the outcome.

    The caller blocks on a lock that the writer releases once: one C call each side. A
    ``concurrent.futures.Future`` did the same through a Condition (Python-level locking, waiter lists and
    ``notify_all``), which was 6 % of a server process's interpreter time on the single-value lookup
    benchmark."""

    __slots__ = ("_error", "_finished", "_seq", "args", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self._finished = threading.Lock()
        self._finished.acquire()  # held until the writer settles the entry
        self._seq = 0
        self._error: BaseException | None = None

    def settle(self, seq: int = 0, error: BaseException | None = None) -> None:
        self._seq, self._error = seq, error
        self._finished.release()

    def outcome(self) -> int:
        self._finished.acquire()
        if self._error is not None:
            raise self._error
        return self._seq


class GroupCommit:
    """Writes queued entries with ``append(session, *args, **kwargs)``, many per ``transaction()``."""

    def __init__(self, transaction: Callable[[], Any], append: Callable[..., int]) -> None:
        self._transaction = transaction
        self._append = append
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, *args: Any, **kwargs: Any) -> int:
        """Append one entry; returns its sequence number once committed. Raises what the transaction raised."""
        pending = Pending(args, kwargs)
        self._ensure_started()
        self._queue.put(pending)
        return pending.outcome()

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="accord-audit-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[Pending]) -> None:
        try:
            with self._transaction() as session:
                seqs = [self._append(session, *item.args, **item.kwargs) for item in batch]
        except Exception as exc:
            if len(batch) == 1:
                batch[0].settle(error=exc)
                return
            # Nothing of the batch was committed. One entry's fault must not fail the others: each goes again
            # in a transaction of its own, and only the faulty one's caller gets the error.
            for item in batch:
                self._write([item])
            return
        for item, seq in zip(batch, seqs, strict=True):
            item.settle(seq)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
