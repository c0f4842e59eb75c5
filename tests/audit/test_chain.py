"""The hash-chained audit log: appends, verification, and tampering found at the right entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from accord.audit.chain import entry_body, entry_hash
from accord.audit.errors import AuditChainBroken
from accord.audit.service import AuditActor, AuditQuery, Disclosure
from accord.node import Node

ACTOR = AuditActor(id="user--1", name="lan", party_id="party--1")


def _append_many(node: Node, count: int) -> None:
    for index in range(count):
        node.audit.record(ACTOR, "test.event", object_type="thing", object_id=str(index), details={"i": index})


def _drop_guard(node: Node) -> None:
    """What an attacker with database rights does first: remove the append-only triggers."""
    with node.db.engine.begin() as connection:
        if node.db.dialect == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
        else:
            connection.exec_driver_sql("DROP TRIGGER audit_entries_append_only ON audit_entries")


def test_entries_chain_and_verify(node: Node) -> None:
    _append_many(node, 25)
    report = node.audit.verify()
    assert report.entries == 25
    with node.db.reading() as session:
        records = node.audit.query(session, AuditQuery(limit=200))
    assert [r.seq for r in records] == list(range(25, 0, -1))
    assert records[0].entry_hash == report.head_hash


def test_verify_spans_several_batches(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    import accord.audit.service as service

    monkeypatch.setattr(service, "VERIFY_BATCH", 4)
    _append_many(node, 10)
    assert node.audit.verify().entries == 10


def test_database_refuses_update_and_delete(node: Node) -> None:
    _append_many(node, 2)
    for statement in ("UPDATE audit_entries SET actor = 'x'", "DELETE FROM audit_entries"):
        with pytest.raises(Exception, match="append-only"), node.db.engine.begin() as connection:
            connection.exec_driver_sql(statement)
    assert node.audit.verify().entries == 2


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        ("UPDATE audit_entries SET actor = 'someone else' WHERE seq = 3", "entry_hash"),
        ("UPDATE audit_entries SET purpose = 'legit' WHERE seq = 3", "entry_hash"),
        ("UPDATE audit_entries SET details = '{\"i\": 99}' WHERE seq = 3", "entry_hash"),
        ("UPDATE audit_entries SET details = 'not json' WHERE seq = 3", "details"),
    ],
)
def test_changed_entry_is_named(node: Node, statement: str, field: str) -> None:
    _append_many(node, 5)
    _drop_guard(node)
    with node.db.engine.begin() as connection:
        connection.execute(text(statement))
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert (caught.value.seq, caught.value.field) == (3, field)


def test_rehashed_entry_is_caught_by_its_successor(node: Node) -> None:
    """Recomputing the changed entry's own hash does not help: the next entry committed to the old one."""
    _append_many(node, 5)
    _drop_guard(node)
    with node.db.reading() as session:
        row = session.execute(text("SELECT * FROM audit_entries WHERE seq = 2")).mappings().one()
    fields = {k: row[k] for k in row.keys() if k != "entry_hash"}
    fields["actor"] = "forger"
    fields["at"] = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(str(row["at"]))
    fields["at"] = fields["at"].replace(tzinfo=UTC) if fields["at"].tzinfo is None else fields["at"]
    forged = entry_hash(entry_body(**fields))
    with node.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE audit_entries SET actor = 'forger', entry_hash = :h WHERE seq = 2"), {"h": forged}
        )
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert (caught.value.seq, caught.value.field) == (3, "prev_hash")


def test_deleted_entry_and_truncated_tail_are_found(node: Node) -> None:
    _append_many(node, 6)
    _drop_guard(node)
    with node.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq = 6"))
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert caught.value.field == "head.seq"
    with node.db.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_entries WHERE seq = 2"))
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert (caught.value.seq, caught.value.field) == (2, "seq")


def test_reading_the_log_is_itself_recorded_with_purpose(node: Node) -> None:
    _append_many(node, 3)
    records = node.audit.read(ACTOR, AuditQuery(limit=2), Disclosure(purpose="DPO review", legal_basis="GDPR-like art"))
    assert [r.seq for r in records] == [3, 2]
    with node.db.reading() as session:
        newest = node.audit.query(session, AuditQuery(limit=1))[0]
    assert (newest.action, newest.purpose, newest.details["entries"]) == ("audit.read", "DPO review", 2)


def test_oversized_purpose_is_refused() -> None:
    from accord.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        Disclosure(purpose="x" * 501)
    assert caught.value.field == "purpose"


BASE = {
    "seq": 7,
    "at": datetime(2026, 11, 23, 9, 0, 0, 123456, tzinfo=UTC),
    "actor_id": "user--1",
    "actor": "lan",
    "party_id": "party--1",
    "action": "user.list",
    "object_type": "user",
    "object_id": None,
    "purpose": "review",
    "legal_basis": None,
    "outcome": "ok",
    "details": json.dumps({"count": 3}),
    "prev_hash": "ab" * 32,
}


@given(
    field=st.sampled_from([k for k in BASE if k not in {"at", "seq", "details"}]),
    value=st.text(min_size=1, max_size=30),
)
def test_any_change_to_a_text_field_changes_the_hash(field: str, value: str) -> None:
    changed = {**BASE, field: value}
    if changed[field] == BASE[field]:
        return
    assert entry_hash(entry_body(**changed)) != entry_hash(entry_body(**BASE))


@given(seq=st.integers(min_value=1, max_value=2**53 - 1), micro=st.integers(min_value=0, max_value=999_999))
def test_any_change_to_order_or_time_changes_the_hash(seq: int, micro: int) -> None:
    changed = {**BASE, "seq": seq, "at": BASE["at"].replace(microsecond=micro)}
    if (seq, micro) == (7, 123456):
        return
    assert entry_hash(entry_body(**changed)) != entry_hash(entry_body(**BASE))


def test_entry_slipped_in_after_the_head_is_found(node: Node) -> None:
    _append_many(node, 3)
    with node.db.reading() as session:
        row = session.execute(text("SELECT * FROM audit_entries WHERE seq = 3")).mappings().one()
    values = {**row, "seq": 4, "prev_hash": row["entry_hash"]}
    columns = ", ".join(values)
    with node.db.engine.begin() as connection:
        connection.execute(
            text(f"INSERT INTO audit_entries ({columns}) VALUES ({', '.join(':' + c for c in values)})"),  # noqa: S608
            values,
        )
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert (caught.value.seq, caught.value.field) == (4, "seq")


def test_appends_during_verification_are_not_mistaken_for_tampering(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL a READ COMMITTED verify used to see the head move under it (found by the benchmark helper)."""
    import accord.audit.service as service

    _append_many(node, 6)
    monkeypatch.setattr(service, "VERIFY_BATCH", 2)
    original = service.AuditLog._check_entry
    appended = []

    def check_and_append_once(row, expected_seq, prev):
        if not appended:
            appended.append(node.audit.record(ACTOR, "test.concurrent"))
        original(row, expected_seq, prev)

    monkeypatch.setattr(service.AuditLog, "_check_entry", staticmethod(check_and_append_once))
    assert node.audit.verify().entries == 6
    monkeypatch.undo()
    assert node.audit.verify().entries == 7


def test_unreadable_row_and_missing_head_are_reported_as_broken(node: Node) -> None:
    _append_many(node, 3)
    _drop_guard(node)
    if node.db.dialect == "sqlite":  # PostgreSQL's timestamptz cannot hold garbage in the first place
        with node.db.engine.begin() as connection:
            connection.exec_driver_sql("UPDATE audit_entries SET at = 'not a time' WHERE seq = 2")
        with pytest.raises(AuditChainBroken) as caught:
            node.audit.verify()
        assert (caught.value.seq, caught.value.field) == (2, "row")
    with node.db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM audit_head")
    with pytest.raises(AuditChainBroken) as caught:
        node.audit.verify()
    assert caught.value.field == "head"


def test_signed_head_is_bound_to_this_node(node: Node, tmp_path) -> None:
    from accord.audit.heads import InvalidSignedHead, check_signed_head, sign_head
    from accord.identity.node_keys import generate_node_keys

    _append_many(node, 2)
    signed = sign_head(node.keys, node.audit.head(), node.clock.now()).as_json()
    assert check_signed_head(signed, node.keys.public_raw).seq == 2
    other = generate_node_keys(tmp_path)
    with pytest.raises(InvalidSignedHead) as caught:
        check_signed_head(signed, other.public_raw)
    assert "not by this node" in caught.value.reason
    for broken in ({}, {**signed, "signature": "!!"}, {**signed, "seq": "2"}, {**signed, "entry_hash": "0" * 64}):
        with pytest.raises(InvalidSignedHead):
            check_signed_head(broken, node.keys.public_raw)
