"""Evidence packages end to end: export on one node, verify offline, import on another country's node; and every
attack the issue lists, each caught at the step that names it, with nothing imported."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bagit
import pytest

from accord.audit.service import Disclosure
from accord.errors import InvalidInput
from accord.evidence import layout
from accord.evidence.safezip import write_package_zip
from accord.evidence.transfer import ExportResult, PackageRejected
from accord.evidence.verify import KnownCheckpoint, PackageReport, verify_package
from accord.identity.actor import Actor
from accord.node import Node
from tests.conftest import count_rows
from tests.evidence.conftest import PHONE_DUMP, PRODUCTION, acting_for, add

SEND = Disclosure(purpose="MLA request PH-2026-17: transfer of evidence")


def _export(node: Node, actor: Actor, tmp_path: Path, name: str = "pkg.zip", **kwargs: object) -> ExportResult:
    first = add(node, actor)
    second = add(node, actor, data=PRODUCTION, file_name="production.csv", source_kind="provider-production")
    node.evidence.record_event(actor, first.id, "analysed", "message timeline", {"tool": "ALEAPP 3.2"})
    return node.evidence_packages.export(
        actor, tmp_path / name, SEND, item_ids=[first.id, second.id], recipient="PNP Anti-Cybercrime Group", **kwargs
    )


def _step(report: PackageReport, number: int) -> str:
    step = report.steps[number - 1]
    assert step.status == "failed", report.lines()
    assert all(s.status == "passed" for s in report.steps[: number - 1]), report.lines()
    return step.detail


def _resign(folder: Path, keys: Any, node_id: str | None = None) -> None:
    """What a node with a signing key could do: restate the records' hashes in the statement and sign it again."""
    statement_path = folder / layout.STATEMENT
    statement = json.loads(statement_path.read_text())
    statement["records"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in layout.SIGNED_RECORDS
    }
    if node_id is not None:
        statement["node_id"] = node_id
    data = (json.dumps(statement, indent=2, sort_keys=True) + "\n").encode()
    statement_path.write_bytes(data)
    signature = keys.sign(layout.STATEMENT_DOMAIN + hashlib.sha256(data).digest())
    (folder / layout.STATEMENT_SIGNATURE).write_bytes(base64.b64encode(signature) + b"\n")


def _rewrite(
    package: Path, tmp_path: Path, change: Callable[[Path], None], *, rebag: bool = True, signer: Any = None
) -> Path:
    """Unzip, change, optionally re-sign the statement and recompute the BagIt manifests, and zip again."""
    folder = tmp_path / "forged"
    shutil.rmtree(folder, ignore_errors=True)
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder)
    change(folder)
    if signer is not None:
        _resign(folder, signer)
    if rebag:
        bagit.Bag(str(folder)).save(manifests=True)
    target = tmp_path / "forged.zip"
    target.unlink(missing_ok=True)
    write_package_zip(folder, target, stored=lambda name: name.startswith(layout.ITEMS_DIR))
    return target


def test_export_verifies_offline_and_with_bagit(node: Node, police: Actor, tmp_path: Path) -> None:
    result = _export(node, police, tmp_path)
    report = verify_package(result.path)
    assert report.ok, report.lines()
    assert len(report.steps) == 13
    assert report.statement is not None and len(report.statement["items"]) == 2
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        for info in archive.infolist():
            if info.filename.startswith(layout.ITEMS_DIR):
                assert info.compress_type == zipfile.ZIP_STORED  # hashed at disk speed by the verifier
        archive.extractall(tmp_path / "bag")
    assert {layout.STATEMENT, layout.CUSTODY, layout.CHECKPOINT, layout.CASE_UCO, "bagit.txt"} <= set(names)
    bag = bagit.Bag(str(tmp_path / "bag"))
    bag.validate()  # the bagit library's own full validation
    assert bag.info["External-Identifier"] == result.package_id
    custody = json.loads((tmp_path / "bag" / layout.CUSTODY).read_text())
    assert [e["index"] for e in custody["events"]] == sorted(e["index"] for e in custody["events"])
    # The export itself is in the log, chained to each item's history.
    last = json.loads(custody["events"][-1]["body"])
    assert last["kind"] == "exported" and last["details"]["package_id"] == result.package_id
    assert node.evidence.custody.verify().events == 5


def test_export_of_a_case_and_a_second_package_proves_consistency(node: Node, police: Actor, tmp_path: Path) -> None:
    first = _export(node, police, tmp_path, "one.zip")
    second = node.evidence_packages.export(police, tmp_path / "two.zip", SEND, case_reference="VN-2026-0042")
    assert sorted(second.items) == sorted(first.items)
    one = verify_package(first.path)
    known = KnownCheckpoint(
        one.checkpoint_note or "", one.checkpoint.origin if one.checkpoint else "", node.keys.public_raw
    )
    report = verify_package(second.path, known=[known])
    assert report.ok, report.lines()
    assert "1 known checkpoints of this node consistent" in report.steps[10].detail


def test_import_on_another_node(node: Node, police: Actor, peer_node: Node, operator: Actor, tmp_path: Path) -> None:
    result = _export(node, police, tmp_path)
    pnp = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    receiver = acting_for(operator, pnp.id)
    with pytest.raises(InvalidInput, match="not an active peer"):  # a package cannot vouch for its own key
        peer_node.evidence_packages.import_package(receiver, result.path, Disclosure(purpose="MLA PH-2026-17"))
    assert count_rows(peer_node, "evidence_items") == 0
    imported = peer_node.evidence_packages.import_package(
        receiver, result.path, Disclosure(purpose="MLA PH-2026-17"), expected_node=node.keys.node_id
    )
    assert imported.origin_node_id == node.keys.node_id
    assert sorted(i.id for i in imported.items) == sorted(result.items)
    held = {i.id: i for i in peer_node.evidence.items(receiver, None, Disclosure(purpose="inventory"))}
    for item in imported.items:
        assert held[item.id].origin_node_id == node.keys.node_id
        custody = peer_node.evidence.item(receiver, item.id, Disclosure(purpose="check")).custody
        assert [e.kind for e in custody] == ["received"]
        assert custody[0].document["details"]["package_id"] == result.package_id
        _view, stream = peer_node.evidence.open_content(receiver, item.id, Disclosure(purpose="analysis"))
        with stream:
            assert stream.read() in (PHONE_DUMP, PRODUCTION)
    assert count_rows(peer_node, "known_checkpoints") == 1
    # Re-importing the same package is refused and changes nothing.
    with pytest.raises(InvalidInput, match="already held"):
        peer_node.evidence_packages.import_package(
            receiver, result.path, Disclosure(purpose="again"), expected_node=node.keys.node_id
        )
    assert count_rows(peer_node, "evidence_items") == 2
    # The receiver can pass the evidence on: its own package starts the chain with "received".
    onward = peer_node.evidence_packages.export(
        receiver, tmp_path / "onward.zip", SEND, item_ids=[imported.items[0].id]
    )
    assert verify_package(onward.path).ok


def _attack_cases() -> list[tuple[str, Callable[[Path], None], bool, int, str]]:
    def flip_item_byte(folder: Path) -> None:
        target = next((folder / "data" / "items").rglob("phone.db"))
        data = bytearray(target.read_bytes())
        data[100] ^= 0x01
        target.write_bytes(bytes(data))

    def remove_item(folder: Path) -> None:
        next((folder / "data" / "items").rglob("production.csv")).unlink()

    def add_file(folder: Path) -> None:
        (folder / "data" / "items" / "planted.txt").write_text("planted")

    def edit_statement(folder: Path) -> None:
        path = folder / layout.STATEMENT
        path.write_text(path.read_text().replace("Search warrant 17/2026/QD", "Search warrant 18/2026/QD"))

    def custody_events(folder: Path, change: Callable[[list[dict[str, object]]], None]) -> None:
        path = folder / layout.CUSTODY
        document = json.loads(path.read_text())
        change(document["events"])
        path.write_text(json.dumps(document))

    def reorder(folder: Path) -> None:
        custody_events(folder, lambda events: events.reverse())

    def swap_bodies(folder: Path) -> None:
        def swap(events: list[dict[str, object]]) -> None:
            events[0]["body"], events[1]["body"] = events[1]["body"], events[0]["body"]

        custody_events(folder, swap)

    def delete_event(folder: Path) -> None:
        custody_events(folder, lambda events: events.pop(1))

    def forge_signature(folder: Path) -> None:
        import base64

        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        path = folder / layout.STATEMENT_SIGNATURE
        path.write_text(base64.b64encode(Ed25519PrivateKey.generate().sign(b"anything")).decode())

    def swap_checkpoint(folder: Path) -> None:
        path = folder / layout.CHECKPOINT
        lines = path.read_text().split("\n")
        lines[1] = str(int(lines[1]) + 1)  # claim a bigger tree under the old signature
        path.write_text("\n".join(lines))

    return [
        ("flipped byte, manifest untouched", flip_item_byte, "raw", 3, "phone.db: SHA-256 is"),
        ("flipped byte, manifest recomputed", flip_item_byte, "rebag", 10, "its custody records"),
        ("missing file", remove_item, "raw", 2, "production.csv: listed in manifest-sha256.txt but missing"),
        ("extra file", add_file, "raw", 2, "planted.txt: in the package but not listed"),
        ("statement edited", edit_statement, "rebag", 6, "does not verify"),
        ("events reordered", reorder, "rebag", 6, "not the one the signed statement records"),
        ("event deleted", delete_event, "rebag", 6, "not the one the signed statement records"),
        ("forged signature", forge_signature, "rebag", 6, "does not verify"),
        ("checkpoint altered", swap_checkpoint, "rebag", 6, "not the one the signed statement records"),
        # The sending node itself re-signing a doctored package: the Merkle proofs and chains still catch it.
        ("events reordered, re-signed", reorder, "resign", 9, "out of order"),
        ("events moved, re-signed", swap_bodies, "resign", 8, "event 0 (log index 0)"),
        ("event deleted, re-signed", delete_event, "resign", 9, "custody events"),
        ("checkpoint altered, re-signed", swap_checkpoint, "resign", 7, ""),
        ("collection facts restated, re-signed", edit_statement, "resign", 9, "in its registration event"),
    ]


@pytest.mark.parametrize(
    ("change", "mode", "step", "message"),
    [case[1:] for case in _attack_cases()],
    ids=[case[0] for case in _attack_cases()],
)
def test_tampered_package_is_caught_and_nothing_imported(
    node: Node,
    police: Actor,
    peer_node: Node,
    operator: Actor,
    tmp_path: Path,
    change: Callable[[Path], None],
    mode: str,
    step: int,
    message: str,
) -> None:
    result = _export(node, police, tmp_path)
    signer = node.keys if mode == "resign" else None
    forged = _rewrite(result.path, tmp_path, change, rebag=mode != "raw", signer=signer)
    report = verify_package(forged)
    assert not report.ok
    assert message in _step(report, step)
    pnp = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    with pytest.raises(PackageRejected):
        peer_node.evidence_packages.import_package(
            acting_for(operator, pnp.id), forged, Disclosure(purpose="MLA"), expected_node=node.keys.node_id
        )
    assert count_rows(peer_node, "evidence_items") == 0
    assert count_rows(peer_node, "custody_events") == 0
    blobs = peer_node.settings.home / "blobs" / "sha256"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    assert count_rows(peer_node, "audit_entries", "action = 'evidence.import' AND outcome = 'failed'") == 1


def test_tree_head_inconsistent_with_an_earlier_one(node: Node, police: Actor, tmp_path: Path, home: Path) -> None:
    """A node that rewrote its log (here: a fork signed with the same key) cannot prove consistency with a head
    the receiver already holds."""
    result = _export(node, police, tmp_path, "honest.zip")
    honest = verify_package(result.path)
    assert honest.checkpoint is not None
    # Fork: a different event at index 0 under the same key, signed as a checkpoint of the same size.
    from accord.evidence import merkle
    from accord.evidence.checkpoint import Checkpoint, sign_note

    forked_root = merkle.root_from_leaf_hashes([merkle.leaf_hash(b"rewritten history")] * honest.checkpoint.tree_size)
    forged = Checkpoint(honest.checkpoint.origin, honest.checkpoint.tree_size, forked_root)
    forged_note = sign_note(forged.body(), forged.origin, node.keys.public_raw, node.keys.sign)
    later = node.evidence_packages.export(police, tmp_path / "later.zip", SEND, case_reference="VN-2026-0042")
    report = verify_package(later.path, known=[KnownCheckpoint(forged_note, forged.origin, node.keys.public_raw)])
    assert "tree heads inconsistent" in _step(report, 11)


def test_path_traversal_member_is_refused(node: Node, police: Actor, tmp_path: Path) -> None:
    result = _export(node, police, tmp_path)
    evil = tmp_path / "evil.zip"
    shutil.copyfile(result.path, evil)
    with zipfile.ZipFile(evil, "a") as archive:
        archive.writestr("data/../../outside.txt", b"x")
    report = verify_package(evil)
    assert "escapes" in _step(report, 1) or ".." in _step(report, 1)


def test_destroyed_items_cannot_be_exported(node: Node, police: Actor, tmp_path: Path) -> None:
    item = add(node, police)
    node.evidence.destroy_item(police, item.id, "Court order", "Judge")
    with pytest.raises(InvalidInput, match="destroyed"):
        node.evidence_packages.export(police, tmp_path / "x.zip", SEND, item_ids=[item.id])
    assert not (tmp_path / "x.zip").exists()


def test_integrity_incident_blocks_export(node: Node, police: Actor, tmp_path: Path) -> None:
    from accord.evidence.blobstore import BlobMismatch

    item = add(node, police)
    path = node.evidence.blobs.local_path(item.sha256)
    path.chmod(0o644)
    path.write_bytes(b"bit rot")
    with pytest.raises(BlobMismatch):
        node.evidence_packages.export(police, tmp_path / "x.zip", SEND, item_ids=[item.id])
    assert not (tmp_path / "x.zip").exists()
    assert [e.kind for e in node.evidence.item(police, item.id, SEND).custody] == ["registered"]


def test_witness_cosignature_is_stored_carried_and_checked(node: Node, police: Actor, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from accord.evidence.checkpoint import (
        SIGNATURE_TYPE_COSIGNATURE_V1,
        CheckpointError,
        cosign,
        open_checkpoint,
        vkey,
    )

    item = add(node, police)
    signed = node.evidence.checkpoint(police)
    head = open_checkpoint(signed.note, node.evidence.custody.origin, node.keys.public_raw)
    witness_key = Ed25519PrivateKey.generate()
    public = witness_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    witness_vkey = vkey("witness.ph.example/w1", public, SIGNATURE_TYPE_COSIGNATURE_V1)
    line = cosign(head, "witness.ph.example/w1", public, witness_key.sign, 1_795_000_000).line()
    stored = node.evidence.add_cosignature(police, head.tree_size, witness_vkey, line)
    assert stored["witness"] == "witness.ph.example/w1"
    # A cosignature made for another head, or by another key, is refused before it is kept.
    with pytest.raises(CheckpointError):
        node.evidence.add_cosignature(police, head.tree_size, witness_vkey, line.replace("A", "B", 1))
    other = Ed25519PrivateKey.generate()
    other_public = other.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    other_vkey = vkey("witness.ph.example/w1", other_public, SIGNATURE_TYPE_COSIGNATURE_V1)
    with pytest.raises(CheckpointError):
        node.evidence.add_cosignature(police, head.tree_size, other_vkey, line)
    assert count_rows(node, "custody_cosignatures") == 1

    result = node.evidence_packages.export(police, tmp_path / "w.zip", SEND, item_ids=[item.id])
    report = verify_package(result.path, witnesses=[witness_vkey])
    assert report.ok, report.lines()
    assert "witness.ph.example/w1 (first 1 events)" in report.steps[11].detail
    unknown = vkey("witness.gh.example/w2", other_public, SIGNATURE_TYPE_COSIGNATURE_V1)
    assert "no valid cosignature by witness witness.gh.example/w2" in _step(
        verify_package(result.path, witnesses=[unknown]), 12
    )


def test_a_package_forged_with_another_key(node: Node, police: Actor, peer_node: Node, tmp_path: Path) -> None:
    """Anyone can sign a package with their own key; it only ever names that key's node, and pinning the
    expected node (the id exchanged when peering) refuses it."""
    result = _export(node, police, tmp_path)
    folder = tmp_path / "forged"
    impostor = peer_node.keys

    def take_over(path: Path) -> None:
        from accord.evidence.checkpoint import Checkpoint, open_note, sign_note, vkey

        origin = layout.custody_origin(impostor.node_id)
        old = Checkpoint.parse(
            open_note(
                (path / layout.CHECKPOINT).read_text(), layout.custody_origin(node.keys.node_id), node.keys.public_raw
            )
        )
        new = Checkpoint(origin, old.tree_size, old.root_hash)
        (path / layout.CHECKPOINT).write_text(sign_note(new.body(), origin, impostor.public_raw, impostor.sign))
        (path / layout.NODE_KEY).write_text(vkey(origin, impostor.public_raw) + "\n")
        (path / layout.CONSISTENCY).write_text(json.dumps({"tree_size": old.tree_size, "earlier": []}))

    def claim_victim(path: Path) -> None:
        take_over(path)
        _resign(path, impostor, node_id=node.keys.node_id)

    claimed = _rewrite(result.path, tmp_path, claim_victim)
    assert "is signed by" in _step(verify_package(claimed), 6)  # it cannot claim to come from the victim node
    shutil.rmtree(folder, ignore_errors=True)
    own = _rewrite(result.path, tmp_path, take_over, signer=impostor)
    # Events bodies still name the victim's log: the impostor's package fails where it uses them.
    assert not verify_package(own).ok
    report = verify_package(own, expect_nodes=[node.keys.node_id])
    assert "not the node you expect" in _step(report, 5)


def test_unpinned_verification_says_so(node: Node, police: Actor, tmp_path: Path) -> None:
    result = _export(node, police, tmp_path)
    unpinned = verify_package(result.path)
    assert unpinned.ok and unpinned.pinned is False and "not pinned" in unpinned.steps[4].detail
    pinned = verify_package(result.path, expect_nodes=[node.keys.node_id])
    assert pinned.ok and pinned.pinned and "the node you expect" in pinned.steps[4].detail


@pytest.mark.parametrize(
    "breakage",
    ["index_negative", "index_huge", "tree_size_negative", "deep_nesting", "bad_percent_escape", "items_not_objects"],
)
def test_malformed_data_is_a_failed_step_never_a_crash(
    node: Node, police: Actor, peer_node: Node, operator: Actor, tmp_path: Path, breakage: str
) -> None:
    """Found in review: hostile values of the right JSON type but the wrong shape used to escape as exceptions."""
    result = _export(node, police, tmp_path)

    def change(folder: Path) -> None:
        custody = folder / layout.CUSTODY
        if breakage in ("index_negative", "index_huge"):
            document = json.loads(custody.read_text())
            document["events"][0]["index"] = -1 if breakage == "index_negative" else 2**64
            custody.write_text(json.dumps(document))
        elif breakage == "tree_size_negative":
            path = folder / layout.CONSISTENCY
            document = json.loads(path.read_text())
            document["earlier"] = [{"tree_size": -5, "root_hash": "00" * 32, "proof": [], "signed_note": ""}]
            path.write_text(json.dumps(document))
        elif breakage == "deep_nesting":
            custody.write_text("[" * 200_000 + "]" * 200_000)
        elif breakage == "bad_percent_escape":
            manifest = folder / "manifest-sha256.txt"
            manifest.write_text(manifest.read_text() + "0" * 64 + "  data/%FF\n")
        else:
            statement = folder / layout.STATEMENT
            document = json.loads(statement.read_text())
            document["items"] = ["x"]
            statement.write_text(json.dumps(document))

    forged = _rewrite(result.path, tmp_path, change, rebag=breakage != "bad_percent_escape", signer=node.keys)
    report = verify_package(forged)
    assert not report.ok
    assert report.first_failure() is not None
    pnp = peer_node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    with pytest.raises(PackageRejected):
        peer_node.evidence_packages.import_package(
            acting_for(operator, pnp.id), forged, Disclosure(purpose="MLA"), expected_node=node.keys.node_id
        )
    blobs = peer_node.settings.home / "blobs" / "sha256"
    assert not blobs.exists() or not any(p.is_file() for p in blobs.rglob("*"))
    assert count_rows(peer_node, "audit_entries", "action = 'evidence.import' AND outcome = 'failed'") == 1


def test_a_package_being_written_is_verified_by_reading_it(node: Node, police: Actor, tmp_path: Path) -> None:
    """While another program holds the package open for writing, no read lease is granted: the payload is read
    into a buffer instead of hashed in place, with the same result, tampering included."""
    result = _export(node, police, tmp_path)
    writer = os.open(result.path, os.O_WRONLY)
    try:
        report = verify_package(result.path)
        assert report.ok, report.lines()
        with zipfile.ZipFile(result.path) as archive:
            info = next(i for i in archive.infolist() if i.filename.startswith(layout.ITEMS_DIR))
        with result.path.open("rb") as reading:  # the member's data follows its 30-byte local header (4.3.7)
            reading.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", reading.read(4))
            data_offset = info.header_offset + 30 + name_length + extra_length
            reading.seek(data_offset)
            flipped = bytes([reading.read(1)[0] ^ 1])
        os.pwrite(writer, flipped, data_offset)
        assert f"{info.filename}: SHA-256 is" in _step(verify_package(result.path), 3)
    finally:
        os.close(writer)


def test_a_package_opened_for_writing_while_verified_fails_that_step(node: Node, police: Actor, tmp_path: Path) -> None:
    result = _export(node, police, tmp_path)
    refused: list[int] = []

    def write_into_the_package(_count: int) -> None:
        try:
            os.close(os.open(result.path, os.O_WRONLY | os.O_NONBLOCK))
        except BlockingIOError:
            refused.append(1)  # the verifier's read lease held the writer off and is now broken

    report = verify_package(result.path, progress=write_into_the_package)
    if not refused:
        pytest.skip("this file system or kernel refuses read leases: the package was read, not hashed in place")
    assert "opened for writing while it was verified" in _step(report, 3)
