"""households remember a partner hospital's stay

A partner hospital's admission notice (and its discharge notice) says until when the
resident is in its ward; the absence watch rests until then (rules ``hospital_stay``).
Nullable: no stay known.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 18:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import anbu_runtime.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("hospital_until", anbu_runtime.db.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("hospital_until")
