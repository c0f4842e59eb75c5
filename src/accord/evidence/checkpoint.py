"""Signed tree heads of the custody log in the C2SP formats: checkpoints, signed notes and witness cosignatures.

Why these formats: a custody log is only as good as the assurance that everyone sees the same log. C2SP
checkpoints are what transparency-log witnesses (and the Go, Rust and Sigsum tools around them) already read,
check for consistency and cosign, so Accord's heads can be witnessed by existing infrastructure and checked by
a foreign court without Accord's software.

Sources followed (stored copies read through the search tool; where they differ from a summary, they win):

* c2sp.org/tlog-checkpoint (C2SP/C2SP ``tlog-checkpoint.md``): the note text is at least three non-empty
  lines: the origin (MUST be non-empty; SHOULD be a schema-less URL without Unicode spaces or "+", and
  clients MUST NOT assume that it is, so parsing enforces only the MUST), the tree size in ASCII decimal
  without leading zeroes, the base64 (RFC 4648 §4) root hash of the RFC 6962 tree, then optional non-empty
  extension lines.
* c2sp.org/signed-note (C2SP/C2SP ``signed-note.md``) and its reference implementation
  golang.org/x/mod/sumdb/note (``note.go``: ``Sign``, ``Open``, ``NewVerifier``): a note is valid UTF-8 with no
  ASCII control character but newline; the text ends in a newline and is separated from the signatures by the
  *last* blank line; a signature line is U+2014 EM DASH, space, key name, space, base64(4-byte big-endian key
  id || signature), newline; key names are non-empty without Unicode spaces or "+"; the Ed25519 key id is
  SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4]; verifier keys are "<name>+<hex key id>+<base64(type
  byte || public key)>"; signatures from unknown keys (name or key id differ) MUST be ignored, a known key's
  signature that fails rejects the note, and Go's ``Open`` rejects more than 100 signature lines.
* c2sp.org/tlog-cosignature (C2SP/C2SP ``tlog-cosignature.md``) and github.com/transparency-dev/formats
  (``note/note_cosigv1.go``): an Ed25519 cosignature is a note signature of type 0x04, key id
  SHA-256(name || 0x0A || 0x04 || public key)[:4], whose signature bytes are timestamp (8 bytes, big-endian
  POSIX seconds, at most 2**63-1) || Ed25519 signature (64 bytes) over "cosignature/v1\\n" + "time <decimal
  timestamp without leading zeroes>\\n" + the whole checkpoint body, extension lines included.

Signing goes through a callable ``sign(message) -> signature`` (``NodeKeys.sign``) so the private key never
passes through here; verification uses ``cryptography``'s Ed25519.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.evidence.merkle import HASH_SIZE, MAX_TREE_SIZE

SIGNATURE_TYPE_ED25519 = 0x01  # c2sp.org/signed-note, "Signature types"
SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04  # c2sp.org/signed-note; defined by c2sp.org/tlog-cosignature
MAX_NOTE_BYTES = 1 << 20  # the signed-note spec asks verifiers for a limit; 1 MiB is far above any checkpoint
MAX_SIGNATURE_LINES = 100  # golang.org/x/mod/sumdb/note Open's limit (the spec requires accepting at least 16)
MAX_TIMESTAMP = 2**63 - 1  # c2sp.org/tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1
PUBLIC_KEY_SIZE = 32
SIGNATURE_SIZE = 64
KEY_ID_SIZE = 4
TIMESTAMP_SIZE = 8

SignFn = Callable[[bytes], bytes]

_EM_DASH_SPACE = "\u2014 "  # c2sp.org/signed-note: a signature line starts with U+2014 EM DASH and a space
_COSIGNATURE_HEADER = "cosignature/v1\n"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # ASCII control characters other than newline
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")  # ASCII decimal, no leading zeroes, at most 19 digits
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")


class CheckpointError(Exception):
    """A checkpoint, note, verifier key or cosignature is malformed or does not verify; the message says why."""


# -- shared checks -------------------------------------------------------------------------------------------


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CheckpointError(f"{what} is not valid UTF-8 (character {exc.start})") from None


def _check_no_control(text: str, what: str) -> None:
    found = _CONTROL.search(text)
    if found is not None:
        raise CheckpointError(f"{what} has control character U+{ord(found.group()):04X} at character {found.start()}")


def is_valid_name(name: str) -> bool:
    """c2sp.org/signed-note: a key name is non-empty and has no Unicode space and no "+"."""
    return (
        name != ""
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and _CONTROL.search(name) is None
        and _is_utf8(name)
    )


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: str, what: str) -> None:
    if not is_valid_name(name):
        raise CheckpointError(f"{what} {name!r} is not a valid key name (non-empty, no spaces, no '+')")


def _check_public_key(public_key_raw: bytes) -> Ed25519PublicKey:
    if len(public_key_raw) != PUBLIC_KEY_SIZE:
        raise CheckpointError(f"Ed25519 public key is {len(public_key_raw)} bytes, expected {PUBLIC_KEY_SIZE}")
    try:
        return Ed25519PublicKey.from_public_bytes(public_key_raw)
    except ValueError as exc:
        raise CheckpointError(f"not an Ed25519 public key: {exc}") from None


def _verifies(public_key_raw: bytes, signature: bytes, message: bytes) -> bool:
    key = _check_public_key(public_key_raw)
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _b64decode(text: str) -> bytes | None:
    """Standard base64 (RFC 4648 §4), canonical only (§3.5): one text per byte string. None if malformed."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id(name: str, signature_type: int, public_key_raw: bytes) -> bytes:
    """c2sp.org/signed-note: SHA-256(key name || 0x0A || signature type || public key)[:4]."""
    return hashlib.sha256(_utf8(name, "key name") + b"\n" + bytes([signature_type]) + public_key_raw).digest()[
        :KEY_ID_SIZE
    ]


# -- checkpoints ---------------------------------------------------------------------------------------------


def _check_line(what: str, line: str) -> None:
    if line == "":
        raise CheckpointError(f"checkpoint {what} is empty")
    if "\n" in line:
        raise CheckpointError(f"checkpoint {what} contains a newline")
    _check_no_control(line, f"checkpoint {what}")
    _utf8(line, f"checkpoint {what}")


@dataclass(frozen=True)
class Checkpoint:
    """c2sp.org/tlog-checkpoint: the note text of a signed tree head."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line("origin line", self.origin)
        if not 0 <= self.tree_size <= MAX_TREE_SIZE:
            raise CheckpointError(f"checkpoint tree size {self.tree_size} is outside 0..2**63-1")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"checkpoint root hash is {len(self.root_hash)} bytes, expected {HASH_SIZE}")
        for number, line in enumerate(self.extensions, start=1):
            _check_line(f"extension line {number}", line)

    def body(self) -> str:
        """The note text: origin, tree size, base64 root hash, extension lines, each ending in a newline."""
        lines = [self.origin, str(self.tree_size), _b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint's note text strictly (the body, without the blank line and signatures)."""
        if len(body) > MAX_NOTE_BYTES:
            raise CheckpointError(f"checkpoint body is longer than {MAX_NOTE_BYTES} bytes")
        if not body.endswith("\n"):
            raise CheckpointError("checkpoint body does not end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"checkpoint body has {len(lines)} lines, at least 3 expected")
        origin, size_text, root_text, *extensions = lines
        return cls(origin, _parse_tree_size(size_text), _parse_root_hash(root_text), tuple(extensions))


def _parse_tree_size(text: str) -> int:
    if _DECIMAL.fullmatch(text) is None:
        raise CheckpointError(f"checkpoint tree size line {text[:40]!r} is not a decimal number without leading zeroes")
    size = int(text)
    if size > MAX_TREE_SIZE:
        raise CheckpointError(f"checkpoint tree size {size} is larger than 2**63-1")
    return size


def _parse_root_hash(text: str) -> bytes:
    raw = _b64decode(text)
    if raw is None:
        raise CheckpointError(f"checkpoint root hash line {text[:60]!r} is not canonical standard base64")
    if len(raw) != HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(raw)} bytes, expected {HASH_SIZE}")
    return raw


# -- verifier keys -------------------------------------------------------------------------------------------


class VerifierKey(NamedTuple):
    name: str
    key_id: bytes
    public_key: bytes


def vkey(name: str, public_key_raw: bytes, signature_type: int = SIGNATURE_TYPE_ED25519) -> str:
    """c2sp.org/signed-note verifier key: "<name>+<hex key id>+<base64(signature type || public key)>".

    Type 0x01 (the default) verifies note signatures; type 0x04 names an Ed25519 cosigner (tlog-cosignature).
    """
    _check_name(name, "key name")
    _check_public_key(public_key_raw)
    _check_signature_type(signature_type)
    identifier = key_id(name, signature_type, public_key_raw).hex()
    return f"{name}+{identifier}+{_b64encode(bytes([signature_type]) + public_key_raw)}"


def _check_signature_type(signature_type: int) -> None:
    if signature_type not in (SIGNATURE_TYPE_ED25519, SIGNATURE_TYPE_COSIGNATURE_V1):
        raise CheckpointError(f"signature type 0x{signature_type:02x} is not Ed25519 (0x01) or cosignature/v1 (0x04)")


def parse_vkey(text: str, signature_type: int = SIGNATURE_TYPE_ED25519) -> VerifierKey:
    """Parse a verifier key of the given signature type; its key id must match its name and key."""
    _check_signature_type(signature_type)
    name, _, rest = text.partition("+")
    identifier, _, key_text = rest.partition("+")  # the base64 key may itself contain "+"
    _check_name(name, "verifier key name")
    if _KEY_ID_HEX.fullmatch(identifier) is None:
        raise CheckpointError(f"verifier key for {name}: key id {identifier[:20]!r} is not 8 hex digits")
    typed_key = _b64decode(key_text)
    if typed_key is None or len(typed_key) != 1 + PUBLIC_KEY_SIZE:
        raise CheckpointError(f"verifier key for {name}: key is not base64 of a type byte and a 32-byte key")
    if typed_key[0] != signature_type:
        raise CheckpointError(
            f"verifier key for {name}: signature type 0x{typed_key[0]:02x}, expected 0x{signature_type:02x}"
        )
    public_key = typed_key[1:]
    _check_public_key(public_key)
    computed = key_id(name, signature_type, public_key)
    if computed != bytes.fromhex(identifier):
        raise CheckpointError(f"verifier key for {name}: key id {identifier} does not match its key ({computed.hex()})")
    return VerifierKey(name, computed, public_key)


# -- signed notes --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _SignatureLine:
    number: int  # 1-based, among the note's signature lines
    name: str
    key_id: bytes
    signature: bytes


def _signature_line(name: str, payload: bytes) -> str:
    return f"{_EM_DASH_SPACE}{name} {_b64encode(payload)}\n"


def _check_note_text(text: str) -> bytes:
    raw = _utf8(text, "note text")
    if text == "" or not text.endswith("\n"):
        raise CheckpointError("note text must be non-empty and end with a newline")
    _check_no_control(text, "note text")
    return raw


def sign_note(body: str, name: str, public_key_raw: bytes, sign: SignFn) -> str:
    """The signed note: ``body``, a blank line and the Ed25519 signature line of key ``name``.

    ``sign`` signs with the private key of ``public_key_raw``; its signature is checked before it is returned.
    """
    _check_name(name, "signer name")
    message = _check_note_text(body)
    signature = sign(message)
    if len(signature) != SIGNATURE_SIZE or not _verifies(public_key_raw, signature, message):
        raise CheckpointError(f"the signature made for {name} does not verify under the given public key")
    note = body + "\n" + _signature_line(name, key_id(name, SIGNATURE_TYPE_ED25519, public_key_raw) + signature)
    if len(note.encode("utf-8")) > MAX_NOTE_BYTES:
        raise CheckpointError(f"signed note would be larger than {MAX_NOTE_BYTES} bytes")
    return note


def _split_note(text: str) -> tuple[str, list[_SignatureLine]]:
    """Check a note's syntax (c2sp.org/signed-note, as golang.org/x/mod/sumdb/note Open does); text and lines."""
    raw = _utf8(text, "note")
    if len(raw) > MAX_NOTE_BYTES:
        raise CheckpointError(f"note is {len(raw)} bytes, more than the limit of {MAX_NOTE_BYTES}")
    _check_no_control(text, "note")
    split = text.rfind("\n\n")  # the text ends at the last blank line
    if split < 0:
        raise CheckpointError("note has no blank line between its text and its signatures")
    body, block = text[: split + 1], text[split + 2 :]
    if block == "":
        raise CheckpointError("note has no signature lines")
    if not block.endswith("\n"):
        raise CheckpointError("note does not end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURE_LINES:
        raise CheckpointError(f"note has {len(lines)} signature lines, more than the limit of {MAX_SIGNATURE_LINES}")
    return body, [_parse_signature_line(line, number) for number, line in enumerate(lines, start=1)]


def _parse_signature_line(line: str, number: int) -> _SignatureLine:
    if not line.startswith(_EM_DASH_SPACE):
        raise CheckpointError(f"malformed signature line {number}: it does not start with an em dash and a space")
    name, _, encoded = line[len(_EM_DASH_SPACE) :].partition(" ")
    if not is_valid_name(name):
        raise CheckpointError(f"malformed signature line {number}: {name[:60]!r} is not a valid key name")
    payload = _b64decode(encoded)
    if payload is None:
        raise CheckpointError(f"malformed signature line {number}: the signature is not canonical standard base64")
    if len(payload) <= KEY_ID_SIZE:
        raise CheckpointError(f"malformed signature line {number}: {len(payload)} bytes, too short for a signature")
    return _SignatureLine(number, name, payload[:KEY_ID_SIZE], payload[KEY_ID_SIZE:])


def _the_line_of(lines: list[_SignatureLine], name: str, identifier: bytes, what: str) -> _SignatureLine:
    """The one signature line of key (name, key id); lines of other keys are ignored (c2sp.org/signed-note)."""
    mine = [line for line in lines if line.name == name and line.key_id == identifier]
    if not mine:
        raise CheckpointError(f"no {what} by {name} (key id {identifier.hex()})")
    if len(mine) > 1:
        numbers = ", ".join(str(line.number) for line in mine)
        raise CheckpointError(f"{len(mine)} {what}s by {name} (key id {identifier.hex()}) on lines {numbers}")
    return mine[0]


def open_note(text: str, name: str, public_key_raw: bytes) -> str:
    """Verify the Ed25519 signature of key ``name`` on a signed note and return the note text (the body).

    Signature lines of other keys are ignored, as the spec requires; the note must be well-formed throughout.
    """
    _check_public_key(public_key_raw)
    body, lines = _split_note(text)
    line = _the_line_of(lines, name, key_id(name, SIGNATURE_TYPE_ED25519, public_key_raw), "signature")
    if len(line.signature) != SIGNATURE_SIZE or not _verifies(public_key_raw, line.signature, body.encode("utf-8")):
        raise CheckpointError(f"signature by {name} (signature line {line.number}) does not verify")
    return body


def open_checkpoint(text: str, name: str, public_key_raw: bytes) -> Checkpoint:
    """``open_note`` and then ``Checkpoint.parse`` of the verified text."""
    return Checkpoint.parse(open_note(text, name, public_key_raw))


# -- cosignatures --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cosignature:
    """c2sp.org/tlog-cosignature, Ed25519 (type 0x04): a witness's timestamped signature on a checkpoint."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes

    def __post_init__(self) -> None:
        _check_name(self.name, "cosigner name")
        if len(self.key_id) != KEY_ID_SIZE:
            raise CheckpointError(f"cosignature key id is {len(self.key_id)} bytes, expected {KEY_ID_SIZE}")
        if not 0 <= self.timestamp <= MAX_TIMESTAMP:
            raise CheckpointError(f"cosignature timestamp {self.timestamp} is outside 0..2**63-1")
        if len(self.signature) != SIGNATURE_SIZE:
            raise CheckpointError(f"cosignature is {len(self.signature)} bytes, expected {SIGNATURE_SIZE}")

    def payload(self) -> bytes:
        """key id || timestamp (u64, big-endian) || Ed25519 signature: what the signature line base64-encodes."""
        return self.key_id + self.timestamp.to_bytes(TIMESTAMP_SIZE, "big") + self.signature

    def line(self) -> str:
        """The note signature line, newline included, ready to append to the checkpoint's signed note."""
        return _signature_line(self.name, self.payload())


def cosigned_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    """c2sp.org/tlog-cosignature, "Ed25519 signed message": header line, time line, whole checkpoint body."""
    return f"{_COSIGNATURE_HEADER}time {timestamp}\n{checkpoint.body()}".encode()


def cosign(checkpoint: Checkpoint, name: str, public_key_raw: bytes, sign: SignFn, timestamp: int) -> Cosignature:
    """Cosign ``checkpoint`` as cosigner ``name`` at POSIX time ``timestamp`` (the signature is checked)."""
    _check_name(name, "cosigner name")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CheckpointError(f"cosignature timestamp {timestamp} is outside 0..2**63-1")
    message = cosigned_message(checkpoint, timestamp)
    signature = sign(message)
    if len(signature) != SIGNATURE_SIZE or not _verifies(public_key_raw, signature, message):
        raise CheckpointError(f"the cosignature made for {name} does not verify under the given public key")
    return Cosignature(name, key_id(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key_raw), timestamp, signature)


def verify_cosignature(checkpoint: Checkpoint, cosignature: Cosignature, public_key_raw: bytes) -> None:
    """Check that ``cosignature`` is the cosigner's valid signature on ``checkpoint``; CheckpointError if not."""
    expected = key_id(cosignature.name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key_raw)
    if cosignature.key_id != expected:
        raise CheckpointError(
            f"cosignature by {cosignature.name} has key id {cosignature.key_id.hex()}, "
            f"but the cosigner's key has key id {expected.hex()}"
        )
    message = cosigned_message(checkpoint, cosignature.timestamp)
    if not _verifies(public_key_raw, cosignature.signature, message):
        raise CheckpointError(f"cosignature by {cosignature.name} at time {cosignature.timestamp} does not verify")


def _cosignature_from(line: _SignatureLine) -> Cosignature:
    expected = KEY_ID_SIZE + TIMESTAMP_SIZE + SIGNATURE_SIZE
    if len(line.signature) != TIMESTAMP_SIZE + SIGNATURE_SIZE:
        raise CheckpointError(
            f"cosignature line {line.number} by {line.name} carries {KEY_ID_SIZE + len(line.signature)} bytes, "
            f"expected {expected} (key id, timestamp, Ed25519 signature)"
        )
    timestamp = int.from_bytes(line.signature[:TIMESTAMP_SIZE], "big")
    return Cosignature(line.name, line.key_id, timestamp, line.signature[TIMESTAMP_SIZE:])


def parse_cosignature_line(line: str) -> Cosignature:
    """Parse one cosignature line as a witness returns it (the trailing newline is optional)."""
    text = line.removesuffix("\n")
    if "\n" in text:
        raise CheckpointError("a cosignature line must be a single line")
    if len(text) > MAX_NOTE_BYTES:
        raise CheckpointError(f"cosignature line is longer than {MAX_NOTE_BYTES} characters")
    _check_no_control(text, "cosignature line")
    return _cosignature_from(_parse_signature_line(text, 1))


def open_cosigned_checkpoint(text: str, name: str, public_key_raw: bytes) -> tuple[Checkpoint, Cosignature]:
    """Find and verify the cosignature of cosigner ``name`` in a signed checkpoint note.

    Only the cosignature is checked: the log's own signature is ``open_checkpoint``'s business.
    """
    _check_public_key(public_key_raw)
    body, lines = _split_note(text)
    identifier = key_id(name, SIGNATURE_TYPE_COSIGNATURE_V1, public_key_raw)
    cosignature = _cosignature_from(_the_line_of(lines, name, identifier, "cosignature"))
    checkpoint = Checkpoint.parse(body)
    verify_cosignature(checkpoint, cosignature, public_key_raw)
    return checkpoint, cosignature
