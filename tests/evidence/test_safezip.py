"""safezip: every hostile archive is refused with the member named, bombs cost nothing, packages round-trip.

Each hostile archive is built here by hand — zipfile with crafted ZipInfo, then byte surgery on the central
directory and local headers (APPNOTE.TXT 4.3.7, 4.3.12, 4.3.16) where zipfile would not write the lie itself.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from accord.errors import InvalidInput
from accord.evidence.safezip import MemberReader, SafeZip, UnsafeArchive, ZipLimits, write_package_zip

MIB = 1024 * 1024
DEFAULT = ZipLimits()

# Field offsets inside a central directory entry (4.3.12) and a local file header (4.3.7).
CD_FLAGS, CD_METHOD, CD_CRC, CD_COMPRESSED, CD_SIZE, CD_NAME_LENGTH, CD_OFFSET, CD_NAME = 8, 10, 16, 20, 24, 28, 42, 46
LH_FLAGS, LH_CRC, LH_COMPRESSED, LH_SIZE, LH_NAME = 6, 14, 18, 22, 30


# --- building archives -------------------------------------------------------------------------------------------


def info(name: str, *, method: int = zipfile.ZIP_STORED, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    entry.compress_type = method
    entry.create_system = 3
    entry.external_attr = mode << 16
    return entry


def build(path: Path, members: Sequence[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests write on purpose
        with zipfile.ZipFile(path, "w") as archive:
            for entry, data in members:
                archive.writestr(info(entry) if isinstance(entry, str) else entry, data)
    return path


def central_entry(data: bytes | bytearray, name: bytes) -> int:
    """Offset of the central directory entry for ``name`` (the name follows the fixed 46 bytes)."""
    position = data.find(b"PK\x01\x02")
    while position >= 0:
        length = struct.unpack_from("<H", data, position + CD_NAME_LENGTH)[0]
        if bytes(data[position + CD_NAME : position + CD_NAME + length]) == name:
            return position
        position = data.find(b"PK\x01\x02", position + 4)
    raise AssertionError(f"no central entry for {name!r}")


def local_header(data: bytes | bytearray, name: bytes) -> int:
    central = central_entry(data, name)
    offset: int = struct.unpack_from("<L", data, central + CD_OFFSET)[0]
    return offset


def patch(path: Path, edit: Callable[[bytearray], None]) -> Path:
    data = bytearray(path.read_bytes())
    edit(data)
    path.write_bytes(bytes(data))
    return path


def set_field(data: bytearray, offset: int, fmt: str, value: int) -> None:
    struct.pack_into(fmt, data, offset, value)


def rename_raw(data: bytearray, old: bytes, new: bytes) -> None:
    """Rewrite a member's name bytes (same length) in both its local header and its central entry."""
    assert len(old) == len(new)
    local, central = local_header(data, old), central_entry(data, old)
    data[local + LH_NAME : local + LH_NAME + len(old)] = new
    data[central + CD_NAME : central + CD_NAME + len(old)] = new


def rejection(path: Path, limits: ZipLimits = DEFAULT) -> UnsafeArchive:
    with pytest.raises(UnsafeArchive) as caught:
        SafeZip.open(path, limits).close()
    return caught.value


def read_all(archive: SafeZip, name: str, **options: bool) -> bytes:
    with archive.open_member(name, **options) as reader:
        return reader.read()


# --- the archive as a whole --------------------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "pkg.zip"
    path.write_bytes(os.urandom(4096))
    error = rejection(path)
    assert error.member is None
    assert str(error).startswith("pkg.zip: not a zip archive")


def test_truncated_archive(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.txt", b"hello" * 100)])
    path.write_bytes(path.read_bytes()[:-7])
    error = rejection(path)
    assert error.member is None
    assert "truncated" in error.reason


def test_too_many_entries(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(f"data/{index}", b"") for index in range(11)])
    error = rejection(path, ZipLimits(max_entries=10))
    assert error.member is None
    assert error.reason == "11 entries exceed the limit of 10"


def test_many_entries_bomb_refused_from_the_end_record_alone(tmp_path: Path) -> None:
    # 100,001 entries needs the ZIP64 end records (4.3.14/4.3.15): the count is read there, nothing else parsed.
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(100_001):
            archive.writestr(info(f"d/{index}"), b"")
    started = time.perf_counter()
    error = rejection(path)
    assert time.perf_counter() - started < 0.1
    assert error.reason == "100001 entries exceed the limit of 100000"
    with SafeZip.open(path, ZipLimits(max_entries=200_000)) as archive:  # the same archive, parsed whole
        assert len(archive.names()) == 100_001


def test_exactly_65535_entries_without_zip64(tmp_path: Path) -> None:
    # 0xFFFF in the 16-bit count is then a count, not the ZIP64 marker (no ZIP64 locator follows).
    path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for index in range(0xFFFF):
            archive.writestr(info(f"d/{index}"), b"")
    assert b"PK\x06\x07" not in path.read_bytes()[-200:]
    with SafeZip.open(path, DEFAULT) as opened:
        assert len(opened.names()) == 0xFFFF


def test_end_record_lying_about_the_count(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a", b"a"), ("data/b", b"b")])
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    set_field(data, end + 8, "<H", 3)
    set_field(data, end + 10, "<H", 3)
    path.write_bytes(bytes(data))
    assert "entry count does not match" in rejection(path).reason
    set_field(data, end + 8, "<H", 65_000)
    set_field(data, end + 10, "<H", 65_000)
    path.write_bytes(bytes(data))
    assert rejection(path, ZipLimits(max_entries=1000)).reason == "65000 entries exceed the limit of 1000"


def test_data_before_the_archive(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a", b"a")])
    path.write_bytes(b"MZ" + bytes(100) + path.read_bytes())
    assert rejection(path).member is None


def test_end_record_hidden_in_the_comment(tmp_path: Path) -> None:
    # Readers that search for the last signature and readers that check the comment length would see two
    # different archives: refused as ambiguous.
    path = build(tmp_path / "pkg.zip", [("data/a", b"a")])
    with zipfile.ZipFile(path, "a") as archive:
        archive.comment = b"signed: PK\x05\x06 (no record)"
    error = rejection(path)
    assert error.member is None
    assert error.reason.startswith("ambiguous archive")


def test_zip64_members_are_read(tmp_path: Path) -> None:
    path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, method in (("data/stored.bin", zipfile.ZIP_STORED), ("meta.txt", zipfile.ZIP_DEFLATED)):
            with archive.open(info(name, method=method), "w", force_zip64=True) as member:
                member.write(name.encode() * 100)
    with SafeZip.open(path, DEFAULT) as archive:
        assert archive.names() == ["data/stored.bin", "meta.txt"]
        assert read_all(archive, "data/stored.bin") == b"data/stored.bin" * 100
        assert archive.read_metadata("meta.txt") == b"meta.txt" * 100


# --- names -------------------------------------------------------------------------------------------------------

HOSTILE_NAMES = [
    ("data/../../etc/passwd", "path escapes the package"),
    ("../outside", "path escapes the package"),
    ("/etc/passwd", "absolute path"),
    ("C:\\Windows\\evil.dll", "absolute path (drive letter)"),
    ("C:evil.dll", "absolute path (drive letter)"),
    ("\\\\server\\share\\evil", "absolute path"),
    ("data\\..\\evil", "backslash in name"),
    ("data//x", "empty path segment"),
    ("data/./x", "'.' segment in name"),
    ("data/bell\x07.txt", "control character in name"),
    ("data/line\nbreak.txt", "control character in name"),
    ("data/del\x7f.txt", "control character in name"),
    ("data/invoice\u202efdp.exe", "bidirectional control character in name"),
]


@pytest.mark.parametrize(("name", "reason"), HOSTILE_NAMES)
def test_hostile_names(tmp_path: Path, name: str, reason: str) -> None:
    path = build(tmp_path / "pkg.zip", [("bagit.txt", b"ok"), (name, b"payload")])
    error = rejection(path)
    assert (error.member, error.reason) == (name, reason)
    assert str(error) == f"pkg.zip: {name}: {reason}"


def test_the_example_message(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/../../etc/passwd", b"root")])
    assert str(rejection(path)) == "pkg.zip: data/../../etc/passwd: path escapes the package"


def test_hostile_directory_name(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/../", mode=stat.S_IFDIR | 0o755), b"")])
    assert rejection(path).member == "data/../"


def test_name_too_long(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/" + "a" * 1100, b"x")])
    error = rejection(path)
    assert error.member is not None
    assert error.member.startswith("data/aaaa")
    assert error.reason == "name of 1105 bytes exceeds 1024"


def test_nul_in_name(tmp_path: Path) -> None:
    # zipfile cuts a name at NUL when it reads it, so the raw bytes are checked.
    path = build(tmp_path / "pkg.zip", [("data/a_b.txt", b"x")])
    patch(path, lambda data: rename_raw(data, b"data/a_b.txt", b"data/a\x00b.txt"))
    error = rejection(path)
    assert (error.member, error.reason) == ("data/a\x00b.txt", "control character in name")


def test_invalid_utf8_name(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/\u00e9.txt", b"x")])  # zipfile sets the UTF-8 flag (bit 11)
    patch(path, lambda data: rename_raw(data, "data/\u00e9.txt".encode(), b"data/\xff\xa9.txt"))
    error = rejection(path)
    assert (error.member, error.reason) == ("data/\\xff\\xa9.txt", "name is not valid UTF-8")


def test_non_ascii_name_without_the_utf8_flag(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/Xa.txt", b"x")])
    patch(path, lambda data: rename_raw(data, b"data/Xa.txt", b"data/\x82a.txt"))  # cp437 or Latin-1? refused
    error = rejection(path)
    assert (error.member, error.reason) == ("data/\\x82a.txt", "name is neither ASCII nor flagged as UTF-8")


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("data/report.pdf", "data/report.pdf", "duplicate name"),
        ("data/Report.pdf", "data/report.PDF", "same file as 'data/Report.pdf' on a case-insensitive file system"),
        ("data/caf\u00e9.txt", "data/cafe\u0301.txt", "same file as 'data/caf\u00e9.txt' on a case-insensitive"),
        ("data/STRASSE.txt", "data/stra\u00dfe.txt", "same file as 'data/STRASSE.txt' on a case-insensitive"),
    ],
)
def test_duplicate_names(tmp_path: Path, first: str, second: str, reason: str) -> None:
    path = build(tmp_path / "pkg.zip", [(first, b"one"), (second, b"two")])
    error = rejection(path)
    assert error.member == second
    assert error.reason.startswith(reason)


def test_file_also_used_as_a_directory(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/x", b"file"), ("data/X/y", b"below")])
    error = rejection(path)
    assert (error.member, error.reason) == ("data/x", "path is also used as a directory (by 'data/X/y')")


# --- member types, flags, methods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "symbolic link"),
        (stat.S_IFIFO | 0o644, "not a regular file (file type 0o10000)"),
        (stat.S_IFCHR | 0o644, "not a regular file (file type 0o20000)"),
        (stat.S_IFBLK | 0o644, "not a regular file (file type 0o60000)"),
        (stat.S_IFSOCK | 0o644, "not a regular file (file type 0o140000)"),
        (stat.S_IFDIR | 0o755, "file type and name disagree on whether this is a directory"),
    ],
)
def test_non_regular_members(tmp_path: Path, mode: int, reason: str) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/link", mode=mode), b"/etc/passwd")])
    error = rejection(path)
    assert (error.member, error.reason) == ("data/link", reason)


def test_directory_entry_with_content(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/dir/", mode=stat.S_IFDIR | 0o755), b"hidden")])
    error = rejection(path)
    assert (error.member, error.reason) == ("data/dir/", "directory entry with content")


def test_encrypted_member(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/secret.bin", b"\x00" * 64)])

    def encrypt_flag(data: bytearray) -> None:
        data[central_entry(data, b"data/secret.bin") + CD_FLAGS] |= 1
        data[local_header(data, b"data/secret.bin") + LH_FLAGS] |= 1

    patch(path, encrypt_flag)
    error = rejection(path)
    assert (error.member, error.reason) == ("data/secret.bin", "encrypted member")


def test_unsupported_compression_method(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/x.bin", method=zipfile.ZIP_BZIP2), b"bzip2 " * 100)])
    error = rejection(path)
    assert (error.member, error.reason) == ("data/x.bin", "compression method 12 is not STORED or DEFLATED")


# --- declared sizes, ratios, layout ------------------------------------------------------------------------------


def test_member_above_the_size_limit(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/big.bin", b"x" * 101)])
    error = rejection(path, ZipLimits(max_member_bytes=100))
    assert (error.member, error.reason) == ("data/big.bin", "declared size 101 exceeds 100")


def test_total_above_the_limit(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.bin", b"a" * 100), ("data/b.bin", b"b" * 100)])
    error = rejection(path, ZipLimits(max_total_bytes=150))
    assert (error.member, error.reason) == ("data/b.bin", "total declared size exceeds 150")


def test_deflate_bomb_refused_without_inflating(tmp_path: Path) -> None:
    path = tmp_path / "bomb.zip"
    entry = info("data/zeros.bin", method=zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(path, "w") as archive, archive.open(entry, "w") as member:
        zeros = bytes(MIB)
        for _ in range(200):
            member.write(zeros)
    assert path.stat().st_size < MIB  # 200 MiB of zeros in about 200 KiB
    started = time.perf_counter()
    error = rejection(path)
    assert time.perf_counter() - started < 0.1  # inflating 200 MiB would take far longer
    assert error.member == "data/zeros.bin"
    assert "ratio above 200" in error.reason


def test_whole_archive_ratio(tmp_path: Path) -> None:
    # Members under 1 MiB are not judged one by one; together they still may not inflate 200-fold.
    members = [(info(f"data/{index}.bin", method=zipfile.ZIP_DEFLATED), bytes(MIB - 1)) for index in range(30)]
    error = rejection(build(tmp_path / "pkg.zip", members))
    assert error.member is None
    assert "ratio above 200" in error.reason


def test_stored_sizes_that_disagree(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.bin", b"a" * 100), ("data/b.bin", b"b" * 100)])
    patch(path, lambda data: set_field(data, central_entry(data, b"data/a.bin") + CD_SIZE, "<L", 5000))
    error = rejection(path)
    assert (error.member, error.reason) == (
        "data/a.bin",
        "STORED member whose compressed and uncompressed sizes differ",
    )


def test_sizes_lying_into_the_next_member(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.bin", b"a" * 100), ("data/b.bin", b"b" * 100)])

    def enlarge(data: bytearray) -> None:
        central = central_entry(data, b"data/a.bin")
        set_field(data, central + CD_COMPRESSED, "<L", 150)
        set_field(data, central + CD_SIZE, "<L", 150)

    patch(path, enlarge)
    error = rejection(path)
    assert (error.member, error.reason) == ("data/a.bin", "member data overlaps the next member or the directory")


def test_overlapping_members(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.bin", b"a" * 100), ("data/b.bin", b"b" * 100)])
    patch(path, lambda data: set_field(data, central_entry(data, b"data/b.bin") + CD_OFFSET, "<L", 0))
    assert rejection(path).reason == "member data overlaps the next member or the directory"


# --- reading members ---------------------------------------------------------------------------------------------


def test_stored_member_with_a_bad_crc(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/x.bin", b"evidence" * 1000)])
    patch(path, lambda data: data.__setitem__(local_header(data, b"data/x.bin") + LH_NAME + 10 + 500, ord("!")))
    with SafeZip.open(path, DEFAULT) as archive:
        with pytest.raises(UnsafeArchive) as caught:
            read_all(archive, "data/x.bin")
        assert str(caught.value) == "pkg.zip: data/x.bin: truncated or corrupt (Bad CRC-32)"
        # The package verifier checks SHA-256 itself and may skip the CRC; the changed byte comes through.
        assert b"!" in read_all(archive, "data/x.bin", verify_crc=False)


def test_deflated_member_with_a_bad_crc(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/x.txt", method=zipfile.ZIP_DEFLATED), b"evidence" * 1000)])

    def wrong_crc(data: bytearray) -> None:
        set_field(data, central_entry(data, b"data/x.txt") + CD_CRC, "<L", 0x12345678)
        set_field(data, local_header(data, b"data/x.txt") + LH_CRC, "<L", 0x12345678)

    patch(path, wrong_crc)
    with SafeZip.open(path, DEFAULT) as archive, pytest.raises(UnsafeArchive) as caught:
        read_all(archive, "data/x.txt")
    assert str(caught.value) == "pkg.zip: data/x.txt: truncated or corrupt (Bad CRC-32)"


def test_corrupt_deflate_stream(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/x.txt", method=zipfile.ZIP_DEFLATED), os.urandom(3000))])

    def scramble(data: bytearray) -> None:
        start = local_header(data, b"data/x.txt") + LH_NAME + len(b"data/x.txt")
        data[start : start + 8] = b"\xff" * 8

    patch(path, scramble)
    with SafeZip.open(path, DEFAULT) as archive, pytest.raises(UnsafeArchive) as caught:
        read_all(archive, "data/x.txt")
    assert caught.value.member == "data/x.txt"
    assert caught.value.reason.startswith("truncated or corrupt (")


def deflated_with_declared_size(tmp_path: Path, content: bytes, declared: int) -> Path:
    """A deflated member whose directory entry declares ``declared`` bytes, with the CRC of what that yields."""
    path = build(tmp_path / "pkg.zip", [(info("data/x.txt", method=zipfile.ZIP_DEFLATED), content)])
    crc = zlib.crc32(content[:declared])

    def lie(data: bytearray) -> None:
        central, local = central_entry(data, b"data/x.txt"), local_header(data, b"data/x.txt")
        set_field(data, central + CD_SIZE, "<L", declared)
        set_field(data, local + LH_SIZE, "<L", declared)
        set_field(data, central + CD_CRC, "<L", crc)
        set_field(data, local + LH_CRC, "<L", crc)

    return patch(path, lie)


def test_member_that_ends_before_its_declared_size(tmp_path: Path) -> None:
    # The deflate stream ends after 1000 bytes, the directory says 2000, and the CRC fits the 1000: zipfile
    # alone would return 1000 bytes without a word.
    path = deflated_with_declared_size(tmp_path, b"y" * 1000, declared=2000)
    with SafeZip.open(path, DEFAULT) as archive, pytest.raises(UnsafeArchive) as caught:
        read_all(archive, "data/x.txt")
    assert str(caught.value) == "pkg.zip: data/x.txt: truncated or corrupt (ended after 1000 of 2000 bytes)"


def test_member_never_yields_more_than_declared(tmp_path: Path) -> None:
    # The stream inflates to 5000 bytes but 1000 are declared: no read, of any shape, gets a byte more.
    path = deflated_with_declared_size(tmp_path, bytes(range(250)) * 20, declared=1000)
    with SafeZip.open(path, DEFAULT) as archive:
        assert len(read_all(archive, "data/x.txt")) == 1000
        with archive.open_member("data/x.txt") as reader:
            chunks = iter(lambda: reader.read(7), b"")
            assert sum(len(chunk) for chunk in chunks) == 1000
        with archive.open_member("data/x.txt") as reader:
            buffer = bytearray(4096)
            assert reader.readinto(buffer) + reader.readinto(buffer) == 1000


def test_the_reader_guard_itself() -> None:
    # Whatever the source below does, MemberReader stops it at the declared size.
    reader = MemberReader(io.BytesIO(b"z" * 20), archive="pkg.zip", member="data/z", declared_size=10)
    with pytest.raises(UnsafeArchive) as caught:
        reader.read()
    assert str(caught.value) == "pkg.zip: data/z: yields more than its declared 10 bytes"
    reader = MemberReader(io.BytesIO(b"z" * 20), archive="pkg.zip", member="data/z", declared_size=10)
    with pytest.raises(UnsafeArchive):
        reader.readinto(bytearray(64))


def test_local_header_that_disagrees_with_the_directory(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("data/a.bin", b"a" * 100)])

    def rename_local(data: bytearray) -> None:
        local = local_header(data, b"data/a.bin")
        data[local + LH_NAME : local + LH_NAME + 10] = b"data/b.bin"

    patch(path, rename_local)
    with SafeZip.open(path, DEFAULT) as archive, pytest.raises(UnsafeArchive) as caught:
        read_all(archive, "data/a.bin")
    assert caught.value.member == "data/a.bin"
    assert "local file header disagrees" in caught.value.reason


def test_metadata_members_are_bounded(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [("bagit.txt", b"BagIt-Version: 1.0\n"), ("manifest-sha256.txt", b"m" * 64)])
    with SafeZip.open(path, ZipLimits(max_metadata_member_bytes=32)) as archive:
        assert archive.read_metadata("bagit.txt") == b"BagIt-Version: 1.0\n"
        with pytest.raises(UnsafeArchive) as caught:
            archive.read_metadata("manifest-sha256.txt")
    assert (caught.value.member, caught.value.reason) == (
        "manifest-sha256.txt",
        "metadata member of 64 bytes exceeds 32",
    )


def test_unknown_and_directory_names_are_not_members(tmp_path: Path) -> None:
    path = build(tmp_path / "pkg.zip", [(info("data/", mode=stat.S_IFDIR | 0o755), b""), ("data/a", b"a")])
    with SafeZip.open(path, DEFAULT) as archive:
        assert archive.names() == ["data/a"]
        for name in ("data/", "data/missing"):
            with pytest.raises(KeyError):
                archive.open_member(name)


# --- writing packages --------------------------------------------------------------------------------------------


def package_tree(root: Path) -> dict[str, bytes]:
    files = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": b"Payload-Oxum: 3145730.3\n",
        "data/extraction.bin": os.urandom(3 * MIB),
        "data/provider/\u00e9change \u65e5\u672c.txt": "d\u00e9claration\n".encode(),
        "data/provider/empty": b"",
        "manifest-sha256.txt": b"0" * 64 + b"  data/extraction.bin\n",
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return files


def payload_stored(name: str) -> bool:
    return name.startswith("data/")


def test_package_round_trip(tmp_path: Path) -> None:
    files = package_tree(tmp_path / "bag")
    target = tmp_path / "pkg.zip"
    write_package_zip(tmp_path / "bag", target, stored=payload_stored)
    with SafeZip.open(target, DEFAULT) as archive:
        assert archive.names() == sorted(files)
        for name, content in files.items():
            assert archive.size(name) == len(content)
            assert archive.is_stored(name) == payload_stored(name)
            assert read_all(archive, name) == content
        with archive.open_member("data/extraction.bin", verify_crc=False) as reader:
            buffer, pieces = bytearray(MIB // 3), []
            while count := reader.readinto(buffer):
                pieces.append(bytes(buffer[:count]))
        assert b"".join(pieces) == files["data/extraction.bin"]
    with zipfile.ZipFile(target) as archive:
        for entry in archive.infolist():
            assert entry.date_time == (1980, 1, 1, 0, 0, 0)
            assert (entry.create_system, entry.external_attr) == (3, (stat.S_IFREG | 0o644) << 16)
        assert archive.testzip() is None


def test_package_zip_is_deterministic(tmp_path: Path) -> None:
    files = package_tree(tmp_path / "one")
    write_package_zip(tmp_path / "one", tmp_path / "first.zip", stored=payload_stored)
    for name, content in files.items():  # the same content elsewhere, with other times and modes
        (tmp_path / "two" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "two" / name).write_bytes(content)
        os.utime(tmp_path / "two" / name, (1_700_000_000, 1_700_000_000))
        (tmp_path / "two" / name).chmod(0o600)
    write_package_zip(tmp_path / "two", tmp_path / "second.zip", stored=payload_stored)
    write_package_zip(tmp_path / "one", tmp_path / "third.zip", stored=payload_stored)
    first = (tmp_path / "first.zip").read_bytes()
    assert first == (tmp_path / "second.zip").read_bytes() == (tmp_path / "third.zip").read_bytes()


def test_symlinks_in_the_source_are_refused(tmp_path: Path) -> None:
    package_tree(tmp_path / "bag")
    (tmp_path / "bag" / "data" / "passwd").symlink_to("/etc/passwd")
    target = tmp_path / "pkg.zip"
    target.write_bytes(b"the previous package")
    with pytest.raises(InvalidInput) as caught:
        write_package_zip(tmp_path / "bag", target, stored=payload_stored)
    assert caught.value.field == "data/passwd"
    assert target.read_bytes() == b"the previous package"  # untouched, and no partial file left beside it
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bag", "pkg.zip"]


def test_linked_directories_in_the_source_are_refused(tmp_path: Path) -> None:
    package_tree(tmp_path / "bag")
    (tmp_path / "bag" / "data" / "etc").symlink_to("/etc", target_is_directory=True)
    with pytest.raises(InvalidInput):
        write_package_zip(tmp_path / "bag", tmp_path / "pkg.zip", stored=payload_stored)
    assert not (tmp_path / "pkg.zip").exists()


@pytest.mark.parametrize(
    ("names", "field"),
    [
        (["data/Report.txt", "data/report.txt"], "data/report.txt"),
        (["data/back\\slash.txt"], "data/back\\slash.txt"),
        (["data/bell\x07.txt"], "data/bell\x07.txt"),
        (["/".join(["d" * 250] * 5) + "/long.txt"], "/".join(["d" * 250] * 5) + "/long.txt"),
    ],
)
def test_names_the_reader_would_refuse_are_not_written(tmp_path: Path, names: list[str], field: str) -> None:
    for name in names:
        (tmp_path / "bag" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "bag" / name).write_bytes(b"x")
    with pytest.raises(InvalidInput) as caught:
        write_package_zip(tmp_path / "bag", tmp_path / "pkg.zip", stored=payload_stored)
    assert caught.value.field == field
    assert not (tmp_path / "pkg.zip").exists()


def test_target_inside_the_source_is_refused(tmp_path: Path) -> None:
    package_tree(tmp_path / "bag")
    with pytest.raises(InvalidInput):
        write_package_zip(tmp_path / "bag", tmp_path / "bag" / "pkg.zip", stored=payload_stored)
