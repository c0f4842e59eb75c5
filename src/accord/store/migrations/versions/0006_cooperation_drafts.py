"""cooperation request drafts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 23:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import accord.store.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cooperation_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("request_type", sa.String(length=64), nullable=True),
        sa.Column("requesting_party_id", sa.String(length=64), nullable=False),
        sa.Column("requested_party_id", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", accord.store.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["requesting_party_id"],
            ["parties.id"],
            name=op.f("fk_cooperation_requests_requesting_party_id_parties"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_party_id"],
            ["parties.id"],
            name=op.f("fk_cooperation_requests_requested_party_id_parties"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cooperation_requests")),
    )
    op.create_index(
        "ix_cooperation_requests_requesting_created",
        "cooperation_requests",
        ["requesting_party_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_cooperation_requests_requested_party_id"),
        "cooperation_requests",
        ["requested_party_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_cooperation_requests_requested_party_id"), table_name="cooperation_requests")
    op.drop_index("ix_cooperation_requests_requesting_created", table_name="cooperation_requests")
    op.drop_table("cooperation_requests")
