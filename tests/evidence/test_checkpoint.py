"""Checkpoints, signed notes and cosignatures against the C2SP specs, published vectors and a real witnessed log.

Known answers come from: golang.org/x/mod/sumdb/note (note_test.go: the PeterNeumann and EnochRoot keys and
signatures), the C2SP specs' own examples (signed-note, tlog-checkpoint, tlog-cosignature), transparency-dev/
formats (note/note_cosigv1_test.go: a cosignature and its timestamp) and a real checkpoint of the
arche2025h1.staging.ct.transparency.dev log with the cosignature of the remora.n621.de witness (as quoted in the
tests of a Python tlog library); their vkeys are the published ones.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.evidence.checkpoint import (
    MAX_NOTE_BYTES,
    SIGNATURE_TYPE_COSIGNATURE_V1,
    Checkpoint,
    CheckpointError,
    Cosignature,
    cosign,
    cosigned_message,
    key_id,
    open_checkpoint,
    open_cosigned_checkpoint,
    open_note,
    parse_cosignature_line,
    parse_vkey,
    sign_note,
    verify_cosignature,
    vkey,
)
from accord.evidence.merkle import EMPTY_ROOT, leaf_hash
from accord.identity.node_keys import NodeKeys

EM = "\u2014"

# -- golang.org/x/mod/sumdb/note, note_test.go ------------------------------------------------------------------
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SKEY_B64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"  # of "PRIVATE+KEY+PeterNeumann+c74f20a3+..."
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# -- C2SP signed-note example (example.com/foo) ------------------------------------------------------------------
FOO_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
FOO_NOTE = (
    "This is an example message.\n\n"
    f"{EM} example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# -- a real witnessed checkpoint ---------------------------------------------------------------------------------
ARCHE_VKEY = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
ARCHE_BODY = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n"
ARCHE_SIGNATURES = [
    "arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREP"
    "MHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=",
    "arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3"
    "NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=",
    "transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2"
    "rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==",
    "witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcx"
    "Z75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==",
    "remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9s"
    "XTynk5XeU/zZ0WBxtqB0DrAWfBw==",
    "witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJm"
    "IY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==",
]
ARCHE_NOTE = ARCHE_BODY + "\n" + "".join(f"{EM} {line}\n" for line in ARCHE_SIGNATURES)

# -- C2SP tlog-checkpoint / tlog-cosignature examples ------------------------------------------------------------
SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_COSIGNATURE = (
    f"{EM} witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)


def new_keys() -> NodeKeys:
    private = Ed25519PrivateKey.generate()
    return NodeKeys(private, private.public_key())


def peter_keys() -> NodeKeys:
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(PETER_SKEY_B64)[1:])
    return NodeKeys(private, private.public_key())


# -- known answers -------------------------------------------------------------------------------------------


def test_go_sumdb_note_vectors() -> None:
    peter = parse_vkey(PETER_VKEY)
    assert (peter.name, peter.key_id.hex()) == ("PeterNeumann", "c74f20a3")
    keys = peter_keys()
    assert keys.public_raw == peter.public_key
    assert vkey("PeterNeumann", keys.public_raw) == PETER_VKEY
    # Ed25519 is deterministic (RFC 8032), so signing must reproduce Go's note byte for byte.
    assert sign_note(GO_TEXT, "PeterNeumann", keys.public_raw, keys.sign) == GO_TEXT + "\n" + PETER_SIG
    enoch = parse_vkey(ENOCH_VKEY)
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, peter.name, peter.public_key) == GO_TEXT
    assert open_note(both, enoch.name, enoch.public_key) == GO_TEXT


def test_go_sumdb_note_rejections() -> None:
    peter = parse_vkey(PETER_VKEY)

    def fails(note: str, message: str) -> None:
        with pytest.raises(CheckpointError, match=message):
            open_note(note, peter.name, peter.public_key)

    fails(GO_TEXT + "\n" + ENOCH_SIG, "^no signature by PeterNeumann \\(key id c74f20a3\\)$")
    fails(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], "signature by PeterNeumann .* does not verify")
    fails(GO_TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, "does not verify")
    fails(GO_TEXT + "\n" + PETER_SIG * 101, "101 signature lines, more than the limit of 100")
    # The malformed messages of Go's TestOpen ("\xff" becomes a lone surrogate: a str that is not UTF-8).
    fails(GO_TEXT, "no blank line")
    fails(GO_TEXT + "\n", "no signature lines")
    fails(GO_TEXT + "\n" + PETER_SIG[:-1], "does not end with a newline")
    fails("\x01" + GO_TEXT + "\n" + PETER_SIG, "control character U\\+0001 at character 0")
    fails("\ud800" + GO_TEXT + "\n" + PETER_SIG, "not valid UTF-8")
    fails(
        GO_TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"),
        "malformed signature line 1: the signature is not",
    )
    fails(GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n", "malformed signature line 2: it does not start with")


def test_go_verifier_key_manglings_are_rejected() -> None:
    """Go's TestNewVerifier: every proper substring and every single-character change of the vkey fails."""
    for start in range(len(PETER_VKEY) + 1):
        for end in range(start + 1, len(PETER_VKEY) + 1):
            if (start, end) != (0, len(PETER_VKEY)):
                with pytest.raises(CheckpointError):
                    parse_vkey(PETER_VKEY[start:end])
    for position, char in enumerate(PETER_VKEY):
        with pytest.raises(CheckpointError):
            parse_vkey(PETER_VKEY[:position] + chr(ord(char) + 1) + PETER_VKEY[position + 1 :])


def test_c2sp_signed_note_example() -> None:
    foo = parse_vkey(FOO_VKEY)
    assert foo.public_key.hex() == "e932791ae6e7a840a46164c904786426d5e7821dd8b29a00d61cae72afdd4da4"
    assert open_note(FOO_NOTE, foo.name, foo.public_key) == "This is an example message.\n"


def test_a_real_checkpoint_with_its_log_signature_and_a_real_witness_cosignature() -> None:
    log = parse_vkey(ARCHE_VKEY)
    checkpoint = open_checkpoint(ARCHE_NOTE, log.name, log.public_key)
    assert checkpoint.origin == "arche2025h1.staging.ct.transparency.dev"
    assert checkpoint.tree_size == 1432088532
    assert checkpoint.body() == ARCHE_BODY
    witness = parse_vkey(REMORA_VKEY, SIGNATURE_TYPE_COSIGNATURE_V1)
    cosigned, cosignature = open_cosigned_checkpoint(ARCHE_NOTE, witness.name, witness.public_key)
    assert cosigned == checkpoint
    assert cosignature.timestamp == 0x6A122120
    assert cosignature.line() == f"{EM} {ARCHE_SIGNATURES[4]}\n"
    assert parse_cosignature_line(cosignature.line()) == cosignature
    verify_cosignature(checkpoint, cosignature, witness.public_key)
    # The witness's vkey of type 0x04 is not a note-signing key, and the log's key is not a cosigner key.
    with pytest.raises(CheckpointError, match=r"no signature by remora.n621.de"):
        open_note(ARCHE_NOTE, witness.name, witness.public_key)
    with pytest.raises(CheckpointError, match="no cosignature by arche2025h1"):
        open_cosigned_checkpoint(ARCHE_NOTE, log.name, log.public_key)
    tampered = ARCHE_NOTE.replace("1432088532", "1432088533")
    with pytest.raises(
        CheckpointError, match=r"signature by arche2025h1.staging.ct.transparency.dev .* does not verify"
    ):
        open_checkpoint(tampered, log.name, log.public_key)
    with pytest.raises(CheckpointError, match=r"^cosignature by remora.n621.de at time 1779573024 does not verify$"):
        open_cosigned_checkpoint(tampered, witness.name, witness.public_key)


def test_c2sp_checkpoint_and_cosignature_examples() -> None:
    checkpoint = Checkpoint.parse(SOFA_BODY)
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.body()) == (
        "example.com/behind-the-sofa",
        20852163,
        SOFA_BODY,
    )
    cosignature = parse_cosignature_line(SOFA_COSIGNATURE)
    assert (cosignature.name, cosignature.key_id.hex(), cosignature.timestamp) == (
        "witness.example.com/w1",
        "8d66cf3f",
        1679315147,
    )
    # The signed message exactly as tlog-cosignature.md shows it.
    assert cosigned_message(checkpoint, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_transparency_dev_cosignature_timestamp_vectors() -> None:
    good = "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
    assert parse_cosignature_line(f"{EM} w {good}").timestamp == 1727964367
    plain = "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="
    with pytest.raises(CheckpointError, match="carries 68 bytes, expected 76"):
        parse_cosignature_line(f"{EM} w {plain}")


# -- round trips ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "checkpoint",
    [
        Checkpoint("accord/node-1/custody", 0, EMPTY_ROOT),
        Checkpoint("accord/node-1/custody", 12, leaf_hash(b"x")),
        Checkpoint("example.com/log", 2**63 - 1, leaf_hash(b"y"), ("extension one", "\u00e9t\u00e9 \u2014 2")),
    ],
)
def test_checkpoint_note_and_cosignature_round_trip(checkpoint: Checkpoint) -> None:
    log, witness = new_keys(), new_keys()
    assert Checkpoint.parse(checkpoint.body()) == checkpoint
    note = sign_note(checkpoint.body(), checkpoint.origin, log.public_raw, log.sign)
    assert open_checkpoint(note, checkpoint.origin, log.public_raw) == checkpoint
    assert parse_vkey(vkey(checkpoint.origin, log.public_raw)).public_key == log.public_raw
    cosignature = cosign(checkpoint, "witness.example/w", witness.public_raw, witness.sign, 1_700_000_000)
    assert cosignature.key_id == key_id("witness.example/w", SIGNATURE_TYPE_COSIGNATURE_V1, witness.public_raw)
    stored = cosignature.line()
    assert stored.startswith(f"{EM} witness.example/w ") and stored.endswith("\n")
    assert parse_cosignature_line(stored) == cosignature == parse_cosignature_line(stored.rstrip("\n"))
    verify_cosignature(checkpoint, parse_cosignature_line(stored), witness.public_raw)
    witnessed = note + stored
    assert open_checkpoint(witnessed, checkpoint.origin, log.public_raw) == checkpoint
    assert open_cosigned_checkpoint(witnessed, "witness.example/w", witness.public_raw) == (checkpoint, cosignature)
    cosigner_vkey = vkey("witness.example/w", witness.public_raw, SIGNATURE_TYPE_COSIGNATURE_V1)
    assert parse_vkey(cosigner_vkey, SIGNATURE_TYPE_COSIGNATURE_V1).key_id == cosignature.key_id


# -- strict parsing ------------------------------------------------------------------------------------------

ROOT_B64 = base64.b64encode(EMPTY_ROOT).decode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"o\n1\n{ROOT_B64}", "does not end with a newline"),
        ("o\n1\n", "has 2 lines, at least 3 expected"),
        (f"\n1\n{ROOT_B64}\n", "origin line is empty"),
        (f"o\n01\n{ROOT_B64}\n", "not a decimal number without leading zeroes"),
        (f"o\n+1\n{ROOT_B64}\n", "not a decimal number"),
        (f"o\n-1\n{ROOT_B64}\n", "not a decimal number"),
        (f"o\n 1\n{ROOT_B64}\n", "not a decimal number"),
        (f"o\n\u0661\n{ROOT_B64}\n", "not a decimal number"),
        (f"o\n\n{ROOT_B64}\n", "not a decimal number"),
        (f"o\n9223372036854775808\n{ROOT_B64}\n", "larger than 2\\*\\*63-1"),
        (f"o\n99999999999999999999\n{ROOT_B64}\n", "not a decimal number"),
        ("o\n1\nnot base64!\n", "not canonical standard base64"),
        (f"o\n1\n{ROOT_B64[:-1]}\n", "not canonical standard base64"),
        (f"o\n1\n{ROOT_B64[:-2]}9=\n", "not canonical standard base64"),
        (f"o\n1\n{base64.b64encode(EMPTY_ROOT[:31]).decode()}\n", "root hash is 31 bytes, expected 32"),
        (f"o\n1\n{ROOT_B64}\n\n", "extension line 1 is empty"),
        (f"o\n1\n{ROOT_B64}\next\n\nmore\n", "extension line 2 is empty"),
        (f"o\tx\n1\n{ROOT_B64}\n", "origin line has control character U\\+0009"),
    ],
)
def test_checkpoint_parse_is_strict(body: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        Checkpoint.parse(body)


def test_checkpoint_fields_are_checked() -> None:
    with pytest.raises(CheckpointError, match="tree size -1 is outside"):
        Checkpoint("o", -1, EMPTY_ROOT)
    with pytest.raises(CheckpointError, match="root hash is 3 bytes"):
        Checkpoint("o", 1, b"abc")
    with pytest.raises(CheckpointError, match="extension line 1 contains a newline"):
        Checkpoint("o", 1, EMPTY_ROOT, ("a\nb",))
    with pytest.raises(CheckpointError, match="origin line contains a newline"):
        Checkpoint("o\n", 1, EMPTY_ROOT)


def test_verifier_key_errors() -> None:
    keys = new_keys()
    good = vkey("example.com/log", keys.public_raw)
    name, identifier, key = good.split("+", 2)
    with pytest.raises(CheckpointError, match="key id 00000000 does not match its key"):
        parse_vkey(f"{name}+00000000+{key}")
    with pytest.raises(CheckpointError, match="signature type 0x01, expected 0x04"):
        parse_vkey(good, SIGNATURE_TYPE_COSIGNATURE_V1)
    with pytest.raises(CheckpointError, match="key id 'xyz' is not 8 hex digits"):
        parse_vkey(f"{name}+xyz+{key}")
    with pytest.raises(CheckpointError, match="is not a valid key name"):
        parse_vkey(f"a b+{identifier}+{key}")
    with pytest.raises(CheckpointError, match="not a valid key name"):
        vkey("a+b", keys.public_raw)
    with pytest.raises(CheckpointError, match="public key is 31 bytes"):
        vkey("a", keys.public_raw[:31])
    with pytest.raises(CheckpointError, match="signature type 0x02 is not"):
        vkey("a", keys.public_raw, 0x02)


# -- tampering with signed notes -----------------------------------------------------------------------------


@pytest.fixture
def signed() -> tuple[NodeKeys, str, str]:
    keys = new_keys()
    checkpoint = Checkpoint("accord/node-1/custody", 42, leaf_hash(b"head"), ("ext",))
    return keys, checkpoint.origin, sign_note(checkpoint.body(), checkpoint.origin, keys.public_raw, keys.sign)


def test_tampering_with_any_body_line_breaks_the_signature(signed: tuple[NodeKeys, str, str]) -> None:
    keys, name, note = signed
    body, _, signatures = note.partition("\n\n")
    lines = body.split("\n")
    for number, line in enumerate(lines):
        for changed in (line + "x", line[:-1], ("Y" if line[0] == "Z" else "Z") + line[1:]):
            tampered = "\n".join([*lines[:number], changed, *lines[number + 1 :]]) + "\n\n" + signatures
            with pytest.raises(CheckpointError, match=r"^signature by accord/node-1/custody .* does not verify$"):
                open_note(tampered, name, keys.public_raw)


def test_signatures_by_other_keys_and_wrong_key_ids(signed: tuple[NodeKeys, str, str]) -> None:
    keys, name, note = signed
    other = new_keys()
    body = note.partition("\n\n")[0] + "\n"
    by_other = sign_note(body, name, other.public_raw, other.sign)  # same name, another key: another key id
    with pytest.raises(CheckpointError, match=f"^no signature by {name} \\(key id [0-9a-f]{{8}}\\)$"):
        open_note(by_other, name, keys.public_raw)
    payload = base64.b64decode(note.rsplit(" ", 1)[1])
    wrong_id = note.rsplit(" ", 1)[0] + " " + base64.b64encode(b"\0\0\0\0" + payload[4:]).decode() + "\n"
    with pytest.raises(CheckpointError, match=r"^no signature by"):
        open_note(wrong_id, name, keys.public_raw)
    with pytest.raises(CheckpointError, match=r"^no signature by accord/node-2/custody"):
        open_note(note, "accord/node-2/custody", keys.public_raw)
    # Lines of other keys are ignored, wherever they stand.
    mixed = by_other + note.partition("\n\n")[2] + ENOCH_SIG
    assert open_note(mixed, name, keys.public_raw) == body


def test_duplicate_signature_lines_are_rejected(signed: tuple[NodeKeys, str, str]) -> None:
    keys, name, note = signed
    line = note.partition("\n\n")[2]
    with pytest.raises(CheckpointError, match=f"^2 signatures by {name} \\(key id [0-9a-f]{{8}}\\) on lines 1, 3$"):
        open_note(note + ENOCH_SIG + line, name, keys.public_raw)


def test_malformed_signature_lines_are_named(signed: tuple[NodeKeys, str, str]) -> None:
    keys, name, note = signed
    cases = [
        ("- accord/node-1/custody AAAAAAA=\n", "malformed signature line 3: it does not start with an em dash"),
        (f"{EM} accord/node-1/custody not*base64\n", "malformed signature line 3: the signature is not canonical"),
        (f"{EM} accord/node-1/custody AAAAAA==\n", "malformed signature line 3: 4 bytes, too short"),
        (f"{EM} a+b AAAAAAAA\n", "malformed signature line 3: 'a\\+b' is not a valid key name"),
        (f"{EM} \n", "malformed signature line 3: '' is not a valid key name"),
    ]
    for bad, message in cases:
        with pytest.raises(CheckpointError, match=message):
            open_note(note + ENOCH_SIG + bad, name, keys.public_raw)


def test_note_size_limits(signed: tuple[NodeKeys, str, str]) -> None:
    keys, name, note = signed
    body, _, signatures = note.partition("\n\n")
    padded = body + "\n" + "x" * MAX_NOTE_BYTES + "\n\n" + signatures
    with pytest.raises(CheckpointError, match=f"more than the limit of {MAX_NOTE_BYTES}"):
        open_note(padded, name, keys.public_raw)
    with pytest.raises(CheckpointError, match="more than the limit of 100"):
        open_note(note + ENOCH_SIG * 100, name, keys.public_raw)
    assert open_note(note + ENOCH_SIG * 99, name, keys.public_raw) == body + "\n"
    with pytest.raises(CheckpointError, match="signed note would be larger than"):
        sign_note("x" * MAX_NOTE_BYTES + "\n", name, keys.public_raw, keys.sign)


def test_sign_note_checks_its_inputs() -> None:
    keys, other = new_keys(), new_keys()
    with pytest.raises(CheckpointError, match="must be non-empty and end with a newline"):
        sign_note("no newline", "n", keys.public_raw, keys.sign)
    with pytest.raises(CheckpointError, match="must be non-empty"):
        sign_note("", "n", keys.public_raw, keys.sign)
    with pytest.raises(CheckpointError, match="control character U\\+001B"):
        sign_note("a\x1bb\n", "n", keys.public_raw, keys.sign)
    for bad in ("", "a b", "a+b", "a\u00a0b"):
        with pytest.raises(CheckpointError, match="not a valid key name"):
            sign_note("a\n", bad, keys.public_raw, keys.sign)
    with pytest.raises(CheckpointError, match="does not verify under the given public key"):
        sign_note("a\n", "n", other.public_raw, keys.sign)
    with pytest.raises(CheckpointError, match="public key is 33 bytes"):
        sign_note("a\n", "n", keys.public_raw + b"\0", keys.sign)


# -- cosignature failures ------------------------------------------------------------------------------------


def test_cosignature_failures() -> None:
    witness, other = new_keys(), new_keys()
    checkpoint = Checkpoint("example.com/log", 5, leaf_hash(b"five"))
    cosignature = cosign(checkpoint, "w.example/1", witness.public_raw, witness.sign, 1_700_000_000)
    with pytest.raises(CheckpointError, match=r"^cosignature by w.example/1 has key id [0-9a-f]{8}, but the cosigner"):
        verify_cosignature(checkpoint, cosignature, other.public_raw)
    later = Cosignature(cosignature.name, cosignature.key_id, cosignature.timestamp + 1, cosignature.signature)
    with pytest.raises(CheckpointError, match=r"^cosignature by w.example/1 at time 1700000001 does not verify$"):
        verify_cosignature(checkpoint, later, witness.public_raw)
    # The signed message covers the extension lines too (transparency-dev TestSigCoversExtensionLines).
    extended = Checkpoint(checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash, ("extra",))
    with pytest.raises(CheckpointError, match="does not verify"):
        verify_cosignature(extended, cosignature, witness.public_raw)
    with pytest.raises(CheckpointError, match="timestamp -1 is outside"):
        cosign(checkpoint, "w.example/1", witness.public_raw, witness.sign, -1)
    with pytest.raises(CheckpointError, match="timestamp 9223372036854775808 is outside"):
        cosign(checkpoint, "w.example/1", witness.public_raw, witness.sign, 2**63)
    with pytest.raises(CheckpointError, match=r"cosignature made for w.example/1 does not verify"):
        cosign(checkpoint, "w.example/1", other.public_raw, witness.sign, 1)
    with pytest.raises(CheckpointError, match="must be a single line"):
        parse_cosignature_line(cosignature.line() + cosignature.line())
    with pytest.raises(CheckpointError, match="malformed signature line 1"):
        parse_cosignature_line("w.example/1 " + cosignature.line().split(" ")[-1])
    with pytest.raises(CheckpointError, match="key id is 3 bytes"):
        Cosignature("w", b"abc", 1, cosignature.signature)
    with pytest.raises(CheckpointError, match="cosignature is 63 bytes"):
        Cosignature("w", b"abcd", 1, cosignature.signature[:63])
    huge = b"\x80" + b"\0" * 7  # a u64 timestamp above 2**63-1
    line = f"{EM} w {base64.b64encode(cosignature.key_id + huge + cosignature.signature).decode()}"
    with pytest.raises(CheckpointError, match="timestamp 9223372036854775808 is outside"):
        parse_cosignature_line(line)
    note = sign_note(checkpoint.body(), checkpoint.origin, other.public_raw, other.sign)
    with pytest.raises(CheckpointError, match=r"^2 cosignatures by w.example/1"):
        open_cosigned_checkpoint(note + cosignature.line() * 2, "w.example/1", witness.public_raw)
