"""Protocol steps and due contacts become tasks: created once per origin, assigned and offered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from sqlmodel import Session, select

from anbu_contracts import (
    Role,
    TaskStatus,
    TaskType,
    Urgency,
)
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.orm import TaskRow
from ..domain.assignment import team_slots
from ..domain.cycles import CycleKind
from ..domain.offers import (
    IN_PERSON_TYPES,
    TaskAssignment,
    task_urgency,
)
from .caches import household_context
from .context import Context
from .offering import Loaded, announce, describe, fill, settle

log = get_logger(__name__)


@dataclass(frozen=True)
class NewTask:
    """A task to create, and where it comes from (``origin_key`` makes creation idempotent)."""

    origin_key: str
    household_id: str
    task_type: TaskType
    team: Sequence[Role]
    deadline: datetime
    correlation_id: str | None = None
    causation_id: str | None = None
    escalation_id: UUID | None = None
    protocol_id: str | None = None
    step_id: str | None = None
    action_id: str | None = None
    preconditions: tuple[str, ...] = ()
    cycle_kind: CycleKind | None = None
    in_person: bool | None = None  # None: decided by the task type


def create_task(ctx: Context, session: Session, new: NewTask) -> TaskRow | None:
    """Create, assign and offer a task; None when its origin already has one."""
    if session.exec(select(TaskRow.task_id).where(TaskRow.origin_key == new.origin_key)).first():
        return None  # the cause was delivered again: the task exists already
    now = ctx.now()
    household = household_context(session, new.household_id)
    in_person = new.in_person if new.in_person is not None else new.task_type in IN_PERSON_TYPES
    urgency = (
        Urgency.ROUTINE
        if new.task_type is TaskType.ROUTINE_CONTACT
        else task_urgency(new.task_type, now, new.deadline)
    )
    slots = team_slots(new.team, household, in_person=in_person, task_type=new.task_type)
    task = TaskRow(
        task_id=uuid4(),
        origin_key=new.origin_key,
        household_id=new.household_id,
        dong_code=household.dong_code,
        task_type=new.task_type.value,
        team=[r.value for r in slots],
        urgency=urgency.value,
        in_person=in_person,
        deadline=new.deadline,
        status=TaskStatus.UNASSIGNED.value,
        escalation_id=new.escalation_id,
        protocol_id=new.protocol_id,
        step_id=new.step_id,
        action_id=new.action_id,
        preconditions=list(new.preconditions),
        cycle_kind=new.cycle_kind.value if new.cycle_kind else None,
        correlation_id=new.correlation_id,
        created_at=now,
        updated_at=now,
    )
    loaded = Loaded(task, TaskAssignment(TaskStatus.UNASSIGNED, slots), [])
    change = fill(ctx, session, loaded, household)
    task.reason = describe(change, loaded.assignment)[:256] or None
    settle(ctx, loaded)
    session.add(task)
    announce(ctx, session, loaded, change, new.causation_id)
    metrics.TASKS_CREATED.labels("routine" if new.cycle_kind else "protocol").inc()
    log.info(
        "task created",
        task_id=str(task.task_id),
        task_type=task.task_type,
        status=task.status,
        assignees=loaded.assignment.assignees(),
    )
    return task
