"""Copy a regular file into the blob store with the kernel, and hash the copy as it lands.

Streaming a local file through Python (``read`` into a buffer, hash it, ``write`` it out) copies every byte
twice in user space. On a two-core machine the reading and writing thread then takes longer than the
hashing one, and ingest ran at about half of ``openssl speed sha256`` even with the store on tmpfs
(docs/benchmarks.md). Here one thread asks the kernel to copy the file range by range
(``copy_file_range``, or ``sendfile`` across file systems), and the caller's thread hashes each range of the
*destination* through ``mmap`` as soon as it is written: no byte passes through a Python buffer, and the
digest is of the bytes the store holds, not of a source that someone could change in between.

Each hashed range is handed to the kernel's writeback at once (``POSIX_FADV_DONTNEED`` starts writing dirty
pages and drops the ones already clean), so the disk works while later ranges are hashed and the final
``fsync`` has little left to wait for; a large item also does not fill the page cache.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# A multiple of mmap.ALLOCATIONGRANULARITY, so that every range but the last starts on a mappable offset.
RANGE = 8 * 1024 * 1024
_DEPTH = 8  # ranges copied ahead of the hash: page cache, not Python memory
# copy_file_range refuses these between some pairs of file systems (tmpfs to ext4, older kernels).
_NO_COPY_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}


class CopyLimitExceeded(Exception):
    """The source holds more than ``limit`` bytes."""


@dataclass(frozen=True)
class CopiedFile:
    sha256: str
    size: int
    hashing_seconds: float  # time the caller's thread spent hashing, without waiting for the copy (benchmarks)


def _copy_range(source: int, target: int, offset: int, count: int, use_sendfile: bool) -> tuple[int, bool]:
    """Copy up to ``count`` bytes at ``offset``; return the bytes copied (0 at the end) and whether the
    caller must use sendfile from now on."""
    if not use_sendfile:
        try:
            return os.copy_file_range(source, target, count, offset, offset), False
        except OSError as exc:
            if exc.errno not in _NO_COPY_RANGE:
                raise
    os.lseek(target, offset, os.SEEK_SET)  # sendfile writes at the target's position
    return os.sendfile(target, source, offset, count), True


class _Copier(threading.Thread):
    """Copies ``source`` to ``target`` in whole ranges and queues each ``(offset, length)`` once copied."""

    def __init__(self, source: int, target: int, limit: int) -> None:
        super().__init__(name="blob-copier", daemon=True)
        self._source, self._target, self._limit = source, target, limit
        self.ranges: queue.Queue[tuple[int, int] | None] = queue.Queue(maxsize=_DEPTH)
        self.error: BaseException | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            offset, use_sendfile, at_end = 0, False, False
            while not at_end and not self.stopped.is_set():
                filled = 0
                while filled < RANGE:  # a short copy is topped up, so the next range stays aligned
                    copied, use_sendfile = _copy_range(
                        self._source, self._target, offset + filled, RANGE - filled, use_sendfile
                    )
                    if copied == 0:
                        at_end = True
                        break
                    filled += copied
                    if offset + filled > self._limit:
                        raise CopyLimitExceeded
                if filled:
                    self.ranges.put((offset, filled))
                    offset += filled
        except BaseException as exc:  # handed to the hashing thread, which re-raises it
            self.error = exc
        finally:
            self.ranges.put(None)

    def stop(self) -> None:
        self.stopped.set()
        while self.is_alive():  # drain, so a copier blocked on a full queue can finish
            try:
                self.ranges.get(timeout=0.05)
            except queue.Empty:
                pass
        self.join()


def copy_and_hash(source: int, target: int, *, limit: int, progress: Callable[[int], None] | None = None) -> CopiedFile:
    """Copy the regular file ``source`` (from its start) to the empty file ``target``, hash what was written,
    and fsync it. Raise CopyLimitExceeded past ``limit`` bytes; the caller removes ``target`` on any error."""
    copier = _Copier(source, target, limit)
    copier.start()
    digest = hashlib.sha256()
    size = 0
    hashing = 0.0
    try:
        while (copied := copier.ranges.get()) is not None:
            offset, length = copied
            started = time.perf_counter()
            with mmap.mmap(target, length, offset=offset, access=mmap.ACCESS_READ) as pages:
                digest.update(pages)  # releases the GIL: the copier runs meanwhile on the other core
            hashing += time.perf_counter() - started
            os.posix_fadvise(target, offset, length, os.POSIX_FADV_DONTNEED)
            size += length
            if progress is not None:
                progress(length)
        copier.join()
        if copier.error is not None:
            raise copier.error
        os.fsync(target)
    finally:
        copier.stop()
    return CopiedFile(digest.hexdigest(), size, hashing)
