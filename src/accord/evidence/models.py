"""Evidence tables.

``custody_events``, ``custody_subtrees`` and ``custody_checkpoints`` are append-only (database triggers in
migration 0008): they are the RFC 9162 Merkle log. An item row changes only in its ``state`` (held, sealed,
destroyed), and every such change is itself a custody event in the log, so the log, not the row, is the record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime


class EvidenceItem(Base):
    __tablename__ = "evidence_items"
    __table_args__ = (Index("ix_evidence_items_party_case", "party_id", "case_reference"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))  # the party holding the item
    case_reference: Mapped[str] = mapped_column(String(200))
    exhibit_number: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # source request (req. 43)
    parent_item_id: Mapped[str | None] = mapped_column(ForeignKey("evidence_items.id"), nullable=True)  # copies
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    source_kind: Mapped[str] = mapped_column(String(32))
    collector: Mapped[str] = mapped_column(String(200))
    collected_at: Mapped[datetime] = mapped_column(UtcDateTime())
    place: Mapped[str | None] = mapped_column(String(500), nullable=True)
    legal_basis: Mapped[str | None] = mapped_column(String(500), nullable=True)
    use_conditions: Mapped[str | None] = mapped_column(Text, nullable=True)  # inherited from the request
    origin_node_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # set when received
    # When received: the blob holding the verified custody record from the sending node (its events with
    # inclusion proofs, its signed checkpoint), so the item's history before the border stays checkable.
    origin_record_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime())
    registered_by: Mapped[str] = mapped_column(String(200))


class CustodyEvent(Base):
    """One leaf of the custody log: ``body`` is the RFC 8785 canonical JSON that is hashed (RFC 9162 leaf)."""

    __tablename__ = "custody_events"
    # An item's history in order, and its last leaf in one index seek (EvidenceService._log).
    __table_args__ = (Index("ix_custody_events_item_id_seq", "item_id", "seq"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # leaf index, from 0
    item_id: Mapped[str] = mapped_column(ForeignKey("evidence_items.id"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    body: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CustodySubtree(Base):
    """The hash of a perfect subtree (level >= 1) of the custody log, kept so proofs need no recomputation."""

    __tablename__ = "custody_subtrees"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class CustodyLogState(Base):
    """The single row holding the log's size; locking it serialises appends (as the audit head does)."""

    __tablename__ = "custody_log_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


class CustodyCheckpoint(Base):
    """A tree head this node signed (a C2SP signed-note checkpoint)."""

    __tablename__ = "custody_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CustodyCosignature(Base):
    """A witness's cosignature (C2SP tlog-cosignature) on one of our checkpoints, verified before it is kept."""

    __tablename__ = "custody_cosignatures"

    tree_size: Mapped[int] = mapped_column(ForeignKey("custody_checkpoints.tree_size"), primary_key=True)
    witness_name: Mapped[str] = mapped_column(String(200), primary_key=True)
    witness_key: Mapped[str] = mapped_column(String(300))  # the witness's vkey
    line: Mapped[str] = mapped_column(Text)  # the signature line, as the witness sent it
    cosigned_at: Mapped[datetime] = mapped_column(UtcDateTime())  # the witness's timestamp
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class KnownCheckpoint(Base):
    """A checkpoint another node's package carried. Later packages from that node must be consistent with it:
    a log that shows one history to us and another later is caught here (split view)."""

    __tablename__ = "known_checkpoints"

    origin: Mapped[str] = mapped_column(String(200), primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    signed_note: Mapped[str] = mapped_column(Text)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
