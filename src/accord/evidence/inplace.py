"""Reading a file in place, from the page cache, while the kernel guarantees that no one changes it.

A read lease (``fcntl(F_SETLEASE, F_RDLCK)``, fcntl(2)) is granted only while no process has the file open for
writing; while it is held, any open for writing or truncation blocks (up to ``/proc/sys/fs/lease-break-time``)
until the lease is released. Under it a file can be mapped and hashed straight from the page cache: no copy
into a buffer, which on the 2-core benchmark machine costs the hash a tenth of its speed, and no risk that the
bytes hashed differ from the bytes used, nor that a truncation turns a read of the mapping into SIGBUS.

Mapped ranges are filled in with ``madvise(MADV_POPULATE_READ)`` (Linux 5.14), which reports a disk's read
error as an OSError where touching the page would have killed the process with SIGBUS.

A lease is broken when some process asks to write or truncate the file. Its holder must then stop using the
mapping, release the lease and raise SourceChanged; callers check :func:`lease_held` before each range and once
more after the last. What the lease cannot cover: a reader stalled for longer than the lease-break time after
a break (the kernel then lets the writer in), and a mapped page evicted under memory pressure that fails to read
again from a failing disk in the milliseconds before it is used.

Used by ``filecopy`` (ingest) and ``verify`` (payload hashes of a package).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

RANGE = 4 * 1024 * 1024  # bytes mapped and hashed at a time
_AHEAD = 2  # ranges mapped and filled in ahead of the hash
_POLL_SECONDS = 0.1  # how often the mapping thread checks whether the hash stopped
MADV_POPULATE_READ = 22  # <linux/mman.h>, Linux 5.14; Python 3.11's mmap module does not name it


class SourceChanged(Exception):
    """A process opened the file for writing, or truncated it, while it was being read in place."""


def can_populate() -> bool:
    """Whether this kernel fills a mapping in on request, with errors reported (MADV_POPULATE_READ)."""
    with mmap.mmap(-1, mmap.PAGESIZE) as probe:
        try:
            probe.madvise(MADV_POPULATE_READ)
        except OSError:  # EINVAL before Linux 5.14
            return False
    return True


def populate(mapping: mmap.mmap, offset: int) -> None:
    """Read a mapped range (at ``offset`` in its file) into memory now; a read error is an OSError (EIO)."""
    try:
        mapping.madvise(MADV_POPULATE_READ)
    except OSError as exc:  # EFAULT where touching the page would raise SIGBUS: the disk failed to read it
        end = offset + len(mapping)
        raise OSError(errno.EIO, f"cannot read the source between bytes {offset} and {end}: {exc.strerror}") from exc


def map_range(held: int, offset: int, length: int) -> mmap.mmap:
    """``length`` bytes of the leased file ``held`` from ``offset`` (a multiple of ALLOCATIONGRANULARITY), mapped
    read-only and filled in. Raises SourceChanged when the lease has broken, OSError (EIO) on a read error."""
    if not lease_held(held):
        raise SourceChanged
    mapping = mmap.mmap(held, length, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ, offset=offset)
    try:
        populate(mapping, offset)
    except BaseException:
        mapping.close()
        raise
    return mapping


def lease_held(held: int) -> bool:
    """Whether the lease on ``held`` is unbroken: no process has asked to write or truncate the file meanwhile."""
    return fcntl.fcntl(held, fcntl.F_GETLEASE) == fcntl.F_RDLCK


@contextmanager
def read_lease(source: int) -> Iterator[int | None]:
    """A read-only descriptor of ``source`` holding a read lease, or None where the lease is refused or the
    kernel cannot populate mappings (read the file with ``pread`` then).

    The descriptor is our own (reopened through ``/proc/self/fd``), so the caller's keeps its flags and signal
    owner; a lease protects the file, whichever descriptor reads it. Closing it releases the lease, once every
    mapping made from it is closed too."""
    try:
        held = os.open(f"/proc/self/fd/{source}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # no /proc
        yield None
        return
    try:
        if not can_populate():
            raise OSError(errno.EINVAL, "no MADV_POPULATE_READ")
        # The kernel tells a holder of a break with a signal, SIGIO by default, whose default action ends the
        # process. Ask for SIGURG (ignored by default) before the lease exists, then for no signal at all
        # (owner 0) once it does: holders poll lease_held() instead.
        fcntl.fcntl(held, fcntl.F_SETSIG, signal.SIGURG)
        fcntl.fcntl(held, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(held, fcntl.F_SETOWN, 0)
    except OSError:  # EAGAIN: open for writing somewhere; EACCES: another user's file; EINVAL: no leases here
        os.close(held)
        yield None
        return
    try:
        yield held
    finally:
        os.close(held)


def hash_in_place(source: int, offset: int, length: int, progress: Callable[[int], None] | None = None) -> str | None:
    """The SHA-256 (hex) of ``length`` bytes of the regular file ``source`` from ``offset``, read in place under
    a read lease, with a thread mapping the next ranges while this one hashes. None where no lease can be had:
    the caller then reads the bytes itself. Raises SourceChanged when the lease breaks, OSError on a read
    error."""
    if length == 0:
        return hashlib.sha256().hexdigest()
    with read_lease(source) as held:
        if held is None:
            return None
        return _HashInPlace(held, offset, length).run(progress)


class _HashInPlace:
    def __init__(self, held: int, offset: int, length: int) -> None:
        self.held, self.offset, self.end = held, offset, offset + length
        self.ranges: queue.Queue[tuple[mmap.mmap, int] | None] = queue.Queue()  # (mapping, bytes to skip)
        self.hashed: queue.Queue[mmap.mmap] = queue.Queue()  # closed by the mapping thread: munmap costs ~3%
        self.slots = threading.Semaphore(_AHEAD)
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def map_ranges(self) -> None:
        try:
            position = self.offset
            while position < self.end:
                while not self.slots.acquire(timeout=_POLL_SECONDS):
                    if self.stop.is_set():
                        return
                self._close_hashed()
                if self.stop.is_set():
                    return
                base = position - position % mmap.ALLOCATIONGRANULARITY  # mmap offsets are page-aligned
                size = min(self.end, base + RANGE) - base
                self.ranges.put((map_range(self.held, base, size), position - base))
                position = base + size
        except BaseException as exc:  # re-raised by the hashing thread
            self.error = exc
        finally:
            self.ranges.put(None)

    def _close_hashed(self) -> None:
        while not self.hashed.empty():
            self.hashed.get_nowait().close()

    def run(self, progress: Callable[[int], None] | None) -> str:
        digest = hashlib.sha256()
        mapper = threading.Thread(target=self.map_ranges, name="hash-in-place", daemon=True)
        mapper.start()
        try:
            while (item := self.ranges.get()) is not None:
                mapping, skip = item
                try:
                    with memoryview(mapping) as whole, whole[skip:] as data:
                        digest.update(data)  # releases the GIL: the next range is mapped meanwhile
                        count = len(data)
                finally:
                    self.hashed.put(mapping)
                    self.slots.release()
                if progress is not None:
                    progress(count)
            if self.error is not None:
                raise self.error
            if not lease_held(self.held):  # broken after the last range was mapped
                raise SourceChanged
        finally:
            self.stop.set()
            mapper.join()
            self._close_hashed()
            while not self.ranges.empty():  # ranges mapped after the hash stopped early
                left = self.ranges.get_nowait()
                if left is not None:
                    left[0].close()
        return digest.hexdigest()
