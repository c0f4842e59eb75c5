"""running holdings of noisy values: a count of written postings per value, an aggregated flag on values and
their postings, and one holdings row per aggregated value and group (intel.holdings); postings carry their
object's revocation, so lookups read postings without joining objects

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

import accord.store.base

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, not batch mode: SQLite's batch mode copies the table and drops the old one, which the
    # postings' foreign key forbids once there are any (and would rewrite a million rows for nothing).
    op.add_column("observables", sa.Column("postings_written", sa.Integer(), server_default="0", nullable=False))
    op.add_column("observables", sa.Column("aggregated", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column(
        "observable_postings", sa.Column("aggregated", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("observable_postings", sa.Column("revoked", sa.Boolean(), server_default=sa.false(), nullable=False))
    # The postings of objects whose latest version is revoked: one pass over the latest versions.
    op.execute(
        "UPDATE observable_postings SET revoked = true WHERE stix_id IN "
        "(SELECT stix_id FROM intel_objects WHERE is_latest = true AND revoked = true)"
    )
    op.create_index(
        "ix_observable_postings_aggregated_stix_id",
        "observable_postings",
        ["stix_id"],
        unique=False,
        sqlite_where=sa.text("aggregated = 1"),
        postgresql_where=sa.text("aggregated"),
    )
    op.create_table(
        "observable_holdings",
        sa.Column("observable_id", sa.Integer(), nullable=False),
        sa.Column("owner_party_id", sa.String(length=64), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False),
        sa.Column("sharing_group", sa.String(length=64), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("first_seen", accord.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", accord.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("newest", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observable_id"], ["observables.id"], name=op.f("fk_observable_holdings_observable_id_observables")
        ),
        sa.PrimaryKeyConstraint(
            "observable_id", "owner_party_id", "country", "tlp", "sharing_group", name=op.f("pk_observable_holdings")
        ),
    )
    # The values already stored: their counts (one grouped pass over the postings' primary key), then the
    # holdings of those past the threshold, computed by the code that keeps them (one pass over their postings).
    op.execute(
        "UPDATE observables SET postings_written = counted.n FROM "
        "(SELECT observable_id, count(*) AS n FROM observable_postings GROUP BY observable_id) AS counted "
        "WHERE observables.id = counted.observable_id"
    )
    from accord.intel import holdings  # the running code's rule, so a store migrated is one kept by it

    op.execute(
        sa.text("UPDATE observables SET aggregated = true WHERE postings_written > :above").bindparams(
            above=holdings.AGGREGATE_ABOVE
        )
    )
    holdings.rebuild(Session(bind=op.get_bind()))


def downgrade() -> None:
    op.drop_table("observable_holdings")
    op.drop_index("ix_observable_postings_aggregated_stix_id", table_name="observable_postings")
    # ALTER TABLE ... DROP COLUMN, which SQLite has had since 3.35, for the reason given in upgrade().
    op.execute("ALTER TABLE observable_postings DROP COLUMN revoked")
    op.execute("ALTER TABLE observable_postings DROP COLUMN aggregated")
    op.execute("ALTER TABLE observables DROP COLUMN aggregated")
    op.execute("ALTER TABLE observables DROP COLUMN postings_written")
