"""What the REST API and the field app both do: run one service-layer call in one unit of
work (``tx.run``: the relay wakes after the commit), or read (``tx.read``), and answer
with a view of the task."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel

from anbu_contracts import ContactMode, MonitoringItems, Need, OutcomeEvent, OutcomeResult
from anbu_runtime.auth import Principal, UserRole
from anbu_runtime.uow import Transactions

from ..adapters.repository import OutreachRepository, Uow
from ..domain.offers import OPEN, DeclineReason
from ..handlers import tasks
from ..handlers.context import Context
from ..views import Area, figures

OFFICE_ROLES = (UserRole.OPERATOR, UserRole.DONG_OFFICIAL)


class SlotView(BaseModel):
    slot: int
    role: str
    worker_id: str | None
    state: str  # offered, accepted or vacant
    offered_at: datetime | None = None
    expires_at: datetime | None = None


class TaskView(BaseModel):
    task_id: UUID
    household_id: str
    dong_code: str | None
    task_type: str
    team: list[str]
    urgency: str
    in_person: bool
    deadline: datetime
    status: str
    assignees: list[str]
    accepted_by: list[str]
    slots: list[SlotView]
    escalation_id: UUID | None
    protocol_id: str | None
    step_id: str | None
    action_id: str | None
    preconditions: list[str]
    cycle_kind: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, loaded: tasks.Loaded) -> TaskView:
        task, assignment = loaded.task, loaded.assignment
        slots = []
        for i, role in enumerate(assignment.slots):
            holder = assignment.holder(i)
            slots.append(
                SlotView(
                    slot=i,
                    role=role.value,
                    worker_id=holder.worker_id if holder else None,
                    state=holder.state.value if holder else "vacant",
                    offered_at=holder.offered_at if holder else None,
                    expires_at=holder.expires_at if holder else None,
                )
            )
        return cls(
            task_id=task.task_id,
            household_id=task.household_id,
            dong_code=task.dong_code,
            task_type=task.task_type,
            team=task.team,
            urgency=task.urgency,
            in_person=task.in_person,
            deadline=task.deadline,
            status=task.status,
            assignees=assignment.assignees(),
            accepted_by=assignment.accepted_by(),
            slots=slots,
            escalation_id=task.escalation_id,
            protocol_id=task.protocol_id,
            step_id=task.step_id,
            action_id=task.action_id,
            preconditions=task.preconditions,
            cycle_kind=task.cycle_kind,
            reason=task.reason,
            created_at=task.created_at,
            updated_at=task.updated_at,
        )


def area_of(who: Principal) -> Area | None:
    """The caller's area as ``Principal.sees_dong`` reads it; None for admins and services."""
    if who.is_admin:
        return None
    if who.role is UserRole.OPERATOR:
        return Area(district_codes=who.district_codes)
    return Area(dong_codes=who.dong_codes)


def may_view(who: Principal, loaded: tasks.Loaded) -> bool:
    """Admins and services; anyone ever offered the task; office staff of its area."""
    if who.is_admin:
        return True
    if who.worker_id and any(o.worker_id == who.worker_id for o in loaded.assignment.offers):
        return True
    dong = loaded.task.dong_code
    return bool(dong) and who.has_role(*OFFICE_ROLES) and who.sees_dong(dong or "")


class TaskService:
    def __init__(self, tx: Transactions[OutreachRepository], ctx: Context) -> None:
        self.tx = tx
        self.ctx = ctx

    # Tasks are read with ``tx.run``, not ``tx.read``: the snapshot's rollback would expire
    # the rows the views are built from after the session closed.

    async def view(self, task_id: UUID) -> tasks.Loaded:
        return await self.tx.run(lambda uow: uow.repos.load(task_id, lock=False))

    async def inbox(self, worker_id: str) -> list[tasks.Loaded]:
        def read(uow: Uow) -> list[tasks.Loaded]:
            rows = tasks.tasks_for_worker(uow.session, worker_id)
            return [uow.repos.load(r.task_id, lock=False) for r in rows]

        return await self.tx.run(read)

    async def in_area(
        self, dong_codes: Iterable[str] | None, statuses: Sequence[str], limit: int
    ) -> list[tasks.Loaded]:
        def read(uow: Uow) -> list[tasks.Loaded]:
            rows = tasks.tasks_in_area(uow.session, dong_codes, statuses, limit)
            return [uow.repos.load(r.task_id, lock=False) for r in rows]

        return await self.tx.run(read)

    async def accept(self, task_id: UUID, worker_id: str) -> tasks.Loaded:
        return await self.tx.run(lambda uow: tasks.accept(uow, task_id, worker_id))

    async def decline(
        self, task_id: UUID, worker_id: str, reason: DeclineReason, note: str | None
    ) -> tasks.Loaded:
        return await self.tx.run(lambda uow: tasks.decline(uow, task_id, worker_id, reason, note))

    async def start(self, task_id: UUID, worker_id: str, confirmed: Iterable[str]) -> tasks.Loaded:
        return await self.tx.run(lambda uow: tasks.start(uow, task_id, worker_id, confirmed))

    async def offer(self, task_id: UUID, worker_id: str) -> tasks.Loaded:
        return await self.tx.run(lambda uow: tasks.offer_by_hand(uow, task_id, worker_id))

    async def outcome(
        self,
        task_id: UUID,
        worker_id: str,
        result: OutcomeResult,
        contact_mode: ContactMode,
        monitoring: MonitoringItems,
        needs: Sequence[Need],
        follow_up: bool,
        note: str | None,
    ) -> OutcomeEvent:
        return await self.tx.run(
            lambda uow: tasks.record_outcome(
                uow,
                task_id,
                worker_id,
                result,
                contact_mode,
                monitoring,
                needs,
                follow_up,
                note,
            )
        )

    async def figures(self, area: Area | None = None) -> dict[str, Any]:
        """Tasks by status and routine contacts due, in ``area`` (None: everywhere)."""
        now = self.ctx.now()

        def read(repos: OutreachRepository) -> dict[str, Any]:
            counts = tasks.task_counts(repos.session, area)
            return {
                "at": now.isoformat(),
                "area": None
                if area is None
                else {
                    "dong_codes": sorted(area.dong_codes),
                    "district_codes": sorted(area.district_codes),
                },
                "tasks": {
                    "by_status": counts,
                    "open": sum(v for k, v in counts.items() if k in {s.value for s in OPEN}),
                },
                "contacts": figures(repos.session, now, area),
            }

        return await self.tx.read(read)
