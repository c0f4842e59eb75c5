"""Intelligence tables: every STIX version as canonical JSON plus the columns filters need, and the
observable index (one row per canonical value, with its postings — never pairwise correlation rows)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, text
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
    # Found by the (stix_id, modified) unique index, whose first column it is: a second index of stix_id alone
    # would cost every import a write and serve no read the unique one does not.
    stix_id: Mapped[str] = mapped_column(String(STIX_ID_LENGTH))
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
    """One canonical value. ``postings_written`` counts the posting rows ever written for it (an upper bound on
    its postings: rows are only removed with their object), so a reader knows a small value from a noisy one
    without counting; ``aggregated`` says its holdings are kept in ``observable_holdings`` (intel.holdings)."""

    __tablename__ = "observables"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(MAX_VALUE_LENGTH))
    postings_written: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    aggregated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Posting(Base):
    """Who holds an observable: the object it came from, its owner, country and TLP, first and last seen.

    ``aggregated`` copies the observable's flag, so that the postings of aggregated (noisy) values can be found
    by object through a partial index that holds only them: finding any object's postings would need an index of
    every posting, which a bulk import would pay for on every row. ``revoked`` copies the object's latest
    version's, as the marking columns do (intel.postings.follow_latest), so that a lookup reads postings alone:
    joining each one to its object for liveness was a third of a 10,000-value lookup."""

    __tablename__ = "observable_postings"
    __table_args__ = (
        Index(
            "ix_observable_postings_aggregated_stix_id",
            "stix_id",
            sqlite_where=text("aggregated = 1"),
            postgresql_where=text("aggregated"),
        ),
    )

    observable_id: Mapped[int] = mapped_column(ForeignKey("observables.id"), primary_key=True)
    stix_id: Mapped[str] = mapped_column(String(STIX_ID_LENGTH), primary_key=True)
    # No index of its own: postings are read by value (the primary key), never by owner, and parties are never
    # deleted; three postings an indicator made it the costliest index of a bulk import.
    owner_party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    country: Mapped[str] = mapped_column(String(2))
    tlp: Mapped[str] = mapped_column(String(16))
    sharing_group_id: Mapped[str | None] = mapped_column(ForeignKey("sharing_groups.id"), nullable=True)
    raw: Mapped[str] = mapped_column(String(MAX_VALUE_LENGTH))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    aggregated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ObservableHolding(Base):
    """The live postings of one aggregated observable that share owner, country, TLP and sharing group (one
    visibility decision): how many, first and last seen, and the newest of them (intel.holdings keeps it)."""

    __tablename__ = "observable_holdings"

    observable_id: Mapped[int] = mapped_column(ForeignKey("observables.id"), primary_key=True)
    owner_party_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    tlp: Mapped[str] = mapped_column(String(16), primary_key=True)
    # "" for none: a key column cannot be NULL; the group's own id otherwise (no foreign key: derived rows)
    sharing_group: Mapped[str] = mapped_column(String(64), primary_key=True)
    reports: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime())
    newest: Mapped[str] = mapped_column(Text)  # JSON: [[stix_id, first_seen, last_seen], ...], newest first


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
