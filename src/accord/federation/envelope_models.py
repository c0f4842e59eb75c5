"""The durable outbox and inbox of signed envelopes between nodes.

Outbox: every envelope this node must deliver, written in the same transaction as the change it carries (so a
change is never made without its envelope, nor an envelope sent for a change that rolled back), kept until the
peer's signed receipt is stored. Inbox: every envelope received, with the receipt we answered, so a second
delivery of the same envelope changes nothing and gets the same receipt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime


class OutboxEnvelope(Base):
    __tablename__ = "federation_outbox"
    __table_args__ = (Index("ix_federation_outbox_pending", "peer_node_id", "delivered_at", "refused_at", "seq"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)  # delivery order per peer
    envelope_id: Mapped[str] = mapped_column(String(64), unique=True)
    peer_node_id: Mapped[str] = mapped_column(String(64))  # no foreign key: removing a peer loses no envelope
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # e.g. the cooperation request
    token: Mapped[str] = mapped_column(Text)  # the signed envelope (compact JWS)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    refused_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # the peer said 4xx: final
    receipt: Mapped[str | None] = mapped_column(Text, nullable=True)  # the peer's signed receipt (compact JWS)


class InboxEnvelope(Base):
    __tablename__ = "federation_inbox"

    envelope_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer_node_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))  # of the envelope as received
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    receipt: Mapped[str] = mapped_column(Text)  # what we answered, answered again on a duplicate delivery
