"""Cooperation requests, their history, preservation holds and notifications.

A request opened from a matching hit starts as a draft without a type; choosing the type and instrument and
filling the fields happens before it can be sent. ``fields`` holds the request's content as JSON, checked against
the legal catalogue; the envelope columns are what the inbox, the outbox and the clocks query.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime


class CooperationRequest(Base):
    __tablename__ = "cooperation_requests"
    __table_args__ = (Index("ix_cooperation_requests_requesting_created", "requesting_party_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    request_type: Mapped[str | None] = mapped_column(String(64), nullable=True)  # chosen when the form is filled
    requesting_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    requested_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(200))  # the user name of who opened it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    origin: Mapped[str] = mapped_column(String(32))  # how it was opened, e.g. "matching hit"
    fields: Mapped[str] = mapped_column(Text)  # JSON: the request's fields, checked against the catalogue
    reference: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)
    instrument: Mapped[str | None] = mapped_column(String(16), nullable=True)
    urgency: Mapped[str] = mapped_column(String(16), default="routine", server_default="routine")
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    case_reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    catalogue_version: Mapped[str | None] = mapped_column(String(32), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class CooperationTransition(Base):
    """One step of a request's (or its preservation hold's) history. Append-only (triggers in migration 0009):
    what was decided, by whom, on which grounds, under which catalogue version."""

    __tablename__ = "cooperation_transitions"
    __table_args__ = (Index("ix_cooperation_transitions_request_seq", "request_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("cooperation_requests.id"))
    seq: Mapped[int] = mapped_column(Integer)
    machine: Mapped[str] = mapped_column(String(16))  # "request" or "hold"
    from_state: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_state: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    actor_party_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    side: Mapped[str] = mapped_column(String(16))
    catalogue_version: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text)  # JSON: grounds, reasons, approver, partial execution considered...


class PreservationHold(Base):
    """The hold a received preservation request starts (UN Art. 42(7), BC Art. 29(7): not less than 60 days)."""

    __tablename__ = "preservation_holds"

    request_id: Mapped[str] = mapped_column(ForeignKey("cooperation_requests.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    mla_request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CooperationNotification(Base):
    """An alert for a party (in the app, and by e-mail when SMTP is set). ``key`` makes each alert happen once."""

    __tablename__ = "cooperation_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("cooperation_requests.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    email_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class DirectoryEntry(Base):
    """A point of contact or authority of a party (UN Art. 41, BC Art. 35), with hours and a verification date."""

    __tablename__ = "directory_entries"
    __table_args__ = (Index("ix_directory_entries_party_role", "party_id", "role", "escalation_order"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    role: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    hours: Mapped[str] = mapped_column(String(300))  # "24/7" or "Mon-Fri 08:00-17:00; Sat 09:00-12:00"
    time_zone: Mapped[str] = mapped_column(String(64))  # IANA
    languages: Mapped[str] = mapped_column(String(100))  # comma-separated ISO 639 codes
    channels: Mapped[str] = mapped_column(String(200))  # comma-separated
    escalation_order: Mapped[int] = mapped_column(Integer)
    last_verified: Mapped[date] = mapped_column(Date)
    verified_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
