"""observable feedback: sightings and outcomes

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 23:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.store.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observable_feedback",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("observable_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("observed_at", accord.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("created_at", accord.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["observable_id"], ["observables.id"], name=op.f("fk_observable_feedback_observable_id_observables")
        ),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_observable_feedback_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observable_feedback")),
    )
    op.create_index(
        op.f("ix_observable_feedback_observable_id"), "observable_feedback", ["observable_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_observable_feedback_observable_id"), table_name="observable_feedback")
    op.drop_table("observable_feedback")
