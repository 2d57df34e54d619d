"""Loading a task with its offers, offering its vacant slots to the best candidates left,
and announcing what changed (the task's state, the offers, the duty officer's alert).

The other handler modules change tasks through these; each runs inside the caller's
transaction. A task's row is locked while it changes (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite has one writer), so an answer and an expiry sweep never both act on
the same offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import (
    Role,
    TaskStatus,
    TaskType,
    Urgency,
    WorkerSnapshot,
)
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.orm import AnyTask, OfferRow, TaskRow
from ..domain.assignment import (
    EMERGENCY_STAND_INS,
    Circumstances,
    HouseholdContext,
    assign_team,
)
from ..domain.offers import (
    OPEN,
    Change,
    DeclineReason,
    Offer,
    OfferState,
    TaskAssignment,
)
from . import messages
from .context import Context

log = get_logger(__name__)

OPEN_VALUES = tuple(s.value for s in OPEN)
ACTIVE_OFFER_VALUES = (OfferState.OFFERED.value, OfferState.ACCEPTED.value)


# Ids per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000


class TaskNotFound(LookupError):
    pass


# -- loading and saving ------------------------------------------------------------------


def _offer_of(row: OfferRow) -> Offer:
    return Offer(
        slot=row.slot,
        role=Role(row.role),
        worker_id=row.worker_id,
        state=OfferState(row.state),
        offered_at=row.offered_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        reason=DeclineReason(row.decline_reason) if row.decline_reason else None,
    )


@dataclass
class Loaded:
    task: AnyTask
    assignment: TaskAssignment
    rows: list[OfferRow]

    def save(self, session: Session) -> None:
        """Write the assignment back: new offers inserted, changed ones updated."""
        assert isinstance(self.task, TaskRow), "a new task of a batch is inserted in bulk"
        for i, offer in enumerate(self.assignment.offers):
            if i < len(self.rows):
                row = self.rows[i]
            else:
                row = OfferRow(
                    task_id=self.task.task_id,
                    slot=offer.slot,
                    role=offer.role.value,
                    worker_id=offer.worker_id,
                    state=offer.state.value,
                    offered_at=offer.offered_at,
                    expires_at=offer.expires_at,
                )
                self.rows.append(row)
            row.state = offer.state.value
            row.decided_at = offer.decided_at
            row.decline_reason = offer.reason.value if offer.reason else None
            session.add(row)
        self.task.status = self.assignment.status.value
        session.add(self.task)

    def row_of(self, offer: Offer) -> OfferRow | None:
        for index, candidate in enumerate(self.assignment.offers):
            if candidate is offer:
                return self.rows[index] if index < len(self.rows) else None
        return None


def load(session: Session, task_id: UUID, *, lock: bool = True) -> Loaded:
    query = select(TaskRow).where(TaskRow.task_id == task_id)
    if lock:
        query = query.with_for_update()
    task = session.exec(query).first()
    if task is None:
        raise TaskNotFound(f"task {task_id} not found")
    rows = list(
        session.exec(
            select(OfferRow).where(OfferRow.task_id == task_id).order_by(col(OfferRow.offer_id))
        ).all()
    )
    assignment = TaskAssignment(
        TaskStatus(task.status), [Role(r) for r in task.team], [_offer_of(r) for r in rows]
    )
    return Loaded(task, assignment, rows)


def open_loads(session: Session, worker_ids: Iterable[str]) -> dict[str, int]:
    """Open offers (offered or accepted) per worker: their current load."""
    ids = sorted(set(worker_ids))
    loads: dict[str, int] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.exec(
            select(OfferRow.worker_id, func.count())
            .where(
                col(OfferRow.worker_id).in_(ids[start : start + CHUNK]),
                col(OfferRow.state).in_(ACTIVE_OFFER_VALUES),
            )
            .group_by(OfferRow.worker_id)
        ).all()
        loads.update(rows)
    return loads


def offer_values(task: AnyTask, offer: Offer) -> dict[str, Any]:
    """An offer's row as column values (for inserting many at once)."""
    return {
        "task_id": task.task_id,
        "slot": offer.slot,
        "role": offer.role.value,
        "worker_id": offer.worker_id,
        "state": offer.state.value,
        "offered_at": offer.offered_at,
        "expires_at": offer.expires_at,
        "decided_at": offer.decided_at,
        "decline_reason": offer.reason.value if offer.reason else None,
        "decline_note": None,
    }


# -- assignment --------------------------------------------------------------------------


def fill(ctx: Context, session: Session, loaded: Loaded, household: HouseholdContext) -> Change:
    """Offer every vacant slot to the best candidate left (the roster, loads, rules)."""
    pool = candidate_pool(ctx, loaded, household)
    return choose(ctx, loaded, household, pool, open_loads(session, pool))


def candidate_pool(
    ctx: Context, loaded: Loaded, household: HouseholdContext
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
        for worker in ctx.roster.serving(role, household.dong_code, district_wide=critical):
            pool[worker.worker_id] = worker
    return pool


def _stand_ins(task: AnyTask) -> Mapping[Role, tuple[Role, ...]]:
    emergency = task.task_type == TaskType.EMERGENCY_RESPONSE.value
    return EMERGENCY_STAND_INS if emergency else {}


def choose(
    ctx: Context,
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
    now = ctx.now()
    urgency = Urgency(task.urgency)
    choices = assign_team(
        [assignment.slots[i] for i in vacant],
        household,
        pool.values(),
        loads,
        when or circumstances(ctx, urgency),
        exclude=assignment.excluded(),
        stand_ins=_stand_ins(task),
    )
    return assignment.fill(choices, now, ctx.windows().for_urgency(urgency))


def circumstances(ctx: Context, urgency: Urgency) -> Circumstances:
    return Circumstances(ctx.now(), urgency, ctx.is_holiday, ctx.policy.rules)


def settle(ctx: Context, loaded: Loaded) -> None:
    """Bookkeeping after a change: timestamps and the acceptance-time metric."""
    now = ctx.now()
    task = loaded.task
    task.updated_at = now
    if loaded.assignment.status is TaskStatus.ACCEPTED and task.accepted_at is None:
        task.accepted_at = now
        metrics.TIME_TO_ACCEPTANCE.labels(task.urgency).observe(
            (now - task.created_at).total_seconds()
        )


def announce(
    ctx: Context, session: Session, loaded: Loaded, change: Change, causation: str | None
) -> None:
    """Save the task and its offers, then publish what changed (see :func:`publish`)."""
    loaded.save(session)
    publish(ctx, messages.outbox_stage(ctx, session), loaded, change, causation)


def publish(
    ctx: Context, stage: messages.Stage, loaded: Loaded, change: Change, causation: str | None
) -> None:
    """Publish the task's new state, offer notifications and the duty officer's alert."""
    messages.emit_task(ctx, stage, loaded.task, loaded.assignment, causation)
    messages.offers_made(ctx, stage, loaded.task, change.offered, causation)
    metrics.OFFERS_MADE.inc(len(change.offered))
    if change.became_vacant:
        messages.handed_to_duty_officer(ctx, stage, loaded.task, causation)
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
    ctx: Context,
    session: Session,
    loaded: Loaded,
    status: TaskStatus,
    reason: str,
    causation: str | None,
) -> None:
    now = ctx.now()
    loaded.assignment.end(status, now)
    loaded.task.reason = reason[:256]
    loaded.task.ended_at = now
    settle(ctx, loaded)
    announce(ctx, session, loaded, Change(), causation)
