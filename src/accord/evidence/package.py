"""Writing evidence packages: a BagIt bag (made by the ``bagit`` library) zipped with the payload stored.

The files are staged as hard links to the blobs (a copy only when the blob store is on another file system),
``bagit.make_bag`` hashes them into ``manifest-sha256.txt``, and those hashes are compared with the items'
registered hashes before anything is zipped (Convention req. 41: the hash is checked again at every export).
The zip is written beside the target and renamed into place, so a failed export never leaves a package.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bagit

from accord.errors import AccordError
from accord.evidence import layout
from accord.evidence.safezip import write_package_zip


class ExportIntegrityError(AccordError):
    """A stored evidence file no longer has the hash it was registered with: the export is refused."""

    def __init__(self, item_id: str, expected: str, actual: str) -> None:
        self.item_id = item_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"integrity incident: item {item_id} has SHA-256 {actual}, registered as {expected}")


@dataclass(frozen=True)
class StagedFile:
    item_id: str
    path: str  # inside the bag, e.g. data/items/<id>/<name>
    source: Path
    sha256: str


@dataclass(frozen=True)
class PackageContents:
    statement: dict[str, Any]
    custody: dict[str, Any]
    checkpoint_note: str
    consistency: dict[str, Any]
    node_vkey: str
    case_uco: dict[str, Any]
    bag_info: dict[str, str]


@contextmanager
def staging_dir(parent: Path) -> Iterator[Path]:
    parent.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=parent, prefix="package-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_package(
    staging: Path,
    target: Path,
    files: Sequence[StagedFile],
    contents: PackageContents,
    sign: Any,
) -> str:
    """Stage, bag, check and zip. Returns the SHA-256 of the written zip. ``sign`` is the node's signer."""
    for staged in files:
        # Before make_bag moves everything under data/, payload paths are relative to the bag root without data/.
        destination = staging / staged.path.removeprefix("data/")
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(staged.source, destination)
        except OSError:
            shutil.copyfile(staged.source, destination)
    accord_dir = staging / layout.ACCORD_DIR.removeprefix("data/")
    accord_dir.mkdir(parents=True, exist_ok=True)
    records = {
        layout.CUSTODY: _json_bytes(contents.custody),
        layout.CHECKPOINT: contents.checkpoint_note.encode(),
        layout.CONSISTENCY: _json_bytes(contents.consistency),
        layout.NODE_KEY: (contents.node_vkey + "\n").encode(),
        layout.CASE_UCO: _json_bytes(contents.case_uco),
        layout.README: layout.VERIFY_INSTRUCTIONS.encode(),
    }
    # The statement carries the hash of every other record, so its one signature covers them all.
    hashes = {name: hashlib.sha256(records[name]).hexdigest() for name in layout.SIGNED_RECORDS}
    statement = _json_bytes({**contents.statement, "records": hashes})
    signature = sign(layout.STATEMENT_DOMAIN + hashlib.sha256(statement).digest())
    records[layout.STATEMENT] = statement
    records[layout.STATEMENT_SIGNATURE] = base64.b64encode(signature) + b"\n"
    for name, data in records.items():
        (staging / name.removeprefix("data/")).write_bytes(data)
    bag = bagit.make_bag(str(staging), bag_info=contents.bag_info, checksums=["sha256"], processes=1)
    hashes = bag.payload_entries()
    for staged in files:
        actual = hashes.get(staged.path, {}).get("sha256")
        if actual != staged.sha256:
            raise ExportIntegrityError(staged.item_id, staged.sha256, str(actual))
    write_package_zip(staging, target, stored=lambda name: name.startswith(layout.ITEMS_DIR))
    digest = hashlib.sha256()
    with target.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()
