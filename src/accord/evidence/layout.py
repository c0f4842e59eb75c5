"""Where things sit inside an Accord evidence package, shared by the writer and the offline verifier.

The package is a zip of one BagIt bag (RFC 8493) at the zip's root. Evidence files are payload under
``data/items/<item id>/<file name>``; Accord's own records are payload too (``data/accord/``), so the bag's
SHA-256 manifest covers every byte, and a receiver with only ``bagit`` can already check the files.
"""

from __future__ import annotations

FORMAT = "accord-evidence-package/1"
ITEMS_DIR = "data/items/"
ACCORD_DIR = "data/accord/"
STATEMENT = ACCORD_DIR + "package.json"  # what the package holds; signed by the node (STATEMENT_SIGNATURE)
STATEMENT_SIGNATURE = ACCORD_DIR + "package.json.sig"
CUSTODY = ACCORD_DIR + "custody.json"  # every custody event of the items, with inclusion proofs
CHECKPOINT = ACCORD_DIR + "checkpoint.txt"  # the signed tree head (C2SP signed note), witness cosignatures
CONSISTENCY = ACCORD_DIR + "consistency.json"  # earlier signed heads of the log, each with a consistency proof
NODE_KEY = ACCORD_DIR + "node-key.txt"  # the node's verifier key (C2SP vkey) and its raw public key
CASE_UCO = ACCORD_DIR + "case-uco.jsonld"  # CASE/UCO description of items, provenance and actions
README = ACCORD_DIR + "VERIFY.txt"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
BAGIT_TXT = "bagit.txt"
BAG_INFO = "bag-info.txt"
TAG_FILES = (BAGIT_TXT, BAG_INFO, MANIFEST)
STATEMENT_DOMAIN = b"accord-evidence-package-v1\n"  # signature domain separation: sign(DOMAIN || sha256(package.json))


# Accord's records whose SHA-256 the signed statement carries: a rebuilt bag cannot change them unnoticed.
SIGNED_RECORDS = (CUSTODY, CHECKPOINT, CONSISTENCY, NODE_KEY, CASE_UCO, README)
MIB = 1024 * 1024
# Records are parsed whole: each has its own bound (a deeply nested or huge JSON file is refused before parsing).
RECORD_LIMITS = {STATEMENT: 32 * MIB, CUSTODY: 64 * MIB, CONSISTENCY: 16 * MIB, CASE_UCO: 64 * MIB}
DEFAULT_RECORD_LIMIT = MIB


def custody_origin(node_id: str) -> str:
    """A node's custody log name: the C2SP checkpoint origin and the name its heads are signed under."""
    return f"accord/{node_id}/custody"


def item_path(item_id: str, file_name: str) -> str:
    return f"{ITEMS_DIR}{item_id}/{file_name}"


VERIFY_INSTRUCTIONS = """\
How to verify this evidence package
===================================

This is a BagIt bag (RFC 8493) made by an Accord node. Every file below data/ is listed with its
SHA-256 in manifest-sha256.txt. To verify everything offline, with no database and no network:

    accord evidence verify PACKAGE.zip [--known-checkpoint FILE] [--witness VKEY]

Each numbered step is printed as passed or failed; the exit code is 0 only when all pass.

Without Accord:
 1. Any BagIt tool (e.g. `bagit.py --validate DIR` after unzipping) checks the files against the manifest.
 2. data/accord/package.json is signed by the node: data/accord/package.json.sig holds the base64
    Ed25519 signature over b"accord-evidence-package-v1\\n" followed by the 32-byte SHA-256 of
    package.json, under the public key in data/accord/node-key.txt. package.json lists the SHA-256 of
    every other file in data/accord/ ("records"), so the one signature covers them all. Check the
    node id (node- followed by the first 32 hex digits of SHA-256 of the raw public key) with the
    sender by a second channel: the package cannot vouch for its own key.
 3. data/accord/checkpoint.txt is the custody log's signed tree head (C2SP tlog-checkpoint in a C2SP
    signed note). Each event in data/accord/custody.json is a leaf: SHA-256(0x00 || event bytes), and
    its inclusion proof leads to the checkpoint's root hash (RFC 9162, section 2.1.3.2).
 4. data/accord/consistency.json proves (RFC 9162, section 2.1.4.2) that this checkpoint extends
    every earlier checkpoint of the same log: compare them with any checkpoint you received before.
 5. data/accord/case-uco.jsonld describes the items, their provenance and the investigative actions
    in CASE/UCO (check with case_validate from case-utils).
"""
