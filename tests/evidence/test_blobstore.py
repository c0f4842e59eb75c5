"""The content-addressed blob store: streamed, hashed on the way in, and never half-written."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.evidence.blobstore import BlobMismatch, BlobMissing, BlobTooLarge, LocalBlobStore

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
