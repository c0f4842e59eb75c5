"""Copy a regular file into the blob store and hash it on the way, each byte read once by the CPU.

Three stages run at once over a few ranges of 4 MiB: a reader thread brings a range into memory, the caller's
thread hashes it, and a writer thread writes that same memory to the store with direct I/O (``O_DIRECT``: the
disk reads the memory itself, no copy into the page cache and no writeback later).

How the reader brings a range in depends on whether the source can be held still:

- **Mapped** (the usual case): the copy holds a read lease on the source (``inplace.read_lease``), so no process
  can open it for writing or truncate it meanwhile, and the reader maps each range of the page cache and fills
  it in (``inplace.populate``); the hash reads the mapping and the disk writes from it. No byte is copied by
  the CPU at all: in alternating runs on the 2-core benchmark machine the copy made medians of 95-98 % of
  ``openssl speed sha256`` against 81-90 % for the buffered one (docs/benchmarks.md), because copying a range
  into a private buffer costs a core and memory bandwidth that the hash then lacks. Because nothing can write
  the file while the lease is held, the digest is of exactly the bytes written.
- **Buffered**, where no lease can be had (see ``inplace.read_lease``): the reader fills private buffers with
  ``preadv``, so the digest is again of exactly the bytes written, whatever happens to the source meanwhile.

If some process asks to write or truncate the source during a mapped copy, the copy stops, releases the lease
so that process can go on, and raises SourceChanged: evidence that is altered while it is acquired is refused
with a clear error rather than stored as a mix of two versions. The reader checks the lease before it maps each
range and the copy checks it again after the last write, so a break at any moment fails the copy.

Why not the kernel's copy (``copy_file_range``) with the copy hashed through ``mmap``, as before: every byte
then crossed memory three times (the kernel's copy, the hash's read, the writeback), and on a disk whose
buffered writeback was slow the copy and its ``fsync`` alone fell to 26-45 % of OpenSSL where direct writes kept
up with the hash (docs/benchmarks.md). File systems that refuse direct I/O (tmpfs on older kernels, some network
file systems) get ordinary writes, each range handed to writeback at once.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from accord.evidence.inplace import SourceChanged, lease_held, map_range, read_lease

# Bytes per range, and so per progress report: a multiple of every logical block size direct I/O can ask for.
RANGE = 4 * 1024 * 1024
_BUFFERS = 4  # one being read, one hashed, one written, one spare: at most 16 MiB in flight per copy
_BLOCK = 4096  # direct I/O writes whole blocks at block offsets; only the last, short range is written plain
_POLL_SECONDS = 0.1  # how often a waiting stage checks whether another one failed


class CopyLimitExceeded(Exception):
    """The source holds more than ``limit`` bytes."""


@dataclass(frozen=True)
class CopiedFile:
    sha256: str
    size: int
    hashing_seconds: float  # time the caller's thread spent hashing, without waiting for the others (benchmarks)
    mapped: bool  # whether the source was held by a read lease and hashed in place (see the module's docstring)


class _Stage(threading.Thread):
    """A thread running ``work``; what it raised is kept for the caller, and every stage is told to stop."""

    def __init__(self, name: str, work: Callable[[], None], stop: threading.Event, done: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._work, self._halt, self._done = work, stop, done
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as exc:  # re-raised by the caller's thread
            self.error = exc
            self._halt.set()
        finally:
            self._done()


def _take(source: queue.Queue[int], stop: threading.Event) -> int | None:
    """The next free slot, or None once a stage failed."""
    while not stop.is_set():
        try:
            return source.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            pass
    return None


def _fill(source: int, buffer: mmap.mmap, offset: int) -> int:
    """Read from ``offset`` until the buffer is full or the file ends; the bytes read."""
    filled = 0
    with memoryview(buffer) as whole:
        while filled < RANGE:
            with whole[filled:] as rest:
                count = os.preadv(source, [rest], offset + filled)
            if count == 0:
                break
            filled += count
    return filled


def _set_direct(target: int, on: bool) -> bool:
    """Switch direct I/O on ``target`` on or off; whether it is on now (False where the file system refuses)."""
    flags = fcntl.fcntl(target, fcntl.F_GETFL)
    try:
        fcntl.fcntl(target, fcntl.F_SETFL, flags | os.O_DIRECT if on else flags & ~os.O_DIRECT)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return on


def _write_all(target: int, data: memoryview, offset: int) -> None:
    written = 0
    while written < len(data):
        with data[written:] as rest:
            written += os.pwritev(target, [rest], offset + written)


class _Pipeline:
    """The slots and queues of one copy; see the module's docstring.

    A slot holds one range: a private buffer, reused (buffered), or a mapping of the source, made by the reader
    and closed by the writer (mapped)."""

    def __init__(self, source: int, target: int, limit: int, leased: int | None) -> None:
        self.mapped = leased is not None
        self.source = source if leased is None else leased
        self.target, self.limit = target, limit
        self.size = os.fstat(self.source).st_size  # what is mapped; the lease keeps it from changing
        self.slots: list[mmap.mmap | None] = [None if self.mapped else mmap.mmap(-1, RANGE) for _ in range(_BUFFERS)]
        self.free: queue.Queue[int] = queue.Queue()
        for index in range(_BUFFERS):
            self.free.put(index)
        self.filled: queue.Queue[tuple[int, int] | None] = queue.Queue()  # (slot, length), None at the end
        self.hashed: queue.Queue[tuple[int, int, int] | None] = queue.Queue()  # (slot, offset, length)
        self.stop = threading.Event()

    def slot(self, index: int) -> mmap.mmap:
        held = self.slots[index]
        if held is None:
            raise RuntimeError(f"slot {index} holds no range")
        return held

    def bring(self, index: int, offset: int) -> int:
        """Bring the range at ``offset`` into slot ``index``; its length (short or 0 at the end of the file)."""
        if not self.mapped:
            return _fill(self.source, self.slot(index), offset)
        length = max(0, min(RANGE, self.size - offset))
        if length:  # checks the lease first; the reader thread takes the page faults and disk reads, not the hash
            self.slots[index] = map_range(self.source, offset, length)
        return length

    def read(self) -> None:
        offset = 0
        while (index := _take(self.free, self.stop)) is not None:
            length = self.bring(index, offset)
            if offset + length > self.limit:
                raise CopyLimitExceeded
            if length:
                self.filled.put((index, length))
                offset += length
            if length < RANGE:  # the end of the file
                return

    def write(self) -> None:
        direct = _set_direct(self.target, True)
        while True:
            try:
                item = self.hashed.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if self.stop.is_set():
                    return
                continue
            if item is None:
                return
            index, offset, length = item
            with memoryview(self.slot(index)) as whole, whole[:length] as data:
                if direct and length % _BLOCK:
                    direct = _set_direct(self.target, False)
                try:
                    _write_all(self.target, data, offset)
                except OSError as exc:
                    if not (direct and exc.errno == errno.EINVAL):
                        raise
                    direct = _set_direct(self.target, False)  # the device wants other alignment: write plain
                    _write_all(self.target, data, offset)
            if not direct:  # start writeback now, so the final fsync has little left to wait for
                os.posix_fadvise(self.target, offset, length, os.POSIX_FADV_DONTNEED)
            if self.mapped:
                self.slot(index).close()
                self.slots[index] = None
            self.free.put(index)

    def close(self) -> None:
        for held in self.slots:
            if held is not None:
                held.close()


def copy_and_hash(source: int, target: int, *, limit: int, progress: Callable[[int], None] | None = None) -> CopiedFile:
    """Copy the regular file ``source`` (from its start) to the empty file ``target``, hash what was written,
    and fsync it. Raise CopyLimitExceeded past ``limit`` bytes, SourceChanged when the source's lease is
    broken; the caller removes ``target`` on any error."""
    with read_lease(source) as leased:
        pipeline = _Pipeline(source, target, limit, leased)
        reader = _Stage("blob-reader", pipeline.read, pipeline.stop, lambda: pipeline.filled.put(None))
        writer = _Stage("blob-writer", pipeline.write, pipeline.stop, lambda: None)
        digest = hashlib.sha256()
        size = 0
        hashing = 0.0
        reader.start()
        writer.start()
        try:
            while (item := pipeline.filled.get()) is not None:
                index, length = item
                started = time.perf_counter()
                with memoryview(pipeline.slot(index)) as whole, whole[:length] as data:
                    digest.update(data)  # releases the GIL: reading and writing go on meanwhile
                hashing += time.perf_counter() - started
                pipeline.hashed.put((index, size, length))
                size += length
                if progress is not None:
                    progress(length)
            pipeline.hashed.put(None)
            writer.join()
            for stage in (reader, writer):
                if stage.error is not None:
                    raise stage.error
            if pipeline.mapped and not lease_held(pipeline.source):  # broken after the last range was mapped
                raise SourceChanged
            os.fsync(target)
        finally:
            pipeline.stop.set()
            reader.join()
            writer.join()
            pipeline.close()  # every mapping is gone before the lease is released
    return CopiedFile(digest.hexdigest(), size, hashing, pipeline.mapped)
