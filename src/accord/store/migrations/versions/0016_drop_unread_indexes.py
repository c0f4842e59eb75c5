"""drop two indexes no read uses: intel_objects(stix_id), which the (stix_id, modified) unique index already
serves, and observable_postings(owner_party_id) (postings are read by value; parties are never deleted)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 09:25:00
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_intel_objects_stix_id", table_name="intel_objects")
    op.drop_index("ix_observable_postings_owner_party_id", table_name="observable_postings")


def downgrade() -> None:
    op.create_index("ix_observable_postings_owner_party_id", "observable_postings", ["owner_party_id"], unique=False)
    op.create_index("ix_intel_objects_stix_id", "intel_objects", ["stix_id"], unique=False)
