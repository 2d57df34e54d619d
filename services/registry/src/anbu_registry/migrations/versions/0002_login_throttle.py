"""login throttle: failed logins per account and per address

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import anbu_runtime.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", anbu_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", anbu_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", anbu_runtime.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
