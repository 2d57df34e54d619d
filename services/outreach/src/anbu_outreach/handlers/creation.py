"""Protocol steps and due contacts become tasks: created once per origin, assigned and offered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from anbu_contracts import (
    Role,
    TaskStatus,
    TaskType,
    Urgency,
)
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.orm import NewTaskRow, TaskRow
from ..adapters.repository import Loaded, Uow, offer_values
from ..domain.assignment import HouseholdContext, team_slots
from ..domain.cycles import CycleKind
from ..domain.offers import (
    IN_PERSON_TYPES,
    Change,
    TaskAssignment,
    task_urgency,
)
from . import messages
from .offering import (
    announce,
    candidate_pool,
    choose,
    circumstances,
    describe,
    fill,
    publish,
    settle,
)

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


def create_task(uow: Uow, new: NewTask) -> TaskRow | None:
    """Create, assign and offer a task; None when its origin already has one."""
    if uow.repos.has_origin(new.origin_key):
        return None  # the cause was delivered again: the task exists already
    household = uow.repos.household_context(new.household_id)
    task = TaskRow(**_columns(uow, new, household))
    loaded = Loaded(task, TaskAssignment(TaskStatus.UNASSIGNED, _slots(new, household)), [])
    change = fill(uow, loaded, household)
    _created(uow, loaded, change, new)
    uow.repos.add(loaded.task)
    announce(uow, loaded, change, new.causation_id)
    log.info(
        "task created",
        task_id=str(task.task_id),
        task_type=task.task_type,
        status=task.status,
        assignees=loaded.assignment.assignees(),
    )
    return task


def create_tasks(uow: Uow, news: Sequence[NewTask], stage: messages.Staged) -> list[NewTaskRow]:
    """Create, assign and offer a batch of tasks with a handful of statements.

    The same decisions as :func:`create_task` one after another: each task sees the loads
    its predecessors in the batch added (they are counted here in memory instead of read
    back from the database), origins that already have a task — before or earlier in the
    batch — are skipped. Tasks and offers are inserted in bulk and the events go to
    ``stage`` (the caller writes them with one statement per topic).
    """
    fresh = _new_origins(uow, news)
    if not fresh:
        return []
    households = uow.repos.household_contexts({n.household_id for n in fresh})
    drafts, rows = [], []
    for new in fresh:
        household = households[new.household_id]
        task = NewTaskRow(**_columns(uow, new, household))
        rows.append(task)
        slots = _slots(new, household)
        drafts.append((new, Loaded(task, TaskAssignment(TaskStatus.UNASSIGNED, slots), [])))
    pools = [candidate_pool(uow, loaded, households[new.household_id]) for new, loaded in drafts]
    loads = uow.repos.open_loads({worker for pool in pools for worker in pool})
    shared = {urgency: circumstances(uow, urgency) for urgency in Urgency}
    for (new, loaded), pool in zip(drafts, pools, strict=True):
        when = shared[Urgency(loaded.task.urgency)]
        change = choose(uow, loaded, households[new.household_id], pool, loads, when)
        for offer in change.offered:
            loads[offer.worker_id] = loads.get(offer.worker_id, 0) + 1
        loaded.task.status = loaded.assignment.status.value  # what save() does one by one
        _created(uow, loaded, change, new)
        publish(uow, stage, loaded, change, new.causation_id)
    uow.repos.insert_new(
        rows,
        [
            offer_values(loaded.task, offer)
            for _, loaded in drafts
            for offer in loaded.assignment.offers
        ],
    )
    # One line for the batch: a line per task is a tenth of a burst's time in log handling.
    statuses = Counter(task.status for task in rows)
    log.info("tasks created", tasks=len(rows), **{s: n for s, n in sorted(statuses.items())})
    return rows


def _new_origins(uow: Uow, news: Sequence[NewTask]) -> list[NewTask]:
    """``news`` without the origins that have a task already (and without repeats)."""
    existing = uow.repos.existing_origins(list(dict.fromkeys(n.origin_key for n in news)))
    fresh = []
    for new in news:
        if new.origin_key not in existing:
            existing.add(new.origin_key)
            fresh.append(new)
    return fresh


def _columns(uow: Uow, new: NewTask, household: HouseholdContext) -> dict[str, Any]:
    """A new task's columns (unassigned, nobody offered yet)."""
    now = uow.now
    in_person = _in_person(new)
    urgency = (
        Urgency.ROUTINE
        if new.task_type is TaskType.ROUTINE_CONTACT
        else task_urgency(new.task_type, now, new.deadline)
    )
    return {
        "task_id": uuid4(),
        "origin_key": new.origin_key,
        "household_id": new.household_id,
        "dong_code": household.dong_code,
        "task_type": new.task_type.value,
        "team": [r.value for r in _slots(new, household)],
        "urgency": urgency.value,
        "in_person": in_person,
        "deadline": new.deadline,
        "status": TaskStatus.UNASSIGNED.value,
        "escalation_id": new.escalation_id,
        "protocol_id": new.protocol_id,
        "step_id": new.step_id,
        "action_id": new.action_id,
        "preconditions": list(new.preconditions),
        "cycle_kind": new.cycle_kind.value if new.cycle_kind else None,
        "correlation_id": new.correlation_id,
        "created_at": now,
        "updated_at": now,
    }


def _in_person(new: NewTask) -> bool:
    return new.in_person if new.in_person is not None else new.task_type in IN_PERSON_TYPES


def _slots(new: NewTask, household: HouseholdContext) -> list[Role]:
    """The team's slots with the field-safety rules applied (see ``team_slots``)."""
    return team_slots(new.team, household, in_person=_in_person(new), task_type=new.task_type)


def _created(uow: Uow, loaded: Loaded, change: Change, new: NewTask) -> None:
    task = loaded.task
    task.reason = describe(change, loaded.assignment)[:256] or None
    settle(uow, loaded)
    metrics.TASKS_CREATED.labels("routine" if new.cycle_kind else "protocol").inc()
