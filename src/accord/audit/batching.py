"""Group commit for audit entries that have no transaction of their own to ride in (``AuditLog.record``).

Every lookup writes one audit entry, so under load each server process would start hundreds of write
transactions a second, each taking the database's single write lock and each waiting its turn behind the
others (and, in a thread, for the interpreter lock while holding it). Here one thread per process writes the
entries that are waiting in one transaction, in arrival order, and each caller returns once the transaction
holding its entry has committed: the guarantee of ``record`` is unchanged (the entry is durable before the
action's answer leaves), only the number of transactions drops with the load. An idle log writes a lone entry
at once: nothing waits for a batch to fill.

The caller prepares its entry (everything but the sequence number, time and hashes) before queueing it, and the
writer appends a batch with one read of the head, one multi-row insert and one move of the head, on a Core
connection: on SQLite the write lock is held by one process at a time, and every lookup of every server process
waits while a batch holds it (docs/benchmarks.md, single-value HTTP lookup).
"""

from __future__ import annotations

import asyncio
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

    __slots__ = ("_error", "_finished", "_notify", "_seq", "entry")

    def __init__(self, entry: Any, notify: Callable[[], None] | None = None) -> None:
        self.entry = entry
        self._finished = threading.Lock()
        self._finished.acquire()  # held until the writer settles the entry
        self._seq = 0
        self._error: BaseException | None = None
        self._notify = notify  # called in the writer's thread once settled (an event loop's waker)

    def settle(self, seq: int = 0, error: BaseException | None = None) -> None:
        self._seq, self._error = seq, error
        self._finished.release()
        if self._notify is not None:
            self._notify()

    def outcome(self) -> int:
        """The entry's sequence number once committed (blocks until then); raises what its transaction raised.
        May be called more than once."""
        self._finished.acquire()
        self._finished.release()
        if self._error is not None:
            raise self._error
        return self._seq


class LoopWaiter:
    """Lets a coroutine wait for a ``Pending`` entry without a thread of its own: pass ``notify`` when the
    entry is submitted, then ``await wait()``. Created in the event loop's thread."""

    __slots__ = ("_future", "_loop")

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._future: asyncio.Future[None] = self._loop.create_future()

    def notify(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop has closed: nobody waits any more
            pass

    def _wake(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


class GroupCommit:
    """Writes queued entries with ``write(connection, entries)`` (which returns their sequence numbers), as many
    as are waiting per ``transaction()``."""

    def __init__(self, transaction: Callable[[], Any], write: Callable[[Any, list[Any]], list[int]]) -> None:
        self._transaction = transaction
        self._write_entries = write
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def submit(self, entry: Any) -> int:
        """Append one entry; returns its sequence number once committed. Raises what the transaction raised."""
        return self.submit_later(entry).outcome()

    def submit_later(self, entry: Any, notify: Callable[[], None] | None = None) -> Pending:
        """Queue one entry and return at once; ``notify`` is called (in the writer's thread) once it settled."""
        pending = Pending(entry, notify)
        self._ensure_started()
        self._queue.put(pending)
        return pending

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
            if first is None or self._write_batch(first):
                return

    def _write_batch(self, first: Pending) -> bool:
        """Write ``first`` together with the entries queued behind it; whether the stop mark was among them.
        (Also taking the entries that arrive while the writer waits for the write lock made no measurable
        difference on the single-value lookup benchmark.)"""
        batch = [first]
        stop = self._drain(batch)
        try:
            with self._transaction() as connection:
                seqs = self._write_entries(connection, [item.entry for item in batch])
        except Exception as exc:
            if len(batch) == 1:
                first.settle(error=exc)
            else:
                # Nothing of the batch was committed. One entry's fault must not fail the others: each goes
                # again in a transaction of its own, and only the faulty one's caller gets the error.
                for item in batch:
                    self._write_alone(item)
            return stop
        for item, seq in zip(batch, seqs, strict=True):
            item.settle(seq)
        return stop

    def _drain(self, batch: list[Pending]) -> bool:
        """Move waiting entries into ``batch`` (up to MAX_BATCH); whether the stop mark was met."""
        while len(batch) < MAX_BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return False
            if item is None:
                return True
            batch.append(item)
        return False

    def _write_alone(self, item: Pending) -> None:
        try:
            with self._transaction() as connection:
                [seq] = self._write_entries(connection, [item.entry])
        except Exception as exc:
            item.settle(error=exc)
            return
        item.settle(seq)

    def close(self) -> None:
        """Write what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
