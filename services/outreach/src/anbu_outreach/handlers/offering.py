"""Offering a task's vacant slots to the best candidates left, and announcing what changed
(the task's state, the offers, the duty officer's alert).

The other handler modules change tasks through these; each runs inside the caller's unit
of work. Loading and saving a task is the repository's (:class:`..adapters.repository.Loaded`).
"""

from __future__ import annotations

from collections.abc import Mapping

from anbu_contracts import (
    Role,
    TaskStatus,
    TaskType,
    Urgency,
    WorkerSnapshot,
)
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.orm import AnyTask
from ..adapters.repository import Loaded, Uow
from ..domain.assignment import (
    EMERGENCY_STAND_INS,
    Circumstances,
    HouseholdContext,
    assign_team,
)
from ..domain.offers import Change, TaskAssignment
from . import messages

log = get_logger(__name__)


# -- assignment --------------------------------------------------------------------------


def fill(uow: Uow, loaded: Loaded, household: HouseholdContext) -> Change:
    """Offer every vacant slot to the best candidate left (the roster, loads, rules)."""
    pool = candidate_pool(uow, loaded, household)
    return choose(uow, loaded, household, pool, uow.repos.open_loads(pool))


def candidate_pool(
    uow: Uow, loaded: Loaded, household: HouseholdContext
) -> dict[str, WorkerSnapshot]:
    """The workers who might take the task's vacant slots (by role and area; their load,
    shifts and the rules are weighed by :func:`choose`)."""
    assignment, task = loaded.assignment, loaded.task
    if household.dong_code is None or not assignment.is_open:
        return {}
    roles = [assignment.slots[i] for i in assignment.vacant_slots()]
    stand_ins = _stand_ins(task)
    critical = task.urgency == Urgency.CRITICAL.value
    pool: dict[str, WorkerSnapshot] = {}
    for role in {*roles, *(r for slot in roles for r in stand_ins.get(slot, ()))}:
        for worker in uow.repos.roster.serving(role, household.dong_code, district_wide=critical):
            pool[worker.worker_id] = worker
    return pool


def _stand_ins(task: AnyTask) -> Mapping[Role, tuple[Role, ...]]:
    emergency = task.task_type == TaskType.EMERGENCY_RESPONSE.value
    return EMERGENCY_STAND_INS if emergency else {}


def choose(
    uow: Uow,
    loaded: Loaded,
    household: HouseholdContext,
    pool: dict[str, WorkerSnapshot],
    loads: Mapping[str, int],
    when: Circumstances | None = None,
) -> Change:
    """Offer the vacant slots to the best of ``pool`` given their open ``loads`` (``when``:
    circumstances a batch shares, at the same instant and urgency)."""
    assignment, task = loaded.assignment, loaded.task
    vacant = assignment.vacant_slots()
    if not vacant or not assignment.is_open or assignment.status is TaskStatus.STARTED:
        return Change()
    now = uow.now
    urgency = Urgency(task.urgency)
    choices = assign_team(
        [assignment.slots[i] for i in vacant],
        household,
        pool.values(),
        loads,
        when or circumstances(uow, urgency),
        exclude=assignment.excluded(),
        stand_ins=_stand_ins(task),
    )
    return assignment.fill(choices, now, uow.repos.ctx.windows().for_urgency(urgency))


def circumstances(uow: Uow, urgency: Urgency) -> Circumstances:
    ctx = uow.repos.ctx
    return Circumstances(uow.now, urgency, ctx.is_holiday, ctx.policy.rules)


def settle(uow: Uow, loaded: Loaded) -> None:
    """Bookkeeping after a change: timestamps and the acceptance-time metric."""
    now = uow.now
    task = loaded.task
    task.updated_at = now
    if loaded.assignment.status is TaskStatus.ACCEPTED and task.accepted_at is None:
        task.accepted_at = now
        metrics.TIME_TO_ACCEPTANCE.labels(task.urgency).observe(
            (now - task.created_at).total_seconds()
        )


def announce(uow: Uow, loaded: Loaded, change: Change, causation: str | None) -> None:
    """Save the task and its offers, then publish what changed (see :func:`publish`)."""
    loaded.save(uow.session)
    publish(uow, uow.publish, loaded, change, causation)


def publish(
    uow: Uow, stage: messages.Stage, loaded: Loaded, change: Change, causation: str | None
) -> None:
    """Publish the task's new state, offer notifications and the duty officer's alert."""
    messages.emit_task(uow, stage, loaded.task, loaded.assignment, causation)
    messages.offers_made(uow, stage, loaded.task, change.offered, causation)
    metrics.OFFERS_MADE.inc(len(change.offered))
    if change.became_vacant:
        messages.handed_to_duty_officer(uow, stage, loaded.task, causation)
        metrics.HANDED_TO_DUTY_OFFICER.inc()
        log.warning(
            "task slot unassigned; duty officer notified",
            task_id=str(loaded.task.task_id),
            slots=[loaded.assignment.slots[i].value for i in change.became_vacant],
        )


def describe(change: Change, assignment: TaskAssignment) -> str:
    parts = []
    if change.offered:
        parts.append("offered to " + ", ".join(o.worker_id for o in change.offered))
    if change.became_vacant:
        roles = ", ".join(assignment.slots[i].value for i in change.became_vacant)
        parts.append(f"nobody available for {roles}: handed to the duty officer")
    return "; ".join(parts)


def end_task(
    uow: Uow,
    loaded: Loaded,
    status: TaskStatus,
    reason: str,
    causation: str | None,
) -> None:
    now = uow.now
    loaded.assignment.end(status, now)
    loaded.task.reason = reason[:256]
    loaded.task.ended_at = now
    settle(uow, loaded)
    announce(uow, loaded, Change(), causation)
