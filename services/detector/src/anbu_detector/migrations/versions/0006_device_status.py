"""households remember their devices' offline/online notices

A carrier or device vendor reports a watched device offline (switched off, no connection) or
back online (``device_status`` signals); while offline its silence counts only at the floor
(rules ``absence.rhythm.offline_at_floor``). Nullable JSON: nothing reported.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_status", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("household", schema=None) as batch_op:
        batch_op.drop_column("device_status")
