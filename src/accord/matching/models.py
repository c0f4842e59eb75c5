"""Matching tables: feedback on observables (sightings and outcomes parties report about a value)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime

MAX_NOTE_LENGTH = 1000  # a short free-text remark ("blocked at 14:02, case 2026/117"); longer belongs in a report


class ObservableFeedback(Base):
    """One sighting or outcome a party reported about one canonical value (``feedback.Outcome``)."""

    __tablename__ = "observable_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    observable_id: Mapped[int] = mapped_column(ForeignKey("observables.id"), index=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    username: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(32))
    observed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
