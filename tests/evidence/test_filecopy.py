"""Reading under a read lease (inplace.py): a file no one writes is hashed in place, by filecopy's ingest and by
the package verifier; a file being written is read into buffers, and one opened for writing meanwhile is refused.

Every test uses real leases, real mappings and real processes on the test's own files; where this machine's file
system or kernel refuses leases, the tests that need one are skipped and say why."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accord.evidence import inplace
from accord.evidence.blobstore import BlobSourceChanged, LocalBlobStore
from accord.evidence.filecopy import RANGE, CopiedFile, copy_and_hash

BIG = os.urandom(2 * RANGE + 4099)  # two whole ranges and a short last one


def _source(folder: Path, data: bytes = BIG) -> Path:
    path = folder / "source.bin"
    path.write_bytes(data)
    return path


def _copy(source: Path, target: Path) -> CopiedFile:
    with source.open("rb") as reading, target.open("w+b") as writing:
        return copy_and_hash(reading.fileno(), writing.fileno(), limit=source.stat().st_size)


def _require_leases(folder: Path) -> None:
    probe = folder / "lease-probe"
    probe.write_bytes(b"x")
    handle = os.open(probe, os.O_RDONLY)
    try:
        fcntl.fcntl(handle, fcntl.F_SETLEASE, fcntl.F_RDLCK)
        fcntl.fcntl(handle, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    except OSError as exc:
        pytest.skip(f"this file system or kernel refuses read leases: {exc}")
    finally:
        os.close(handle)
        probe.unlink()
    if not inplace.can_populate():
        pytest.skip("this kernel has no MADV_POPULATE_READ (Linux 5.14)")


def _open_for_writing(path: Path) -> int:
    """Open ``path`` for writing without waiting: raises EAGAIN (and breaks the lease) while one is held."""
    return os.open(path, os.O_WRONLY | os.O_NONBLOCK)


def test_a_file_no_one_writes_is_hashed_in_place_and_released_after(tmp_path: Path) -> None:
    _require_leases(tmp_path)
    source, target = _source(tmp_path), tmp_path / "copy.bin"
    copied = _copy(source, target)
    assert copied.mapped
    assert copied.sha256 == hashlib.sha256(BIG).hexdigest() and copied.size == len(BIG)
    assert target.read_bytes() == BIG
    os.close(_open_for_writing(source))  # the lease is gone: a writer gets in at once


def test_a_file_open_for_writing_is_read_into_buffers(tmp_path: Path) -> None:
    source, target = _source(tmp_path), tmp_path / "copy.bin"
    writer = os.open(source, os.O_WRONLY)  # the kernel refuses a read lease while this is open
    try:
        copied = _copy(source, target)
    finally:
        os.close(writer)
    assert not copied.mapped
    assert copied.sha256 == hashlib.sha256(BIG).hexdigest() and target.read_bytes() == BIG


def test_a_kernel_without_populate_gets_buffers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inplace, "MADV_POPULATE_READ", 999)  # an advice no kernel knows: EINVAL, as before 5.14
    source, target = _source(tmp_path), tmp_path / "copy.bin"
    copied = _copy(source, target)
    assert not copied.mapped and copied.sha256 == hashlib.sha256(BIG).hexdigest()


def test_opening_the_source_for_writing_mid_copy_fails_it_and_leaves_nothing(tmp_path: Path) -> None:
    """The break is seen by the reader before its next range: the copy stops early, the store keeps nothing,
    and the writer gets in as soon as the copy has failed."""
    _require_leases(tmp_path)
    ranges = 12
    data = os.urandom(ranges * RANGE)
    source = _source(tmp_path, data)
    store = LocalBlobStore(tmp_path / "store")
    refused: list[int] = []
    reported: list[int] = []

    def write_into_the_source(length: int) -> None:
        reported.append(length)
        if len(reported) == 1:
            try:
                os.close(_open_for_writing(source))
            except OSError as exc:
                refused.append(exc.errno or 0)

    with source.open("rb") as reading, pytest.raises(BlobSourceChanged, match="opened for writing"):
        store.put_file(reading, max_bytes=len(data), progress=write_into_the_source)
    assert refused == [errno.EAGAIN]  # the lease held the writer off
    assert len(reported) < ranges  # stopped early: the reader saw the break, not only the final check
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    os.close(_open_for_writing(source))  # released


def test_a_truncation_after_the_last_range_is_mapped_is_caught_and_waits(tmp_path: Path) -> None:
    """Another process truncates the file after every range is mapped: its truncate(2) waits for the lease (no
    SIGBUS in the copy), the copy's check after the last write fails it, and then the truncation goes ahead."""
    _require_leases(tmp_path)
    source = _source(tmp_path)
    store = LocalBlobStore(tmp_path / "store")
    script = f"import os, sys\nprint('ready', flush=True)\nos.truncate({str(source)!r}, 0)\n"
    truncating: list[subprocess.Popen[str]] = []
    reported: list[int] = []

    def truncate_at_the_last_range(length: int) -> None:
        reported.append(length)
        if sum(reported) == len(BIG):  # the reader has mapped every range and returned
            child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
            truncating.append(child)
            assert child.stdout is not None and child.stdout.readline() == "ready\n"
            _wait_for_break(child)

    with source.open("rb") as reading, pytest.raises(BlobSourceChanged):
        store.put_file(reading, max_bytes=len(BIG), progress=truncate_at_the_last_range)
    assert truncating[0].wait(timeout=30) == 0
    assert source.stat().st_size == 0
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


def _wait_for_break(child: subprocess.Popen[str]) -> None:
    """Until /proc/locks lists the child as the breaker of a lease: its truncate(2) is waiting for the copy."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "BREAKER" in fields and str(child.pid) in fields:
                return
        time.sleep(0.01)
    raise AssertionError("the truncating process never waited on the lease")


def test_a_read_error_in_a_mapped_range_is_an_error_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MADV_POPULATE_READ reports what touching the page would have turned into SIGBUS; the copy raises EIO."""
    _require_leases(tmp_path)
    monkeypatch.setattr(inplace, "can_populate", lambda: True)
    monkeypatch.setattr(inplace, "MADV_POPULATE_READ", 999)  # madvise fails on every range
    source = _source(tmp_path)
    store = LocalBlobStore(tmp_path / "store")
    with source.open("rb") as reading, pytest.raises(OSError, match="cannot read the source between bytes 0 and"):
        store.put_file(reading, max_bytes=len(BIG))
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []
    os.close(_open_for_writing(source))  # released after the failure too


# -- inplace.hash_in_place, as the package verifier uses it -------------------------------------------------------


def test_hash_in_place_of_an_unaligned_span_across_ranges(tmp_path: Path) -> None:
    _require_leases(tmp_path)
    data = os.urandom(3 * inplace.RANGE + 12345)
    path = _source(tmp_path, data)
    reported: list[int] = []
    offset, length = 4096 * 3 + 77, len(data) - 4096 * 3 - 77 - 1000  # not page-aligned at either end
    with path.open("rb") as reading:
        digest = inplace.hash_in_place(reading.fileno(), offset, length, reported.append)
    assert digest == hashlib.sha256(data[offset : offset + length]).hexdigest()
    assert sum(reported) == length and len(reported) == 3  # ranges start at page-aligned offsets
    with path.open("rb") as reading:
        assert inplace.hash_in_place(reading.fileno(), 10, 0) == hashlib.sha256(b"").hexdigest()
    os.close(_open_for_writing(path))  # released


def test_hash_in_place_gives_way_to_a_file_open_for_writing(tmp_path: Path) -> None:
    path = _source(tmp_path)
    writer = os.open(path, os.O_WRONLY)
    try:
        with path.open("rb") as reading:
            assert inplace.hash_in_place(reading.fileno(), 0, len(BIG)) is None  # the caller reads it itself
    finally:
        os.close(writer)


def test_hash_in_place_stops_when_the_file_is_opened_for_writing(tmp_path: Path) -> None:
    _require_leases(tmp_path)
    ranges = 8
    path = _source(tmp_path, os.urandom(ranges * inplace.RANGE))
    reported: list[int] = []

    def break_the_lease(length: int) -> None:
        reported.append(length)
        if len(reported) == 1:
            with pytest.raises(BlockingIOError):
                _open_for_writing(path)

    with path.open("rb") as reading, pytest.raises(inplace.SourceChanged):
        inplace.hash_in_place(reading.fileno(), 0, ranges * inplace.RANGE, break_the_lease)
    assert len(reported) < ranges  # the mapping thread saw the break before the end
    os.close(_open_for_writing(path))
