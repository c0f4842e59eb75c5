"""index custody events by (item_id, seq): recording an event reads the item's last leaf, which with an index
on item_id alone meant fetching and sorting every event of the item, so each append slowed as its item's
history grew

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 14:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_custody_events_item_id_seq", "custody_events", ["item_id", "seq"], unique=False)
    op.drop_index("ix_custody_events_item_id", table_name="custody_events")


def downgrade() -> None:
    op.create_index("ix_custody_events_item_id", "custody_events", ["item_id"], unique=False)
    op.drop_index("ix_custody_events_item_id_seq", table_name="custody_events")
