"""alert links to its escalation: one active response per household (issue 14)

An alert is evidence for the escalation it started or joined. Existing alerts are linked to
the escalation they started (the latest, should an alert have started more than one).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 03:11:33.825204
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_id", sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alert_escalation_id"), ["escalation_id"], unique=False)
    op.execute(
        "UPDATE alert SET escalation_id = ("
        " SELECT e.escalation_id FROM escalation e WHERE e.alert_id = alert.alert_id"
        " ORDER BY e.triggered_at DESC LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_escalation_id"))
        batch_op.drop_column("escalation_id")
