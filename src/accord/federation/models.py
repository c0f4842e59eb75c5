"""Peers of this node and the invitations it has issued."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime

MAX_NONCE_LENGTH = 64  # ours are 22 characters; a longer one is refused before it is stored


class Peer(Base):
    """Another country's node: its identity (the Ed25519 key its id derives from) and where to reach it."""

    __tablename__ = "peers"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    base_url: Mapped[str] = mapped_column(String(500))
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))  # the local party standing for the peer
    # The party this node speaks for towards the peer (named in our invitation or acceptance): requests from the
    # peer are addressed to it. Null only for peers added before it was recorded.
    own_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), nullable=True)
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
    party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), nullable=True)  # the party we named
    accepted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the peer's node id


class PeerPolicy(Base):
    """What this node shares with one peer: a policy document of rules (see accord.federation.policy). No row
    means the default policy: TLP:CLEAR and TLP:GREEN only."""

    __tablename__ = "peer_policies"

    peer_node_id: Mapped[str] = mapped_column(ForeignKey("peers.node_id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # the policy as canonical JSON
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class PeerSyncState(Base):
    """Where pulling intelligence from one peer stands: the cursor to resume from, and what the last attempts
    did (shown per peer: last success, backlog, last error)."""

    __tablename__ = "peer_sync_state"

    peer_node_id: Mapped[str] = mapped_column(ForeignKey("peers.node_id", ondelete="CASCADE"), primary_key=True)
    cursors: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON: pull and push positions per TLP level
    objects_received: Mapped[int] = mapped_column(Integer, default=0)
    backlog: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the peer's estimate at the last pull
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, for backoff
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ReceivedObject(Base):
    """Provenance of an intelligence object version that arrived from a peer: which node sent it, and which
    organisation the object itself names as its creator (``created_by_ref``)."""

    __tablename__ = "intel_received"

    stix_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    modified: Mapped[str] = mapped_column(String(32), primary_key=True)
    peer_node_id: Mapped[str] = mapped_column(String(64), index=True)  # kept when the peer is removed
    created_by_ref: Mapped[str | None] = mapped_column(String(120), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SeenSignature(Base):
    """A signed call's (node, nonce), kept while the signature is fresh enough to be accepted (signing.MAX_AGE).

    In the database rather than in memory so that every server process refuses a call any of them accepted.
    """

    __tablename__ = "peer_seen_signatures"

    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(MAX_NONCE_LENGTH), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, index=True)  # the machine's clock, as signature freshness is
