"""Cooperation requests. Only drafts exist so far: the request type and its fields are chosen and checked when
the cooperation issue builds the forms; ``fields`` keeps what the draft was pre-filled with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
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
    fields: Mapped[str] = mapped_column(Text)  # JSON: the pre-filled fields
