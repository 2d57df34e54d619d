"""delivery_receipt: an index on applied_at, for the sweep of unapplied receipts

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 15:25:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_receipt", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_receipt_applied", ["applied_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_receipt", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_receipt_applied")
