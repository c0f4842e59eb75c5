"""Peers of this node and the invitations it has issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime


class Peer(Base):
    """Another country's node: its identity (the Ed25519 key its id derives from) and where to reach it."""

    __tablename__ = "peers"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    base_url: Mapped[str] = mapped_column(String(500))
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))  # the local party standing for the peer
    status: Mapped[str] = mapped_column(String(16))  # active or suspended
    status_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class PeerInvitation(Base):
    """An invitation this node signed; an acceptance must answer an open one, once."""

    __tablename__ = "peer_invitations"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    accepted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the peer's node id
