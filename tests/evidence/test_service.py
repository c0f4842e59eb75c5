"""Evidence items and the custody log on both databases: registration, access, copies, sealing, destruction,
visibility, and a log that exposes any change made behind Accord's back."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import text

from accord.audit.service import Disclosure
from accord.clock import FrozenClock
from accord.errors import InvalidInput, NotFound
from accord.evidence import merkle
from accord.evidence.blobstore import BlobMismatch, BlobTooLarge
from accord.evidence.checkpoint import open_checkpoint
from accord.evidence.custody import CustodyLog, CustodyLogBroken, NewEvent, leaf_body
from accord.evidence.service import EvidenceStateError, ItemView
from accord.identity.actor import Actor
from accord.identity.errors import PermissionDenied
from accord.node import Node
from tests.conftest import count_rows
from tests.evidence.conftest import PHONE_DUMP, PRODUCTION, acting_for, add, metadata

WHY = Disclosure(purpose="case review")


def _tamper(node: Node, table: str, statement: str) -> None:
    """Change a row the way a database administrator could: the append-only trigger out of the way first."""
    with node.db.engine.begin() as connection:
        if node.db.dialect == "sqlite":
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        connection.execute(text(statement))


def test_add_hashes_while_streaming_and_registers(node: Node, police: Actor) -> None:
    item = add(node, police)
    assert item.sha256 == hashlib.sha256(PHONE_DUMP).hexdigest()
    assert item.size_bytes == len(PHONE_DUMP)
    assert item.exhibit_number == "EX-0001"
    assert node.evidence.blobs.local_path(item.sha256).read_bytes() == PHONE_DUMP
    detail = node.evidence.item(police, item.id, WHY)
    [registered] = detail.custody
    assert registered.kind == "registered"
    assert registered.document["previous"] is None
    assert registered.document["item_sha256"] == item.sha256
    assert registered.document["details"]["legal_basis"] == "Search warrant 17/2026/QD"
    # The entry carries a proof against the signed head that a verifier can check with the node key alone.
    checkpoint = open_checkpoint(detail.checkpoint.note, node.evidence.custody.origin, node.keys.public_raw)
    merkle.verify_inclusion(
        bytes.fromhex(registered.leaf_hash),
        registered.seq,
        checkpoint.tree_size,
        [bytes.fromhex(h) for h in registered.inclusion_proof],
        checkpoint.root_hash,
    )
    assert count_rows(node, "audit_entries", "action = 'evidence.add'") == 1


def test_truncated_upload_keeps_nothing(node: Node, police: Actor) -> None:
    with pytest.raises(BlobMismatch, match="size"):
        node.evidence.add_item(police, [PHONE_DUMP[:100]], metadata(), expected_size=len(PHONE_DUMP))
    with pytest.raises(BlobMismatch, match="sha256"):
        node.evidence.add_item(police, [PHONE_DUMP], metadata(), expected_sha256="0" * 64)
    assert count_rows(node, "evidence_items") == 0
    assert count_rows(node, "custody_events") == 0
    incoming = node.settings.home / "blobs" / "incoming"
    assert not any(incoming.iterdir())
    assert not (node.settings.home / "blobs" / "sha256").exists()


def test_size_limit(node: Node, police: Actor) -> None:
    node.evidence.max_item_bytes = 1000
    with pytest.raises(BlobTooLarge):
        add(node, police)
    assert count_rows(node, "evidence_items") == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file_name", "../etc/passwd"),
        ("file_name", "a/b"),
        ("file_name", ".."),
        ("file_name", "x\x00y"),
        ("source_kind", "rumour"),
        ("case_reference", ""),
        ("description", "x" * 10_001),
    ],
)
def test_bad_metadata_names_the_field(node: Node, police: Actor, field: str, value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        add(node, police, **{field: value})
    assert caught.value.field == field
    assert count_rows(node, "evidence_items") == 0


def test_items_are_only_visible_to_their_party(node: Node, police: Actor, operator: Actor) -> None:
    item = add(node, police)
    other = node.identity.add_party(operator, "PNP Anti-Cybercrime Group", "law_enforcement", "PH")
    stranger = acting_for(operator, other.id)
    stranger = Actor(**{**stranger.__dict__, "via": "session"})
    with pytest.raises(NotFound):
        node.evidence.item(stranger, item.id, WHY)
    with pytest.raises(NotFound):
        node.evidence.open_content(stranger, item.id, WHY)
    assert node.evidence.items(stranger, None, WHY) == []
    assert [i.id for i in node.evidence.items(operator, None, WHY)] == [item.id]
    assert count_rows(node, "audit_entries", "action = 'evidence.list' AND purpose = 'case review'") == 2


def test_partner_cannot_handle_evidence(node: Node, operator: Actor) -> None:
    bank = node.identity.add_party(operator, "Demo Bank", "bank", "VN")
    partner = Actor(
        user_id="u1",
        username="teller",
        party_id=bank.id,
        party_name=bank.name,
        country="VN",
        roles=frozenset({"partner"}),  # type: ignore[arg-type]
        scopes=None,
        via="session",
    )
    with pytest.raises(PermissionDenied):
        add(node, partner)


def test_access_seal_release_copy_and_destroy(node: Node, police: Actor) -> None:
    item = add(node, police)
    _view, stream = node.evidence.open_content(police, item.id, Disclosure(purpose="forensic analysis"))
    with stream:
        assert stream.read() == PHONE_DUMP
    node.evidence.record_event(police, item.id, "sealed", "original sealed after imaging")
    with pytest.raises(EvidenceStateError, match="sealed"):
        node.evidence.open_content(police, item.id, WHY)
    copy = node.evidence.copy_item(police, item.id, "working copy for analysis")
    assert copy.parent_item_id == item.id
    assert copy.sha256 == item.sha256
    assert copy.exhibit_number == "EX-0001-C1"
    _view, stream = node.evidence.open_content(police, copy.id, WHY)
    stream.close()
    node.evidence.record_event(police, item.id, "released", "court ordered re-examination")
    kinds = [entry.kind for entry in node.evidence.item(police, item.id, WHY).custody]
    assert kinds == ["registered", "accessed", "sealed", "copied", "released"]
    # Destroying the original keeps the bytes while the copy still holds them; the copy's destruction frees them.
    node.evidence.destroy_item(police, item.id, "Court order 5/2027: return or destroy", "Judge Le Van C")
    assert node.evidence.blobs.has(item.sha256)
    node.evidence.destroy_item(police, copy.id, "Court order 5/2027: return or destroy", "Judge Le Van C")
    assert not node.evidence.blobs.has(item.sha256)
    detail = node.evidence.item(police, item.id, WHY)
    assert detail.item.state == "destroyed"
    assert detail.custody[-1].document["item_sha256"] == item.sha256  # the hash outlives the bytes (req. 48)
    with pytest.raises(EvidenceStateError):
        node.evidence.open_content(police, item.id, WHY)
    with pytest.raises(InvalidInput) as caught:
        node.evidence.record_event(police, item.id, "registered", "claiming an event that did not happen")
    assert caught.value.field == "kind"
    assert node.evidence.custody.verify().events == 9


def test_each_items_history_chains(node: Node, police: Actor) -> None:
    first = add(node, police)
    second = add(node, police, data=PRODUCTION, file_name="production.csv", source_kind="provider-production")
    node.evidence.record_event(police, first.id, "analysed", "timeline of messages", {"tool": "ALEAPP 3.2"})
    node.evidence.record_event(police, second.id, "analysed", "subscriber lookup")
    for item in (first, second):
        custody = node.evidence.item(police, item.id, WHY).custody
        assert custody[1].document["previous"] == custody[0].leaf_hash


def test_log_verify_passes_and_catches_each_kind_of_change(node: Node, police: Actor, clock: FrozenClock) -> None:
    item = add(node, police)
    node.evidence.checkpoint(police)
    clock.advance(timedelta(minutes=5))
    node.evidence.record_event(police, item.id, "analysed", "hash re-check")
    node.evidence.checkpoint(police)
    report = node.evidence.custody.verify()
    assert (report.events, report.checkpoints) == (2, 2)

    _tamper(
        node,
        "custody_events",
        "UPDATE custody_events SET body = replace(body, 'hash re-check', 'nothing') WHERE seq = 1",
    )
    with pytest.raises(CustodyLogBroken, match="event 1"):
        node.evidence.custody.verify()


def test_log_rewritten_with_its_leaf_hashes_is_caught_by_the_signed_head(node: Node, police: Actor) -> None:
    item = add(node, police)
    node.evidence.record_event(police, item.id, "analysed", "first look")
    node.evidence.checkpoint(police)
    # Rewrite the event and its leaf hash consistently: only the signed tree head can tell.
    with node.db.reading() as session:
        body = session.execute(text("SELECT body FROM custody_events WHERE seq = 1")).scalar_one()
    forged = body.replace("first look", "second look")
    leaf = merkle.leaf_hash(forged.encode())
    _tamper(node, "custody_events", "SELECT 1")
    with node.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE custody_events SET body = :b, leaf_hash = :h WHERE seq = 1"), {"b": forged, "h": leaf}
        )
    with pytest.raises(CustodyLogBroken, match=r"checkpoint 2|subtree"):
        node.evidence.custody.verify()


def test_deleted_event_is_caught(node: Node, police: Actor) -> None:
    item = add(node, police)
    node.evidence.record_event(police, item.id, "analysed", "a")
    node.evidence.record_event(police, item.id, "analysed", "b")
    _tamper(node, "custody_events", "DELETE FROM custody_events WHERE seq = 1")
    with pytest.raises(CustodyLogBroken, match="event 1"):
        node.evidence.custody.verify()


def test_append_only_triggers(node: Node, police: Actor) -> None:
    item = add(node, police)
    node.evidence.record_event(police, item.id, "analysed", "completes the first subtree")
    with pytest.raises(Exception, match="append-only"), node.db.engine.begin() as connection:
        connection.execute(text("UPDATE custody_events SET kind = 'x'"))
    with pytest.raises(Exception, match="append-only"), node.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM custody_subtrees"))


def test_proofs_match_a_tree_rebuilt_from_the_leaves(node: Node, police: Actor) -> None:
    items = [add(node, police, data=bytes([n]) * 50, file_name=f"f{n}.bin") for n in range(3)]
    for n in range(20):
        node.evidence.record_event(police, items[n % 3].id, "analysed", f"pass {n}")
    with node.db.reading() as session:
        leaves = [
            bytes(h) for h in session.execute(text("SELECT leaf_hash FROM custody_events ORDER BY seq")).scalars()
        ]
        log = node.evidence.custody
        for size in (1, 2, 7, 16, len(leaves)):
            assert log.root(session, size) == merkle.root_from_leaf_hashes(leaves[:size])
        for old in (1, 5, 8, 13):
            proof = log.consistency_proof(session, old, len(leaves))
            merkle.verify_consistency(
                old, len(leaves), merkle.root_from_leaf_hashes(leaves[:old]), log.root(session, len(leaves)), proof
            )


def test_concurrent_events_on_one_item_keep_its_chain(node: Node, police: Actor) -> None:
    """Found in review: two transactions read the same previous leaf before locking the log (PostgreSQL)."""
    import threading

    item = add(node, police)
    errors: list[BaseException] = []

    def record(n: int) -> None:
        try:
            for i in range(15):
                node.evidence.record_event(police, item.id, "analysed", f"worker {n} pass {i}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert node.evidence.custody.verify().events == 46


def _append(log: CustodyLog, node: Node, item: ItemView, purpose: str, *, fail: bool = False, count: int = 1) -> None:
    """``count`` events on ``item``, each chained to the one before, in one transaction."""
    with node.db.writing() as session:
        log.lock(session)
        previous = log.last_leaf(session, item.id)
        events = []
        for n in range(count):
            events.append(
                NewEvent(item.id, "analysed", node.clock.now(), "t", None, item.sha256, previous, f"{purpose} {n}")
            )
            previous = merkle.leaf_hash(leaf_body(log.origin, events[-1]))
        log.append(session, events)
        if fail:
            raise RuntimeError("rolled back")


def test_an_append_after_a_rollback_or_another_writer_uses_the_stored_frontier(node: Node, police: Actor) -> None:
    """Each log remembers the frontier of its last append; one from a rolled-back append, or overtaken by
    another process's append of the same size, must not be used (the stored tree would stop matching)."""
    item = add(node, police)
    for n in range(5):  # size 6: the remembered frontier's rightmost subtree is a level-1 node
        node.evidence.record_event(police, item.id, "analysed", f"pass {n}")
    log = node.evidence.custody
    with pytest.raises(RuntimeError):
        _append(log, node, item, "rolled back", fail=True)
    other_process = CustodyLog(node.db, node.clock, log._keys)
    _append(other_process, node, item, "another writer")  # the rolled-back size again, another leaf
    for n in range(3):
        node.evidence.record_event(police, item.id, "analysed", f"after {n}")
        _append(other_process, node, item, f"other {n}")  # its remembered frontier is stale each time
    with node.db.reading() as session:
        leaves = [
            bytes(h) for h in session.execute(text("SELECT leaf_hash FROM custody_events ORDER BY seq")).scalars()
        ]
        assert log.root(session, len(leaves)) == merkle.root_from_leaf_hashes(leaves)
    assert log.verify().events == len(leaves) == 1 + 5 + 1 + 6
    # A rolled-back batch, then another writer's batch of the same size: the leaves differ in the middle.
    with pytest.raises(RuntimeError):
        _append(log, node, item, "batch rolled back", fail=True, count=5)
    _append(other_process, node, item, "other batch", count=5)
    node.evidence.record_event(police, item.id, "analysed", "after the batches")
    assert log.verify().events == 13 + 5 + 1
