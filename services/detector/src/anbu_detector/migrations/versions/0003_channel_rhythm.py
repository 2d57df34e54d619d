"""channel clocks keep their learned rhythm

Each channel's learned week (domain/rhythm.py) is stored with its clock, so a restart or
a partition moving to another instance resumes it instead of the cold-start default.
Nullable: a clock written before this revision, or one under fixed windows, has none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 03:27:25.928951
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rhythm_since", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("rhythm_last_block", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rhythm_outages", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("rhythm_hits", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_clock", schema=None) as batch_op:
        batch_op.drop_column("rhythm_hits")
        batch_op.drop_column("rhythm_outages")
        batch_op.drop_column("rhythm_last_block")
        batch_op.drop_column("rhythm_since")
