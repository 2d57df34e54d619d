"""The registry's repository bundle: what a handler reaches through ``uow.repos``.

The consumer handlers (handlers/events.py) ask it whether a household is the registry's
and for task grants; the registry's shared services (the cipher, the audit log, the
outbox staging the HTTP handlers use) travel with it as ``ctx`` until those handlers move
onto the unit of work too.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlmodel import Session, col, select

from ..handlers.common import Context
from .orm import HouseholdRow, TaskGrantRow


class Repositories:
    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx

    def has_household(self, household_id: str) -> bool:
        return self.session.get(HouseholdRow, household_id) is not None

    def task_grant(self, task_id: UUID, worker_id: str) -> TaskGrantRow | None:
        return self.session.get(TaskGrantRow, (task_id, worker_id))

    def open_task_grants(self, task_id: UUID) -> Sequence[TaskGrantRow]:
        return self.session.exec(
            select(TaskGrantRow).where(
                TaskGrantRow.task_id == task_id, col(TaskGrantRow.revoked_at).is_(None)
            )
        ).all()
