"""alerts listed by status, newest first, through an index

``GET /v1/alerts`` asks for the newest alerts of a status; without an index on
(status, opened_at) every open alert was read and sorted (an alert storm's thousands).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 21:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_alert_status_opened_at", "alert", ["status", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_status_opened_at", table_name="alert")
