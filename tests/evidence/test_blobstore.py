"""The content-addressed blob store: streamed, hashed on the way in, and never half-written."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.evidence.blobstore import BlobMismatch, BlobMissing, BlobTooLarge, LocalBlobStore
from accord.evidence.filecopy import RANGE

DATA = os.urandom(3 * 1024 * 1024 + 17)


def _chunks(data: bytes = DATA, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_put_stores_under_the_hash_once(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    first = store.put(_chunks(), max_bytes=len(DATA))
    assert first.sha256 == hashlib.sha256(DATA).hexdigest() and first.size == len(DATA) and first.created
    assert store.local_path(first.sha256).read_bytes() == DATA
    again = store.put(_chunks(size=1000), max_bytes=len(DATA))
    assert again.sha256 == first.sha256 and not again.created
    assert _leftovers(tmp_path) == [store.path(first.sha256)]
    store.delete(first.sha256)
    with pytest.raises(BlobMissing):
        store.open(first.sha256)


def test_a_failing_source_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield DATA[:100_000]
        raise ConnectionResetError("client went away")

    store = LocalBlobStore(tmp_path)
    with pytest.raises(ConnectionResetError):
        store.put(broken(), max_bytes=len(DATA))
    assert _leftovers(tmp_path) == []


def test_limits_and_mismatches_leave_nothing(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path)
    with pytest.raises(BlobTooLarge):
        store.put(_chunks(), max_bytes=len(DATA) - 1)
    with pytest.raises(BlobMismatch, match="size"):
        store.put(_chunks(), max_bytes=len(DATA), expected_size=len(DATA) + 1)
    with pytest.raises(BlobMismatch, match="sha256"):
        store.put(_chunks(), max_bytes=len(DATA), expected_sha256="0" * 64)
    assert _leftovers(tmp_path) == []


def test_a_failing_disk_write_is_reported_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk (ENOSPC) in the writer thread surfaces in the caller, and the partial file goes."""
    real_write = os.write
    written = 0

    def filling_disk(descriptor: int, data: bytes | memoryview) -> int:
        nonlocal written
        if written > 1024 * 1024:
            raise OSError(28, "No space left on device")
        written += len(data)
        return real_write(descriptor, data)

    monkeypatch.setattr(os, "write", filling_disk)
    store = LocalBlobStore(tmp_path)
    with pytest.raises(OSError, match="No space left"):
        store.put(_chunks(), max_bytes=len(DATA))
    monkeypatch.undo()
    assert _leftovers(tmp_path) == []


# put_file: a local file is read, hashed and written with direct I/O range by range (evidence/filecopy.py).
BIG = os.urandom(2 * RANGE + 4099)  # two whole ranges and a short last one


def _source(tmp_path: Path, data: bytes = BIG) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return path


def test_put_file_copies_and_hashes_the_copy(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    reported: list[int] = []
    with _source(tmp_path).open("rb") as source:
        blob = store.put_file(source, max_bytes=len(BIG), expected_size=len(BIG), progress=reported.append)
    assert blob.sha256 == hashlib.sha256(BIG).hexdigest() and blob.size == len(BIG) and blob.created
    assert store.local_path(blob.sha256).read_bytes() == BIG
    assert reported == [RANGE, RANGE, 4099]
    with _source(tmp_path).open("rb") as source:
        assert not store.put_file(source, max_bytes=len(BIG)).created
    assert _leftovers(tmp_path / "store") == [store.path(blob.sha256)]


def test_put_file_of_an_empty_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "store")
    with _source(tmp_path, b"").open("rb") as source:
        blob = store.put_file(source, max_bytes=10)
    assert blob.sha256 == hashlib.sha256(b"").hexdigest() and blob.size == 0


def test_put_file_writes_plain_where_direct_io_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some file systems refuse O_DIRECT (EINVAL when it is switched on, or on the first write): the copy goes on
    with ordinary writes."""
    real_fcntl = fcntl.fcntl
    switched: list[bool] = []

    def refusing(fd: int, command: int, arg: int = 0) -> int:
        if command == fcntl.F_SETFL and arg & os.O_DIRECT:
            switched.append(True)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, command, arg)

    monkeypatch.setattr(fcntl, "fcntl", refusing)
    store = LocalBlobStore(tmp_path / "store")
    with _source(tmp_path).open("rb") as source:
        blob = store.put_file(source, max_bytes=len(BIG))
    assert switched and store.local_path(blob.sha256).read_bytes() == BIG
    assert blob.sha256 == hashlib.sha256(BIG).hexdigest()


def test_put_file_writes_plain_after_a_direct_write_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_pwritev = os.pwritev
    refused: list[int] = []

    def refusing_direct(fd: int, buffers: list[memoryview], offset: int) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(offset)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwritev(fd, buffers, offset)

    _skip_without_direct_io(tmp_path)
    monkeypatch.setattr(os, "pwritev", refusing_direct)
    store = LocalBlobStore(tmp_path / "store")
    with _source(tmp_path).open("rb") as source:
        blob = store.put_file(source, max_bytes=len(BIG))
    assert store.local_path(blob.sha256).read_bytes() == BIG and blob.sha256 == hashlib.sha256(BIG).hexdigest()
    assert refused == [0]  # once: the rest is written plain


def test_put_file_writes_whole_ranges_with_direct_io_and_the_short_last_one_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skip_without_direct_io(tmp_path)
    real_pwritev = os.pwritev
    writes: list[tuple[int, int, bool]] = []

    def noting(fd: int, buffers: list[memoryview], offset: int) -> int:
        writes.append((offset, sum(len(b) for b in buffers), bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT)))
        return real_pwritev(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", noting)
    store = LocalBlobStore(tmp_path / "store")
    with _source(tmp_path).open("rb") as source:
        blob = store.put_file(source, max_bytes=len(BIG))
    assert store.local_path(blob.sha256).read_bytes() == BIG
    assert writes == [(0, RANGE, True), (RANGE, RANGE, True), (2 * RANGE, 4099, False)]


def _skip_without_direct_io(folder: Path) -> None:
    try:
        os.close(os.open(folder / "direct-probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600))
    except OSError:
        pytest.skip("this file system refuses O_DIRECT")
    finally:
        (folder / "direct-probe").unlink(missing_ok=True)


def test_put_file_limits_mismatches_and_read_errors_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalBlobStore(tmp_path / "store")
    path = _source(tmp_path)
    with path.open("rb") as source, pytest.raises(BlobTooLarge):
        store.put_file(source, max_bytes=len(BIG) - 1)
    with path.open("rb") as source, pytest.raises(BlobTooLarge):
        store.put_file(source, max_bytes=RANGE // 2)  # refused inside the first range
    with path.open("rb") as source, pytest.raises(BlobMismatch, match="size"):
        store.put_file(source, max_bytes=len(BIG), expected_size=len(BIG) - 1)  # the file grew since it was sized
    with path.open("rb") as source, pytest.raises(BlobMismatch, match="sha256"):
        store.put_file(source, max_bytes=len(BIG), expected_sha256="0" * 64)

    def failing_disk(*_args: object) -> int:
        raise OSError(errno.EIO, "Input/output error")

    # Reading the source into buffers (preadv: the file is open for writing, so no lease lets the copy map it;
    # tests/evidence/test_filecopy.py covers read errors in mapped ranges), and writing the store.
    for call in ("preadv", "pwritev"):
        with monkeypatch.context() as patched:
            patched.setattr(os, call, failing_disk)
            writer = os.open(path, os.O_WRONLY)
            try:
                with path.open("rb") as source, pytest.raises(OSError, match="Input/output"):
                    store.put_file(source, max_bytes=len(BIG))
            finally:
                os.close(writer)
    assert _leftovers(tmp_path / "store") == []
    with path.open("rb") as source:  # and the store works on
        assert store.put_file(source, max_bytes=len(BIG)).sha256 == hashlib.sha256(BIG).hexdigest()


def test_put_file_of_a_pipe_streams_it(tmp_path: Path) -> None:
    """Not a regular file (a pipe, a device): no kernel copy; the bytes are streamed as put does."""
    store = LocalBlobStore(tmp_path / "store")
    read_end, write_end = os.pipe()
    data = DATA[:50_000]
    os.write(write_end, data)  # fits in the pipe's buffer
    os.close(write_end)
    reported: list[int] = []
    with os.fdopen(read_end, "rb") as source:
        blob = store.put_file(source, max_bytes=len(data), progress=reported.append)
    assert blob.sha256 == hashlib.sha256(data).hexdigest() and sum(reported) == len(data)
