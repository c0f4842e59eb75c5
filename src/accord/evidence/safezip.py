"""Hostile-input-safe reading, and deterministic writing, of the zip that carries an evidence package.

An evidence package is a BagIt bag (RFC 8493) shipped as one zip file to another country, where it is verified
offline. The verifier reads every payload file straight out of the zip (payload members are STORED, so reading
one costs no more than reading the file) and never extracts to disk. The zip comes from abroad, so before a
single member is read :meth:`SafeZip.open` checks the whole central directory (APPNOTE.TXT 6.3.x section 4.3.12)
and refuses, with the member named, anything a careless reader could be hurt by:

* more entries than the limit — decided from the end of central directory record (4.3.16, ZIP64 4.3.14/4.3.15)
  before the directory itself is parsed, so a many-entries bomb costs nothing;
* names that are absolute (``/x``, ``C:\\x``, ``C:x``, ``\\\\server``), hold ``..`` or ``.`` or empty segments,
  backslashes (4.4.17.1 requires forward slashes), NUL or other control characters, bidirectional overrides,
  that are longer than the limit, or that are neither ASCII nor flagged UTF-8 (bit 11, 4.4.4 and Appendix D);
* names that collide, also after Unicode NFC normalisation and case folding (what a case-insensitive or
  normalising file system would make of them), and files whose path is also used as a directory;
* symbolic links and every other non-regular type (Unix mode in the high 16 bits of the external attributes),
  encrypted members (flag bit 0, and bit 6 for strong encryption), compression other than STORED/DEFLATED;
* declared sizes above the limits, STORED members whose two sizes disagree, deflated members that would inflate
  more than ``max_ratio`` times (a zip bomb is refused from its declared sizes, without inflating it), the
  same for the archive as a whole, and members whose data would overlap each other or the central directory
  (the overlapping-member bomb).

While a member is read, :class:`MemberReader` makes sure the bytes produced never exceed the declared size and
that a member does not end early, and turns CRC, truncation and inflate errors into :class:`UnsafeArchive`.

:func:`write_package_zip` is the writing side: the same tree always gives the same bytes (sorted names, fixed
timestamps and attributes), it refuses what the reader would refuse, and it never leaves a half-written target.
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import tempfile
import typing
import unicodedata
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING

from accord.errors import AccordError, InvalidInput

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

# APPNOTE.TXT 4.3.16 (end of central directory), 4.3.15 (ZIP64 locator), 4.3.14 (ZIP64 end record),
# 4.3.12 (central directory file header).
_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_MAX_COMMENT = 0xFFFF
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_ZIP64_EOCD_SIGNATURE = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL = struct.Struct("<4s5H3L2H")  # 4.3.7: the fixed part of a local file header, before its name and extra
_LOCAL_SIGNATURE = b"PK\x03\x04"
# A central directory entry may carry an extra field and a comment besides its name; ours carry at most a ZIP64
# extra field (28 bytes). 4 KiB per entry is generous for other writers and still bounds what is read up front.
_ENTRY_ALLOWANCE = _CENTRAL.size + 4 * KIB

_FLAG_ENCRYPTED = 1 << 0  # 4.4.4 bit 0
_FLAG_STRONG_ENCRYPTION = 1 << 6  # 4.4.4 bit 6
_FLAG_UTF8 = 1 << 11  # 4.4.4 bit 11, Appendix D
_DOS_DIRECTORY = 0x10  # MS-DOS attribute byte, low 8 bits of the external attributes
_RATIO_FLOOR = MIB  # members (and archives) this small are never judged by their ratio

_DRIVE = re.compile(r"^[A-Za-z]:")
# Explicit bidirectional embeddings, overrides and isolates (Unicode TR 9): they make a name display as
# something else ("invoice\u202efdp.exe"). Marks such as U+200E/U+200F and joiners stay allowed.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_CRC_DETAIL = re.compile(r" for file .*$")
# What reading a member can raise on a damaged or hostile archive; zipfile raises NotImplementedError for a
# compression method it cannot decode. Each becomes an UnsafeArchive naming the member, never a traceback.
_READ_ERRORS = (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError)

_CHUNK = MIB
_FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold (MS-DOS date, 4.4.6)
_REGULAR_FILE_ATTR = (stat.S_IFREG | 0o644) << 16
_UNIX = 3  # 4.4.2.2: "version made by" host system 3 = UNIX, so the mode in the external attributes counts


@dataclass(frozen=True)
class ZipLimits:
    """What an incoming package may declare. Defaults fit a large seized-device extraction."""

    max_entries: int = 100_000
    max_member_bytes: int = 64 * GIB
    max_total_bytes: int = 256 * GIB
    max_ratio: int = 200  # uncompressed / compressed, for deflated members above 1 MiB and the whole archive
    max_name_bytes: int = 1024
    max_metadata_member_bytes: int = 256 * MIB  # members the caller reads whole into memory


class UnsafeArchive(AccordError):
    """The archive (or one of its members) is malformed or hostile; ``member`` is None for the archive itself."""

    def __init__(self, archive: str, member: str | None, reason: str) -> None:
        self.archive = archive
        self.member = member
        self.reason = reason
        where = f"{archive}: {member}" if member is not None else archive
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class _EndRecord:
    entries: int
    cd_size: int
    cd_offset: int
    position: int  # where the (ZIP64 if any) end record starts: the central directory must end exactly here


@dataclass(frozen=True)
class _RawEntry:
    name_bytes: bytes
    flags: int


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    name_bytes: bytes
    boundary: int  # where the next member (or the central directory) starts: this member's data must end before


def name_problem(name: str) -> str | None:
    """Why ``name`` (a member name, "/"-separated) cannot be in a package, or None if it can.

    Directory names are given without their trailing "/". Shared by the reader and the writer, so that Accord
    never writes what it would refuse to read.
    """
    if not name:
        return "empty name"
    if name.startswith(("/", "\\")):
        return "absolute path"
    if _DRIVE.match(name):
        return "absolute path (drive letter)"
    for char in name:
        if unicodedata.category(char) == "Cc":
            return "control character in name"
        if char in _BIDI_CONTROLS:
            return "bidirectional control character in name"
    if "\\" in name:
        return "backslash in name"
    for segment in name.split("/"):
        if segment == "..":
            return "path escapes the package"
        if segment == ".":
            return "'.' segment in name"
        if not segment:
            return "empty path segment"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "name is not valid UTF-8"
    return None


def collision_key(name: str) -> str:
    """The form under which two names would be the same file on a case-insensitive, normalising file system."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", name).casefold())


class ByteSource(typing.Protocol):
    """What :class:`MemberReader` reads from: zipfile's reader for DEFLATED members, ours for STORED ones."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: WriteableBuffer, /) -> int: ...

    def close(self) -> None: ...


class MemberReader(io.RawIOBase):
    """Reads one member, never yielding more bytes than declared nor fewer without saying so.

    Every error of the underlying reader (bad CRC, truncated data, invalid deflate stream) becomes
    :class:`UnsafeArchive` naming the member, so the verifier reports the member rather than crashing.
    ``readinto`` is the fast way to read: for a STORED member it fills the caller's buffer straight from the file.
    """

    def __init__(self, inner: ByteSource, *, archive: str, member: str, declared_size: int) -> None:
        super().__init__()
        self._inner = inner
        self._archive = archive
        self._member = member
        self._declared = declared_size
        self._produced = 0

    @property
    def declared_size(self) -> int:
        return self._declared

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size == 0:
            return b""
        want = -1 if size is None or size < 0 else size
        try:
            data = self._inner.read(want)
        except _READ_ERRORS as error:
            raise self._unsafe(f"truncated or corrupt ({_short(error)})") from error
        self._account(len(data), to_end=want < 0)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        try:
            count = self._inner.readinto(view)
        except _READ_ERRORS as error:
            raise self._unsafe(f"truncated or corrupt ({_short(error)})") from error
        self._account(count, to_end=False)
        return count

    def close(self) -> None:
        if not self.closed:
            self._inner.close()
        super().close()

    def _account(self, count: int, *, to_end: bool) -> None:
        """Count what the inner reader produced: never past the declared size, never short of it at the end."""
        self._produced += count
        if self._produced > self._declared:
            raise self._unsafe(f"yields more than its declared {self._declared} bytes")
        if (count == 0 or to_end) and self._produced < self._declared:
            raise self._unsafe(f"truncated or corrupt (ended after {self._produced} of {self._declared} bytes)")

    def _unsafe(self, reason: str) -> UnsafeArchive:
        return UnsafeArchive(self._archive, self._member, reason)


class _StoredData(io.RawIOBase):
    """The bytes of a STORED member, read with ``pread`` straight from the archive's file (4.3.8: file data).

    No seek, lock or intermediate buffer: reading a payload file costs what reading the file costs. The CRC-32
    (4.4.7) is checked when the last byte has been read, unless the caller turned that off (see
    :meth:`SafeZip.open_member`).
    """

    def __init__(self, descriptor: int, offset: int, size: int, crc: int, *, verify_crc: bool) -> None:
        super().__init__()
        self._descriptor = descriptor
        self._position = offset
        self._left = size
        self._expected_crc = crc
        self._crc = 0
        self._verify = verify_crc

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        want = self._left if size is None or size < 0 else min(size, self._left)
        parts: list[bytes] = []
        while want > 0:
            data = os.pread(self._descriptor, want, self._position)
            self._advance(data)
            parts.append(data)
            want -= len(data)
            if size is not None and size >= 0:
                break
        return b"".join(parts)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")[: self._left]
        if not len(view):
            return 0
        count = os.preadv(self._descriptor, [view], self._position)
        self._advance(view[:count])
        return count

    def _advance(self, data: bytes | memoryview) -> None:
        if not len(data):
            raise EOFError
        self._position += len(data)
        self._left -= len(data)
        if self._verify:
            self._crc = zlib.crc32(data, self._crc)
            if self._left == 0 and self._crc != self._expected_crc:
                raise zipfile.BadZipFile("Bad CRC-32")


class SafeZip:
    """A zip whose central directory has been checked whole; members are read through :class:`MemberReader`."""

    def __init__(self, path: Path, limits: ZipLimits, handle: IO[bytes], archive: zipfile.ZipFile) -> None:
        self.path = path
        self.limits = limits
        self._handle = handle
        self._zip = archive
        self._files: dict[str, _Member] = {}

    @classmethod
    def open(cls, path: Path, limits: ZipLimits) -> SafeZip:
        """Open ``path`` and check its whole central directory; raises :class:`UnsafeArchive`."""
        label = path.name
        handle = path.open("rb")
        try:
            size = os.fstat(handle.fileno()).st_size
            end = _read_end_record(handle, size, label, limits)
            raw_entries = _read_central_directory(handle, end, label)
            names = _checked_names(raw_entries, label, limits)
            try:
                archive = zipfile.ZipFile(handle)
            except (zipfile.BadZipFile, EOFError, ValueError, UnicodeDecodeError, struct.error) as error:
                raise UnsafeArchive(label, None, f"corrupt central directory ({error})") from error
            opened = cls(path, limits, handle, archive)
            opened._files = _checked_members(archive, names, raw_entries, end, size, label, limits)
        except BaseException:
            handle.close()
            raise
        return opened

    def names(self) -> list[str]:
        """The file members (directories left out), sorted."""
        return sorted(self._files)

    def size(self, name: str) -> int:
        """The declared (uncompressed) size of file member ``name``."""
        return self._member(name).info.file_size

    def is_stored(self, name: str) -> bool:
        """Whether file member ``name`` is STORED (read at file speed) rather than DEFLATED."""
        return self._member(name).info.compress_type == zipfile.ZIP_STORED

    def open_member(self, name: str, *, verify_crc: bool = True) -> MemberReader:
        """A reader for file member ``name``; raises KeyError for a name that is not a file member.

        ``verify_crc=False`` skips the CRC-32 of a STORED member. Only a caller that checks a stronger digest of
        every byte itself should pass it — the package verifier, which compares each payload file's SHA-256 with
        the bag manifest: there the CRC adds no assurance and costs about a third of SHA-256's time. Sizes and
        truncation are checked either way; DEFLATED members always have their CRC checked by zipfile.
        """
        member = self._member(name)
        try:
            if member.info.compress_type == zipfile.ZIP_STORED:
                inner: ByteSource = self._stored_data(member, verify_crc=verify_crc)
            else:
                # zipfile's reader (ZipExtFile, a BufferedIOBase) has read and readinto; typeshed says IO[bytes].
                inner = typing.cast(ByteSource, self._zip.open(member.info))
        except _READ_ERRORS as error:
            raise UnsafeArchive(self.path.name, name, f"truncated or corrupt ({_short(error)})") from error
        return MemberReader(inner, archive=self.path.name, member=name, declared_size=member.info.file_size)

    def read_metadata(self, name: str) -> bytes:
        """The whole of a small member (bag declaration, manifests, CASE description), bounded by the limits."""
        declared = self.size(name)
        if declared > self.limits.max_metadata_member_bytes:
            reason = f"metadata member of {declared} bytes exceeds {self.limits.max_metadata_member_bytes}"
            raise UnsafeArchive(self.path.name, name, reason)
        with self.open_member(name) as reader:
            return reader.read()

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _member(self, name: str) -> _Member:
        try:
            return self._files[name]
        except KeyError:
            raise KeyError(f"{self.path.name}: no file member {name!r}") from None

    def stored_span(self, name: str) -> tuple[int, int]:
        """Where the bytes of the STORED file member ``name`` lie in the archive's file: (offset, size), its local
        header checked first. For a reader that hashes them in place; raises UnsafeArchive as open_member does."""
        member = self._member(name)
        if member.info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{name} is not STORED")
        try:
            return self._stored_start(member), member.info.file_size
        except _READ_ERRORS as error:
            raise UnsafeArchive(self.path.name, name, f"truncated or corrupt ({_short(error)})") from error

    def fileno(self) -> int:
        """The archive's file descriptor (for stored_span)."""
        return self._handle.fileno()

    def _stored_data(self, member: _Member, *, verify_crc: bool) -> _StoredData:
        start = self._stored_start(member)
        info = member.info
        return _StoredData(self._handle.fileno(), start, info.file_size, info.CRC, verify_crc=verify_crc)

    def _stored_start(self, member: _Member) -> int:
        """Check the member's local header (4.3.7) against the directory; the offset of its data."""
        info = member.info
        header = os.pread(self._handle.fileno(), _LOCAL.size, info.header_offset)
        if len(header) < _LOCAL.size or header[:4] != _LOCAL_SIGNATURE:
            raise zipfile.BadZipFile("local file header missing")
        fields = _LOCAL.unpack(header)
        flags, method, name_length, extra_length = fields[2], fields[3], fields[9], fields[10]
        name = os.pread(self._handle.fileno(), name_length, info.header_offset + _LOCAL.size)
        if name != member.name_bytes or method != zipfile.ZIP_STORED or flags & _FLAG_ENCRYPTED:
            raise zipfile.BadZipFile("local file header disagrees with the central directory")
        start: int = info.header_offset + _LOCAL.size + name_length + extra_length
        if start + info.compress_size > member.boundary:
            raise zipfile.BadZipFile("member data overlaps the next member or the directory")
        return start


def _short(error: BaseException) -> str:
    """A short cause for an error message: "Bad CRC-32" rather than "Bad CRC-32 for file 'data/x.bin'"."""
    if isinstance(error, EOFError):
        return "unexpected end of data"
    if isinstance(error, zlib.error):
        return f"invalid deflate data: {error}"
    return _CRC_DETAIL.sub("", str(error)) or type(error).__name__


def _read_end_record(handle: IO[bytes], size: int, label: str, limits: ZipLimits) -> _EndRecord:
    """Find and check the end of central directory record (4.3.16) and its ZIP64 form (4.3.14, 4.3.15)."""
    tail_start = max(0, size - _EOCD.size - _EOCD_MAX_COMMENT)
    handle.seek(tail_start)
    tail = handle.read()
    position = _find_eocd(tail)
    if position < 0:
        raise UnsafeArchive(label, None, "not a zip archive, or truncated (no end of central directory record)")
    if _EOCD_SIGNATURE in tail[position + _EOCD.size :]:
        # zipfile would take the last signature it finds, we the last whose comment fits: the two must agree.
        raise UnsafeArchive(label, None, "ambiguous archive (an end record signature inside the archive comment)")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = _EOCD.unpack_from(tail, position)
    position += tail_start
    # Like zipfile, use the ZIP64 records whenever their locator precedes the end record (4.3.15), whatever the
    # 16- and 32-bit fields say (an archive of exactly 65,535 entries has 0xFFFF there and no ZIP64 records).
    handle.seek(max(0, position - _ZIP64_LOCATOR.size))
    locator = handle.read(_ZIP64_LOCATOR.size)
    if position >= _ZIP64_LOCATOR.size and locator[:4] == _ZIP64_LOCATOR_SIGNATURE:
        _, _, declared, _ = _ZIP64_LOCATOR.unpack(locator)
        # zipfile reads the ZIP64 end record just before the locator, whatever the locator says: so must it be.
        position -= _ZIP64_LOCATOR.size + _ZIP64_EOCD.size
        if declared != position:
            raise UnsafeArchive(label, None, "corrupt archive (ZIP64 end record not where its locator says)")
        handle.seek(position)
        record = handle.read(_ZIP64_EOCD.size)
        if len(record) < _ZIP64_EOCD.size or record[:4] != _ZIP64_EOCD_SIGNATURE:
            raise UnsafeArchive(label, None, "corrupt archive (ZIP64 end record missing)")
        _, _, _, _, disk, cd_disk, _, entries, cd_size, cd_offset = _ZIP64_EOCD.unpack(record)
    if disk != 0 or cd_disk != 0:
        raise UnsafeArchive(label, None, "multi-disk archives are not accepted")
    if entries > limits.max_entries:
        raise UnsafeArchive(label, None, f"{entries} entries exceed the limit of {limits.max_entries}")
    if cd_size > entries * (_ENTRY_ALLOWANCE + limits.max_name_bytes):
        raise UnsafeArchive(label, None, f"central directory of {cd_size} bytes is too large for {entries} entries")
    if cd_offset + cd_size != position:
        raise UnsafeArchive(label, None, "corrupt archive (central directory does not end where its end record is)")
    return _EndRecord(entries=entries, cd_size=cd_size, cd_offset=cd_offset, position=position)


def _find_eocd(tail: bytes) -> int:
    """The offset in ``tail`` of the last end record whose comment runs exactly to the end of the file."""
    position = tail.rfind(_EOCD_SIGNATURE)
    while position >= 0:
        if position + _EOCD.size <= len(tail):
            comment_length = _EOCD.unpack_from(tail, position)[-1]
            if position + _EOCD.size + comment_length == len(tail):
                return position
        position = tail.rfind(_EOCD_SIGNATURE, 0, position)
    return -1


def _read_central_directory(handle: IO[bytes], end: _EndRecord, label: str) -> list[_RawEntry]:
    """Walk the central directory ourselves (4.3.12), to judge names on their raw bytes.

    zipfile decodes names before we see them: it cuts a name at NUL and fails on invalid UTF-8 without saying
    which member; reading the raw bytes lets us refuse such names and name the member.
    """
    handle.seek(end.cd_offset)
    directory = handle.read(end.cd_size)
    if len(directory) != end.cd_size:
        raise UnsafeArchive(label, None, "truncated central directory")
    entries: list[_RawEntry] = []
    offset = 0
    while offset < len(directory):
        if offset + _CENTRAL.size > len(directory) or directory[offset : offset + 4] != _CENTRAL_SIGNATURE:
            raise UnsafeArchive(label, None, "corrupt central directory entry")
        fields = _CENTRAL.unpack_from(directory, offset)
        flags, name_length, extra_length, comment_length = fields[5], fields[12], fields[13], fields[14]
        name_start = offset + _CENTRAL.size
        entries.append(_RawEntry(name_bytes=directory[name_start : name_start + name_length], flags=flags))
        offset = name_start + name_length + extra_length + comment_length
    if offset != len(directory) or len(entries) != end.entries:
        raise UnsafeArchive(label, None, "corrupt central directory (entry count does not match)")
    return entries


def _checked_names(entries: list[_RawEntry], label: str, limits: ZipLimits) -> list[str]:
    """Decode and check every name, then look for collisions; returns the names in directory order."""
    names = [_decoded_name(entry, label, limits) for entry in entries]
    collision = _collision(names)
    if collision is not None:
        raise UnsafeArchive(label, *collision)
    return names


def _decoded_name(entry: _RawEntry, label: str, limits: ZipLimits) -> str:
    raw = entry.name_bytes
    shown = raw.decode("utf-8", "backslashreplace")
    if len(raw) > limits.max_name_bytes:
        raise UnsafeArchive(label, shown[:80] + "...", f"name of {len(raw)} bytes exceeds {limits.max_name_bytes}")
    if not entry.flags & _FLAG_UTF8 and not raw.isascii():
        raise UnsafeArchive(label, shown, "name is neither ASCII nor flagged as UTF-8")
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeArchive(label, shown, "name is not valid UTF-8") from None
    problem = name_problem(name.removesuffix("/"))
    if problem is not None:
        raise UnsafeArchive(label, name, problem)
    return name


def _collision(names: list[str]) -> tuple[str, str] | None:
    """The first duplicate name (exact, or after NFC and case folding), or file whose path is also a directory.

    Returns the offending name and why, or None.
    """
    seen: dict[str, str] = {}
    directories: dict[str, str] = {}
    for name in names:
        if name.endswith("/"):
            directories.setdefault(collision_key(name.removesuffix("/")), name)
            continue
        key = collision_key(name)
        if key in seen:
            other = seen[key]
            reason = "duplicate name" if other == name else f"same file as {other!r} on a case-insensitive file system"
            return name, reason
        seen[key] = name
        parts = name.split("/")
        for depth in range(1, len(parts)):
            directories.setdefault(collision_key("/".join(parts[:depth])), name)
    for key, name in seen.items():
        if key in directories:
            return name, f"path is also used as a directory (by {directories[key]!r})"
    return None


def _checked_members(
    archive: zipfile.ZipFile,
    names: list[str],
    raw_entries: list[_RawEntry],
    end: _EndRecord,
    archive_size: int,
    label: str,
    limits: ZipLimits,
) -> dict[str, _Member]:
    """Check each entry's type, flags, method and sizes, then the totals and the data layout."""
    infos = archive.infolist()
    if [info.orig_filename for info in infos] != names:
        raise UnsafeArchive(label, None, "corrupt central directory (names read twice differ)")
    total = 0
    for info in infos:
        _check_member(info, label, limits)
        total += info.file_size
        if total > limits.max_total_bytes:
            raise UnsafeArchive(label, info.orig_filename, f"total declared size exceeds {limits.max_total_bytes}")
    if total > _RATIO_FLOOR and total > limits.max_ratio * max(archive_size, 1):
        reason = f"declares {total} bytes in {archive_size} (ratio above {limits.max_ratio}: a zip bomb?)"
        raise UnsafeArchive(label, None, reason)
    members = _laid_out(infos, raw_entries, end, label)
    return {member.info.orig_filename: member for member in members if not member.info.orig_filename.endswith("/")}


def _check_member(info: zipfile.ZipInfo, label: str, limits: ZipLimits) -> None:
    name = info.orig_filename
    _check_type(info, label)
    if info.flag_bits & (_FLAG_ENCRYPTED | _FLAG_STRONG_ENCRYPTION):
        raise UnsafeArchive(label, name, "encrypted member")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise UnsafeArchive(label, name, f"compression method {info.compress_type} is not STORED or DEFLATED")
    if info.file_size > limits.max_member_bytes:
        raise UnsafeArchive(label, name, f"declared size {info.file_size} exceeds {limits.max_member_bytes}")
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise UnsafeArchive(label, name, "STORED member whose compressed and uncompressed sizes differ")
    if (
        info.compress_type == zipfile.ZIP_DEFLATED
        and info.file_size > _RATIO_FLOOR
        and info.file_size > limits.max_ratio * max(info.compress_size, 1)
    ):
        reason = (
            f"inflates {info.compress_size} bytes to {info.file_size} (ratio above {limits.max_ratio}: a zip bomb?)"
        )
        raise UnsafeArchive(label, name, reason)


def _check_type(info: zipfile.ZipInfo, label: str) -> None:
    """Regular files and directories only (Unix mode in the high 16 bits, MS-DOS attributes in the low 8)."""
    name = info.orig_filename
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    is_directory = name.endswith("/")
    if kind == stat.S_IFLNK:
        raise UnsafeArchive(label, name, "symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchive(label, name, f"not a regular file (file type {kind:#o})")
    says_directory = kind == stat.S_IFDIR or bool(info.external_attr & _DOS_DIRECTORY)
    if says_directory != is_directory or (kind == stat.S_IFREG and is_directory):
        raise UnsafeArchive(label, name, "file type and name disagree on whether this is a directory")
    if is_directory and (info.file_size or info.compress_size):
        raise UnsafeArchive(label, name, "directory entry with content")


def _laid_out(infos: list[zipfile.ZipInfo], raw_entries: list[_RawEntry], end: _EndRecord, label: str) -> list[_Member]:
    """Each member's data must end before the next member starts, and all before the central directory.

    The lower bound on a member's extent is its local header, its name and its compressed data (4.3.7); an
    archive whose extents overlap lets one small stretch of data be inflated many times over.
    """
    order = sorted(range(len(infos)), key=lambda index: infos[index].header_offset)
    members: list[_Member] = []
    for rank, index in enumerate(order):
        info, raw = infos[index], raw_entries[index]
        boundary = infos[order[rank + 1]].header_offset if rank + 1 < len(order) else end.cd_offset
        if info.header_offset + _LOCAL.size + len(raw.name_bytes) + info.compress_size > boundary:
            raise UnsafeArchive(label, info.orig_filename, "member data overlaps the next member or the directory")
        members.append(_Member(info=info, name_bytes=raw.name_bytes, boundary=boundary))
    return members


def write_package_zip(source_dir: Path, target: Path, *, stored: Callable[[str], bool]) -> None:
    """Zip the regular files under ``source_dir`` into ``target``, deterministically and atomically.

    Names are sorted and "/"-separated, every member dated 1980-01-01 with mode 0644; members for which
    ``stored(name)`` is true are STORED (the verifier reads them at file speed), the others DEFLATED. Symbolic
    links, special files and names the reader would refuse raise :class:`~accord.errors.InvalidInput`. The zip
    is written beside ``target`` and renamed over it only once complete and synced.
    """
    names = _source_names(source_dir)
    if target.resolve().is_relative_to(source_dir.resolve()):
        raise InvalidInput("target", "the package zip must not be written inside its own source directory")
    collision = _collision(names)
    if collision is not None:
        raise InvalidInput(*collision)
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
                for name in names:
                    _write_member(archive, source_dir, name, stored(name))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(target.parent)


def _source_names(source_dir: Path) -> list[str]:
    """The sorted relative names of the regular files under ``source_dir``; links and special files refused."""
    names: list[str] = []
    pending = [(source_dir, "")]
    while pending:
        directory, prefix = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                name = prefix + entry.name
                if entry.is_symlink():
                    raise InvalidInput(name, "symbolic links are refused in a package source")
                if entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), name + "/"))
                elif entry.is_file(follow_symlinks=False):
                    names.append(name)
                else:
                    raise InvalidInput(name, "only regular files can go into a package")
    for name in names:
        problem = name_problem(name)
        if problem is None and len(name.encode("utf-8")) > ZipLimits.max_name_bytes:
            problem = f"name longer than {ZipLimits.max_name_bytes} bytes"
        if problem is not None:
            raise InvalidInput(name.encode("utf-8", "backslashreplace").decode("utf-8"), problem)
    return sorted(names)


def _write_member(archive: zipfile.ZipFile, source_dir: Path, name: str, is_stored: bool) -> None:
    """Stream one file into the archive in 1 MiB chunks; the file must not change while it is copied."""
    # O_NOFOLLOW: a file swapped for a link after the directory walk is still refused.
    descriptor = os.open(source_dir / name, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as source:
        status = os.fstat(source.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise InvalidInput(name, "only regular files can go into a package")
        info = zipfile.ZipInfo(name, date_time=_FIXED_DATE_TIME)
        info.create_system = _UNIX
        info.external_attr = _REGULAR_FILE_ATTR
        info.compress_type = zipfile.ZIP_STORED if is_stored else zipfile.ZIP_DEFLATED
        info.file_size = status.st_size  # lets zipfile choose ZIP64 headers up front for large members
        copied = 0
        with archive.open(info, "w") as member:
            while chunk := source.read(_CHUNK):
                member.write(chunk)
                copied += len(chunk)
        if copied != status.st_size:
            raise InvalidInput(name, f"changed while being packed ({status.st_size} bytes, then {copied})")


def _sync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX: a rename is in the directory, which has to be synced itself)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
