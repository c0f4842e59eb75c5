"""identity epoch and seen peer signatures, shared by every server process

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch = op.create_table(
        "identity_epoch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_epoch")),
    )
    op.bulk_insert(epoch, [{"id": 1, "value": 0}])
    op.create_table(
        "peer_seen_signatures",
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("node_id", "nonce", name=op.f("pk_peer_seen_signatures")),
    )
    with op.batch_alter_table("peer_seen_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_seen_signatures_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("peer_seen_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_seen_signatures_seen_at"))
    op.drop_table("peer_seen_signatures")
    op.drop_table("identity_epoch")
