"""The files of evidence transfers under the node's home: one folder per transfer, no database tables.

``<home>/federation/transfers/outgoing/<id>/``: the exported package and ``state.json`` (peer, package SHA-256,
size, chunk size, how far the send got, the receipt once delivered).

``<home>/federation/transfers/incoming/<id>/``: ``state.json`` (who declared it, size, SHA-256, chunk size,
status), ``package.part`` (preallocated to the declared size; each chunk written at its offset), and
``chunks.sha256`` (32 bytes per chunk, all zero until that chunk is on disk: the chunk's SHA-256 is written only
after the chunk's bytes were fsynced, so a chunk marked held survives a crash, and a chunk lost in a crash is
simply sent again). ``receipt.json`` once the package was imported.

A transfer folder is changed under an exclusive ``flock`` on its ``lock`` file (chunks take it shared: they
write disjoint ranges), so a completion never races a chunk and two completions import once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SPOOL = Path("federation") / "transfers"
STATE, PART, DIGESTS, RECEIPT, LOCK, PACKAGE = (
    "state.json",
    "package.part",
    "chunks.sha256",
    "receipt.json",
    "lock",
    "package.zip",
)
DIGEST_SIZE = 32
SCAN_BLOCK = 32 * 1024 * DIGEST_SIZE  # digests read per block when listing held chunks (1 MiB)
ZERO = bytes(DIGEST_SIZE)


def chunk_count(size: int, chunk_size: int) -> int:
    return -(-size // chunk_size)


def chunk_span(index: int, size: int, chunk_size: int) -> tuple[int, int]:
    """Offset and length of chunk ``index``: every chunk is ``chunk_size`` bytes but the last."""
    offset = index * chunk_size
    return offset, min(chunk_size, size - offset)


def as_ranges(indexes: Iterable[int]) -> list[list[int]]:
    """Sorted indexes as half-open ``[start, end)`` ranges: a 1 TB transfer's held chunks stay a short list."""
    ranges: list[list[int]] = []
    for index in indexes:
        if ranges and ranges[-1][1] == index:
            ranges[-1][1] = index + 1
        else:
            ranges.append([index, index + 1])
    return ranges


def from_ranges(ranges: Any, limit: int) -> set[int]:
    """The indexes of ``[start, end)`` ranges a peer sent, each checked to lie in ``0..limit``."""
    if not isinstance(ranges, list):
        raise ValueError("held chunks must be a list of [start, end) ranges")
    indexes: set[int] = set()
    for item in ranges:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            or not 0 <= item[0] < item[1] <= limit
        ):
            raise ValueError(f"held chunk range {str(item)[:40]} is not within 0..{limit}")
        indexes.update(range(item[0], item[1]))
    return indexes


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` atomically (temporary file, fsync, rename): a crash leaves the old state or the new."""
    # A name per thread: chunks (which hold the folder's lock shared) may refresh the state at the same time.
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a JSON object")
    return document


@contextmanager
def locked(folder: Path, *, shared: bool = False, wait: bool = True) -> Iterator[None]:
    """Hold the ``flock`` of an existing folder (exclusive unless ``shared``). With ``wait=False``,
    BlockingIOError if another holds it."""
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB)
        fcntl.flock(fd, mode)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Spool:
    """One direction's transfer folders (``incoming`` or ``outgoing``) under the node's home."""

    def __init__(self, home: Path, direction: str) -> None:
        self.root = home / SPOOL / direction

    def folder(self, transfer_id: str) -> Path:
        return self.root / transfer_id

    def ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / STATE).exists())

    def state(self, transfer_id: str) -> dict[str, Any] | None:
        path = self.folder(transfer_id) / STATE
        return read_json(path) if path.exists() else None

    def save(self, transfer_id: str, state: dict[str, Any]) -> None:
        write_json(self.folder(transfer_id) / STATE, state)

    def remove(self, transfer_id: str) -> None:
        shutil.rmtree(self.folder(transfer_id), ignore_errors=True)

    # -- the receiving side's chunk files --------------------------------------------------------------------

    def allocate(self, transfer_id: str, size: int, chunks: int) -> None:
        """Create the package file at its full size and an all-zero digest file (one slot per chunk).

        ``posix_fallocate`` reserves the blocks, so a full disk is found at declaration, not at chunk 900 of
        1000; file systems that cannot reserve fall back to a sparse file.
        """
        folder = self.folder(transfer_id)
        with (folder / PART).open("wb") as part:
            try:
                os.posix_fallocate(part.fileno(), 0, size)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                    raise
                part.truncate(size)
        with (folder / DIGESTS).open("wb") as digests:
            digests.truncate(chunks * DIGEST_SIZE)

    def digest_of(self, transfer_id: str, index: int) -> bytes:
        with (self.folder(transfer_id) / DIGESTS).open("rb") as handle:
            handle.seek(index * DIGEST_SIZE)
            return handle.read(DIGEST_SIZE)

    def write_chunk(self, transfer_id: str, index: int, offset: int, data: bytes, digest: bytes) -> None:
        """Write the chunk at its offset and make it durable, then mark it held with its digest."""
        folder = self.folder(transfer_id)
        fd = os.open(folder / PART, os.O_WRONLY)
        try:
            written = os.pwrite(fd, data, offset)
            if written != len(data):
                raise OSError(errno.EIO, f"short write of chunk {index}: {written} of {len(data)} bytes")
            os.fdatasync(fd)  # on disk before anyone is told the chunk is held
        finally:
            os.close(fd)
        fd = os.open(folder / DIGESTS, os.O_WRONLY)
        try:
            # Not fsynced: losing this mark in a power cut only means the chunk is sent again.
            os.pwrite(fd, digest, index * DIGEST_SIZE)
        finally:
            os.close(fd)

    def held(self, transfer_id: str) -> list[int]:
        """Indexes of the chunks on disk, in order, read from the digest file a block at a time."""
        held: list[int] = []
        path = self.folder(transfer_id) / DIGESTS
        if not path.exists():
            return held
        with path.open("rb") as handle:
            base = 0
            while block := handle.read(SCAN_BLOCK):
                for position in range(0, len(block), DIGEST_SIZE):
                    if block[position : position + DIGEST_SIZE] != ZERO:
                        held.append(base + position // DIGEST_SIZE)
                base += len(block) // DIGEST_SIZE
        return held

    def drop_chunks(self, transfer_id: str) -> None:
        """Remove the package file and the digests once the transfer ended (imported or refused)."""
        for name in (PART, DIGESTS):
            (self.folder(transfer_id) / name).unlink(missing_ok=True)
