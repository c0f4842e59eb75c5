"""Content-addressed blob store for evidence files.

A blob's name is its SHA-256, computed while the bytes stream in (Convention requirement 41: hash at ingest),
so a file is read once, never held whole in memory, and two copies of the same bytes are stored once. The
interface is small (put, open, has, delete) so that S3-compatible object storage can sit behind it later.

Writes go to a temporary file in the store's own folder, are flushed to disk, and only then renamed to
their final name: a crash or a truncated upload leaves no blob that claims a hash it does not have.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO, Protocol

from accord.errors import AccordError
from accord.evidence.filecopy import CopyLimitExceeded, copy_and_hash
from accord.evidence.inplace import SourceChanged

CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobTooLarge(AccordError):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"file is larger than the limit of {limit} bytes (setting evidence_max_item_bytes)")


class BlobMismatch(AccordError):
    """The bytes received are not the bytes announced: a truncated or altered transfer."""

    def __init__(self, field: str, expected: str, actual: str) -> None:
        self.field = field
        self.expected = expected
        self.actual = actual
        super().__init__(f"{field}: expected {expected}, received {actual} (truncated or altered transfer)")


class BlobSourceChanged(AccordError):
    """A process asked to write or truncate the file while it was being stored (filecopy's read lease broke)."""

    def __init__(self) -> None:
        super().__init__(
            "the file was opened for writing while it was being stored; nothing was stored. "
            "Add it again once no program is writing to it"
        )


class BlobMissing(AccordError):
    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        super().__init__(f"blob {sha256} is missing from the evidence store")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool = True  # False when the store already held these bytes


class BlobStore(Protocol):
    def put(
        self,
        chunks: Iterable[bytes],
        *,
        max_bytes: int,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> StoredBlob:
        """Store a stream; raise BlobTooLarge or BlobMismatch (and keep nothing) when it is not as announced."""
        ...

    def put_file(
        self,
        source: BinaryIO,
        *,
        max_bytes: int,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> StoredBlob:
        """Store an open local file from its start, as ``put`` does a stream (a store may copy it faster)."""
        ...

    def open(self, sha256: str) -> BinaryIO: ...

    def local_path(self, sha256: str) -> Path:
        """A path on this machine holding the blob (packages hard-link it instead of copying)."""
        ...

    def has(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None: ...


def check_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError(f"not a lowercase hex SHA-256: {value[:80]!r}")
    return value


def read_chunks(stream: IO[bytes], size: int = CHUNK) -> Iterable[bytes]:
    while chunk := stream.read(size):
        yield chunk


def _reporting(chunks: Iterable[bytes], progress: Callable[[int], None] | None) -> Iterable[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress(len(chunk))
        yield chunk


class _PipelinedWriter:
    """Writes chunks to a file descriptor from a second thread while the caller hashes the next chunk.

    Hashing and writing each release the GIL, so on two cores ingest runs at the speed of the slower of the two
    instead of their sum (measured in bench/evidence.py). At most ``depth`` chunks wait in memory. Leaving the
    block normally flushes and fsyncs; leaving it with an exception stops the writer and closes the file.
    """

    def __init__(self, descriptor: int, depth: int = 4) -> None:
        self._descriptor = descriptor
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="blob-writer", daemon=True)

    def __enter__(self) -> _PipelinedWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while (chunk := self._queue.get()) is not None:
                if self._error is None:
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(self._descriptor, view) :]
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            self._error = exc
            while self._queue.get() is not None:  # drain, so the producer never blocks on a dead writer
                pass

    def write(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: object) -> None:
        self._queue.put(None)
        self._thread.join()
        try:
            if kind is None:
                if self._error is not None:
                    raise self._error
                os.fsync(self._descriptor)
        finally:
            os.close(self._descriptor)


class LocalBlobStore:
    """Blobs as files under ``root/sha256/<first two hex digits>/<hex>`` (a fan-out keeps folders small)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._incoming = root / "incoming"

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self._root / "sha256" / sha256[:2] / sha256

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        max_bytes: int,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
    ) -> StoredBlob:
        def write(handle: int) -> tuple[str, int]:
            digest = hashlib.sha256()
            size = 0
            with _PipelinedWriter(handle) as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
            return digest.hexdigest(), size

        return self._store(write, expected_sha256, expected_size)

    def put_file(
        self,
        source: BinaryIO,
        *,
        max_bytes: int,
        expected_sha256: str | None = None,
        expected_size: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> StoredBlob:
        if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):  # a pipe or a device: streamed, not read at offsets
            return self.put(
                _reporting(read_chunks(source), progress),
                max_bytes=max_bytes,
                expected_sha256=expected_sha256,
                expected_size=expected_size,
            )

        def write(handle: int) -> tuple[str, int]:
            try:
                with os.fdopen(handle, "r+b", buffering=0, closefd=True) as target:
                    copied = copy_and_hash(source.fileno(), target.fileno(), limit=max_bytes, progress=progress)
            except CopyLimitExceeded:
                raise BlobTooLarge(max_bytes) from None
            except SourceChanged:
                raise BlobSourceChanged from None
            return copied.sha256, copied.size

        return self._store(write, expected_sha256, expected_size)

    def _store(
        self,
        write: Callable[[int], tuple[str, int]],
        expected_sha256: str | None,
        expected_size: int | None,
    ) -> StoredBlob:
        """Let ``write`` fill (and close) a new file in ``incoming``, check it is what was announced, and move
        it to its content address; on any error remove it, so no blob claims a hash it does not have."""
        self._incoming.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self._incoming, prefix="upload-")
        temp = Path(temp_name)
        try:
            sha256, size = write(handle)
            if expected_size is not None and size != expected_size:
                raise BlobMismatch("size", f"{expected_size} bytes", f"{size} bytes")
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise BlobMismatch("sha256", expected_sha256, sha256)
            final = self.path(sha256)
            if final.exists():
                temp.unlink()
                return StoredBlob(sha256, size, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(temp, final)
            return StoredBlob(sha256, size)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobMissing(sha256) from None

    def local_path(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise BlobMissing(sha256)
        return path

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)
