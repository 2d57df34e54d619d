"""People answer: accept, decline, start, record an outcome; an operator offers by hand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID, uuid4

from anbu_contracts import (
    ContactMode,
    MonitoringItems,
    Need,
    OutcomeEvent,
    OutcomeResult,
    TaskStatus,
    Urgency,
)
from anbu_contracts.topics import OUTREACH_OUTCOME
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters import events
from ..adapters.orm import OutcomeRow
from ..adapters.repository import Loaded, Uow
from ..domain.offers import (
    Change,
    DeclineReason,
    TaskStateError,
)
from . import messages
from .offering import announce, describe, fill, settle
from .routine import contact_made

log = get_logger(__name__)


def accept(uow: Uow, task_id: UUID, worker_id: str) -> Loaded:
    loaded = uow.repos.load(task_id)
    if loaded.assignment.has_accepted(worker_id):
        return loaded  # accepting twice is harmless and says nothing new
    loaded.assignment.accept(worker_id, uow.now)
    team = loaded.assignment
    loaded.task.reason = (
        "the whole team has accepted"
        if team.team_complete()
        else f"accepted by {worker_id} ({len(team.accepted_by())} of {len(team.slots)})"
    )
    settle(uow, loaded)
    announce(uow, loaded, Change(), None)
    log.info("task accepted", task_id=str(task_id), worker_id=worker_id)
    return loaded


def decline(
    uow: Uow,
    task_id: UUID,
    worker_id: str,
    reason: DeclineReason,
    note: str | None = None,
) -> Loaded:
    """The person declines; their slot goes to the next candidate (never back to them)."""
    loaded = uow.repos.load(task_id)
    offer = loaded.assignment.decline(worker_id, uow.now, reason)
    metrics.OFFERS_DECLINED.labels(reason.value).inc()
    loaded.task.reason = f"declined by {worker_id} ({reason.value})"
    loaded.save(uow.session)
    row = loaded.row_of(offer)
    if row is not None and note:
        row.decline_note = note[:1000]
    messages.emit_task(uow, uow.publish, loaded.task, loaded.assignment, None, TaskStatus.DECLINED)
    change = fill(uow, loaded, uow.repos.household_context(loaded.task.household_id))
    loaded.task.reason = (
        f"declined by {worker_id} ({reason.value}); {describe(change, loaded.assignment)}"
    )[:256]
    settle(uow, loaded)
    announce(uow, loaded, change, None)
    log.info("task declined", task_id=str(task_id), worker_id=worker_id, reason=reason.value)
    return loaded


def start(uow: Uow, task_id: UUID, worker_id: str, confirmed: Iterable[str] = ()) -> Loaded:
    """A member of a complete team sets out, having confirmed the task's preconditions
    (for example: the police liaison is present)."""
    loaded = uow.repos.load(task_id)
    missing = [p for p in loaded.task.preconditions if p not in set(confirmed)]
    if missing:
        raise TaskStateError("confirm first: " + ", ".join(missing))
    if loaded.assignment.status is TaskStatus.STARTED:
        return loaded
    loaded.assignment.start(worker_id)
    loaded.task.reason = f"started by {worker_id}"
    settle(uow, loaded)
    announce(uow, loaded, Change(), None)
    return loaded


def record_outcome(
    uow: Uow,
    task_id: UUID,
    worker_id: str,
    result: OutcomeResult,
    contact_mode: ContactMode,
    monitoring: MonitoringItems,
    needs: Sequence[Need],
    follow_up: bool,
    note: str | None,
) -> OutcomeEvent:
    """Any member who accepted records what they found; the task is completed and the
    outcome published (the note stays here: the event names it by ``note_ref``)."""
    loaded = uow.repos.load(task_id)
    now = uow.now
    loaded.assignment.complete(worker_id, now)
    task = loaded.task
    row = OutcomeRow(
        outcome_id=uuid4(),
        task_id=task.task_id,
        household_id=task.household_id,
        result=result.value,
        contact_mode=contact_mode.value,
        recorded_by=worker_id,
        monitoring=monitoring.model_dump(mode="json"),
        needs=[n.value for n in needs],
        follow_up=follow_up,
        note=note,
        recorded_at=now,
    )
    uow.repos.add(row)
    task.reason = f"outcome {result.value} recorded by {worker_id}"
    task.ended_at = now
    settle(uow, loaded)
    announce(uow, loaded, Change(), None)
    metrics.TIME_TO_COMPLETION.labels(task.urgency).observe((now - task.created_at).total_seconds())
    outcome = events.outcome_event(row, task)
    uow.publish(OUTREACH_OUTCOME, outcome)
    contact_made(uow, task.household_id, result, contact_mode, now, task.task_id)
    log.info("outcome recorded", task_id=str(task.task_id), result=result.value)
    return outcome


def offer_by_hand(uow: Uow, task_id: UUID, worker_id: str) -> Loaded:
    """An operator or the duty officer offers a vacant slot to a person they chose (area,
    shifts and load are their call; someone who declined is still not asked again)."""
    loaded = uow.repos.load(task_id)
    worker = uow.repos.roster.get(worker_id)
    if worker is None or not worker.active:
        raise TaskStateError(f"{worker_id} is not an active worker on the roster")
    slots = [
        i for i in loaded.assignment.vacant_slots() if loaded.assignment.slots[i] in worker.roles
    ]
    if not slots:
        raise TaskStateError(f"the task has no vacant slot for the roles of {worker_id}")
    urgency = Urgency(loaded.task.urgency)
    offer = loaded.assignment.offer(
        slots[0], worker_id, uow.now, uow.repos.ctx.windows().for_urgency(urgency)
    )
    loaded.task.reason = f"offered by hand to {worker_id}"
    settle(uow, loaded)
    announce(uow, loaded, Change(offered=[offer]), None)
    return loaded
