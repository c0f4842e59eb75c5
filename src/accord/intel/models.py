"""Intelligence tables: every STIX version as canonical JSON plus the columns filters need, and the
observable index (one row per canonical value, with its postings — never pairwise correlation rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from accord.store.base import Base, UtcDateTime

STIX_ID_LENGTH = 120  # "<type>--<uuid>" with a type of up to 250 chars is legal; ours are far shorter (checked)
MAX_VALUE_LENGTH = 2048  # canonical observable values (long URLs); longer ones are refused at ingest


class IntelObject(Base):
    """One version of one STIX object, keyed by (id, modified)."""

    __tablename__ = "intel_objects"
    __table_args__ = (
        UniqueConstraint("stix_id", "modified"),
        Index("ix_intel_objects_type_latest", "stix_type", "is_latest"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stix_id: Mapped[str] = mapped_column(String(STIX_ID_LENGTH), index=True)
    stix_type: Mapped[str] = mapped_column(String(64))
    spec_version: Mapped[str] = mapped_column(String(8))
    modified: Mapped[str] = mapped_column(String(32))  # the STIX timestamp exactly as given
    modified_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    tlp: Mapped[str] = mapped_column(String(16))
    owner_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    sharing_group_id: Mapped[str | None] = mapped_column(ForeignKey("sharing_groups.id"), nullable=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    content: Mapped[str] = mapped_column(Text)  # RFC 8785 canonical JSON of the object


class Observable(Base):
    __tablename__ = "observables"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(MAX_VALUE_LENGTH))


class Posting(Base):
    """Who holds an observable: the object it came from, its owner, country and TLP, first and last seen."""

    __tablename__ = "observable_postings"

    observable_id: Mapped[int] = mapped_column(ForeignKey("observables.id"), primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(STIX_ID_LENGTH), primary_key=True)
    owner_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    country: Mapped[str] = mapped_column(String(2))
    tlp: Mapped[str] = mapped_column(String(16))
    sharing_group_id: Mapped[str | None] = mapped_column(ForeignKey("sharing_groups.id"), nullable=True)
    raw: Mapped[str] = mapped_column(String(MAX_VALUE_LENGTH))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())


class SharingGroup(Base):
    """A named set of parties that objects can be shared with (instead of the TLP community at large)."""

    __tablename__ = "sharing_groups"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SharingGroupMember(Base):
    __tablename__ = "sharing_group_members"

    group_id: Mapped[str] = mapped_column(ForeignKey("sharing_groups.id", ondelete="CASCADE"), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), primary_key=True, index=True)


class ImportStatus(Base):
    """The outcome of one import, kept so a TAXII client can fetch it again (TAXII 2.1 section 4.3)."""

    __tablename__ = "intel_import_status"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    body: Mapped[str] = mapped_column(Text)  # the status resource as JSON
