"""Copy a regular file into the blob store and hash it on the way, each byte touched once by the CPU.

Three stages run at once over a few private buffers: a reader thread fills a buffer from the source
(``preadv``), the caller's thread hashes it, and a writer thread writes that same buffer to the store with
direct I/O (``O_DIRECT``: the disk reads the buffer itself, no copy into the page cache and no writeback
later). The digest is therefore of exactly the bytes written, whatever happens to the source meanwhile.

Why not the kernel's copy (``copy_file_range``) with the copy hashed through ``mmap``, as before: every byte
then crossed memory three times (the kernel's copy, the hash's read, the writeback), and both threads streaming
through the page cache slowed the hash to 85-90 % of ``openssl speed sha256`` while the copy ran; on a disk
whose buffered writeback was slow, the copy and its ``fsync`` alone fell to 26-45 % of OpenSSL where direct
writes kept up with the hash (docs/benchmarks.md). File systems that refuse direct I/O (tmpfs on older
kernels, some network file systems) get ordinary writes, each range handed to writeback at once.
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

# Bytes per buffer, and so per progress report: a multiple of every logical block size direct I/O can ask for.
RANGE = 4 * 1024 * 1024
_BUFFERS = 4  # one being read, one hashed, one written, one spare: 16 MiB of memory per copy
_BLOCK = 4096  # direct I/O writes whole blocks at block offsets; only the last, short range is written plain
_POLL_SECONDS = 0.1  # how often a waiting stage checks whether another one failed


class CopyLimitExceeded(Exception):
    """The source holds more than ``limit`` bytes."""


@dataclass(frozen=True)
class CopiedFile:
    sha256: str
    size: int
    hashing_seconds: float  # time the caller's thread spent hashing, without waiting for the others (benchmarks)


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
    """The next free buffer, or None once a stage failed."""
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
    """The buffers and queues of one copy; see the module's docstring."""

    def __init__(self, source: int, target: int, limit: int) -> None:
        self.source, self.target, self.limit = source, target, limit
        self.buffers = [mmap.mmap(-1, RANGE) for _ in range(_BUFFERS)]
        self.free: queue.Queue[int] = queue.Queue()
        for index in range(_BUFFERS):
            self.free.put(index)
        self.filled: queue.Queue[tuple[int, int] | None] = queue.Queue()  # (buffer, length), None at the end
        self.hashed: queue.Queue[tuple[int, int, int] | None] = queue.Queue()  # (buffer, offset, length)
        self.stop = threading.Event()

    def read(self) -> None:
        offset = 0
        while (index := _take(self.free, self.stop)) is not None:
            length = _fill(self.source, self.buffers[index], offset)
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
            with memoryview(self.buffers[index]) as whole, whole[:length] as data:
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
            self.free.put(index)

    def close(self) -> None:
        for buffer in self.buffers:
            buffer.close()


def copy_and_hash(source: int, target: int, *, limit: int, progress: Callable[[int], None] | None = None) -> CopiedFile:
    """Copy the regular file ``source`` (from its start) to the empty file ``target``, hash what was written,
    and fsync it. Raise CopyLimitExceeded past ``limit`` bytes; the caller removes ``target`` on any error."""
    pipeline = _Pipeline(source, target, limit)
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
            with memoryview(pipeline.buffers[index]) as whole, whole[:length] as data:
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
        os.fsync(target)
    finally:
        pipeline.stop.set()
        reader.join()
        writer.join()
        pipeline.close()
    return CopiedFile(digest.hexdigest(), size, hashing)
