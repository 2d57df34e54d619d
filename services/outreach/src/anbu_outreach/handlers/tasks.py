"""Outreach's service layer for tasks: protocol steps and due contacts become tasks; tasks
are offered, answered, reassigned, started and completed.

Each function runs inside the caller's transaction and stages what it publishes (task
changes, outcomes, notification requests) in the outbox of that same transaction. A task's
row is locked while it changes (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite has one
writer), so an answer and an expiry sweep never both act on the same offer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from anbu_contracts import (
    ContactMode,
    EscalationChange,
    EscalationEvent,
    MonitoringItems,
    Need,
    NotifyAction,
    OutcomeEvent,
    OutcomeResult,
    Role,
    TaskAction,
    TaskStatus,
    TaskType,
    Urgency,
)
from anbu_contracts.topics import OUTREACH_OUTCOME
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.orm import HouseholdRow, OfferRow, OutcomeRow, TaskRow
from ..domain.assignment import (
    EMERGENCY_STAND_INS,
    Circumstances,
    HouseholdContext,
    assign_team,
    team_slots,
)
from ..domain.availability import is_working_day, zone
from ..domain.cycles import CycleKind, CycleState, counts_as_visit, made_contact, routine_team
from ..domain.offers import (
    IN_PERSON_TYPES,
    OPEN,
    Change,
    DeclineReason,
    Offer,
    OfferState,
    TaskAssignment,
    TaskStateError,
    task_urgency,
)
from . import messages
from .caches import household_context
from .contacts import Area, due_of, households_due, refresh_cycles
from .context import SOURCE, Context

log = get_logger(__name__)

OPEN_VALUES = tuple(s.value for s in OPEN)
ACTIVE_OFFER_VALUES = (OfferState.OFFERED.value, OfferState.ACCEPTED.value)
# An overdue routine contact is offered with a day to do it.
_OVERDUE_DEADLINE = timedelta(days=1)

__all__ = ["TaskNotFound", "TaskStateError"]


class TaskNotFound(LookupError):
    pass


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
    task: TaskRow
    assignment: TaskAssignment
    rows: list[OfferRow]

    def save(self, session: Session) -> None:
        """Write the assignment back: new offers inserted, changed ones updated."""
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
    if not ids:
        return {}
    rows = session.exec(
        select(OfferRow.worker_id, func.count())
        .where(col(OfferRow.worker_id).in_(ids), col(OfferRow.state).in_(ACTIVE_OFFER_VALUES))
        .group_by(OfferRow.worker_id)
    ).all()
    return {worker_id: count for worker_id, count in rows}


# -- assignment --------------------------------------------------------------------------


def _fill(ctx: Context, session: Session, loaded: Loaded, household: HouseholdContext) -> Change:
    """Offer every vacant slot to the best candidate left (the roster, loads, rules)."""
    assignment, task = loaded.assignment, loaded.task
    vacant = assignment.vacant_slots()
    if not vacant or not assignment.is_open or assignment.status is TaskStatus.STARTED:
        return Change()
    now = ctx.now()
    urgency = Urgency(task.urgency)
    roles = [assignment.slots[i] for i in vacant]
    emergency = task.task_type == TaskType.EMERGENCY_RESPONSE.value
    stand_ins = EMERGENCY_STAND_INS if emergency else {}
    pool = {}
    if household.dong_code is not None:
        for role in {*roles, *(r for slot in roles for r in stand_ins.get(slot, ()))}:
            for worker in ctx.roster.serving(
                role, household.dong_code, district_wide=urgency is Urgency.CRITICAL
            ):
                pool[worker.worker_id] = worker
    choices = assign_team(
        roles,
        household,
        pool.values(),
        open_loads(session, pool),
        Circumstances(now, urgency, ctx.is_holiday, ctx.policy.rules),
        exclude=assignment.excluded(),
        stand_ins=stand_ins,
    )
    return assignment.fill(choices, now, ctx.windows().for_urgency(urgency))


def _settled(ctx: Context, loaded: Loaded) -> None:
    """Bookkeeping after a change: timestamps and the acceptance-time metric."""
    now = ctx.now()
    task = loaded.task
    task.updated_at = now
    if loaded.assignment.status is TaskStatus.ACCEPTED and task.accepted_at is None:
        task.accepted_at = now
        metrics.TIME_TO_ACCEPTANCE.labels(task.urgency).observe(
            (now - task.created_at).total_seconds()
        )


def _announce(
    ctx: Context, session: Session, loaded: Loaded, change: Change, causation: str | None
) -> None:
    """Publish the task's new state, offer notifications and the duty officer's alert."""
    loaded.save(session)
    messages.emit_task(ctx, session, loaded.task, loaded.assignment, causation)
    messages.offers_made(ctx, session, loaded.task, change.offered, causation)
    metrics.OFFERS_MADE.inc(len(change.offered))
    if change.became_vacant:
        messages.handed_to_duty_officer(ctx, session, loaded.task, causation)
        metrics.HANDED_TO_DUTY_OFFICER.inc()
        log.warning(
            "task slot unassigned; duty officer notified",
            task_id=str(loaded.task.task_id),
            slots=[loaded.assignment.slots[i].value for i in change.became_vacant],
        )


def _describe(change: Change, assignment: TaskAssignment) -> str:
    parts = []
    if change.offered:
        parts.append("offered to " + ", ".join(o.worker_id for o in change.offered))
    if change.became_vacant:
        roles = ", ".join(assignment.slots[i].value for i in change.became_vacant)
        parts.append(f"nobody available for {roles}: handed to the duty officer")
    return "; ".join(parts)


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
    change = _fill(ctx, session, loaded, household)
    task.reason = _describe(change, loaded.assignment)[:256] or None
    _settled(ctx, loaded)
    session.add(task)
    _announce(ctx, session, loaded, change, new.causation_id)
    metrics.TASKS_CREATED.labels("routine" if new.cycle_kind else "protocol").inc()
    log.info(
        "task created",
        task_id=str(task.task_id),
        task_type=task.task_type,
        status=task.status,
        assignees=loaded.assignment.assignees(),
    )
    return task


# -- escalations -------------------------------------------------------------------------


def on_escalation(ctx: Context, session: Session, event: EscalationEvent) -> None:
    if event.change is EscalationChange.CLOSED:
        reason = f"protocol closed: {event.closure.value if event.closure else 'closed'}"
        cancel_for_escalation(ctx, session, event.escalation_id, reason, str(event.event_id))
        return
    if event.change is not EscalationChange.STEP_EXECUTED or event.step is None:
        return  # started, skipped, waiting for approval: nothing to do for people yet
    for action in event.step.actions:
        origin = f"{event.escalation_id}:{event.step.step_id}:{action.action_id}"
        if isinstance(action, TaskAction):
            create_task(
                ctx,
                session,
                NewTask(
                    origin_key=origin,
                    household_id=event.household_id,
                    task_type=action.task_type,
                    team=action.team,
                    deadline=action.deadline,
                    correlation_id=event.correlation_id,
                    causation_id=str(event.event_id),
                    escalation_id=event.escalation_id,
                    protocol_id=event.protocol_id,
                    step_id=event.step.step_id,
                    action_id=action.action_id,
                    preconditions=tuple(action.preconditions),
                ),
            )
        elif isinstance(action, NotifyAction):
            protocol_notification(ctx, session, event, action, origin)
        # Log actions are written to the consultation log by the registry.


def protocol_notification(
    ctx: Context, session: Session, event: EscalationEvent, action: NotifyAction, key: str
) -> None:
    """A protocol's message, with what the notifier's templates can show: the household,
    its dong, the step, the protocol and a link to the escalation in the console."""
    household = session.get(HouseholdRow, event.household_id)
    variables = {
        "household_id": event.household_id,
        "protocol": event.protocol_id,
        "link": ctx.escalation_link(event.escalation_id),
    }
    if event.step is not None:
        variables["step"] = event.step.step_id
    if household is not None:
        variables["dong_code"] = household.dong_code
    messages.request(
        ctx,
        session,
        key=key,
        recipient=action.recipient,
        template=action.template,
        urgency=action.urgency,
        variables={**variables, **action.variables, "household_id": event.household_id},
        household_id=event.household_id,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
    )


def cancel_for_escalation(
    ctx: Context, session: Session, escalation_id: UUID, reason: str, causation: str | None
) -> int:
    ids = session.exec(
        select(TaskRow.task_id).where(
            TaskRow.escalation_id == escalation_id, col(TaskRow.status).in_(OPEN_VALUES)
        )
    ).all()
    for task_id in ids:
        _end(ctx, session, load(session, task_id), TaskStatus.CANCELLED, reason, causation)
    return len(ids)


def _end(
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
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, Change(), causation)


# -- people answer -----------------------------------------------------------------------


def accept(ctx: Context, session: Session, task_id: UUID, worker_id: str) -> Loaded:
    loaded = load(session, task_id)
    if loaded.assignment.has_accepted(worker_id):
        return loaded  # accepting twice is harmless and says nothing new
    loaded.assignment.accept(worker_id, ctx.now())
    team = loaded.assignment
    loaded.task.reason = (
        "the whole team has accepted"
        if team.team_complete()
        else f"accepted by {worker_id} ({len(team.accepted_by())} of {len(team.slots)})"
    )
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, Change(), None)
    log.info("task accepted", task_id=str(task_id), worker_id=worker_id)
    return loaded


def decline(
    ctx: Context,
    session: Session,
    task_id: UUID,
    worker_id: str,
    reason: DeclineReason,
    note: str | None = None,
) -> Loaded:
    """The person declines; their slot goes to the next candidate (never back to them)."""
    loaded = load(session, task_id)
    offer = loaded.assignment.decline(worker_id, ctx.now(), reason)
    metrics.OFFERS_DECLINED.labels(reason.value).inc()
    loaded.task.reason = f"declined by {worker_id} ({reason.value})"
    loaded.save(session)
    row = loaded.row_of(offer)
    if row is not None and note:
        row.decline_note = note[:1000]
    messages.emit_task(ctx, session, loaded.task, loaded.assignment, None, TaskStatus.DECLINED)
    change = _fill(ctx, session, loaded, household_context(session, loaded.task.household_id))
    loaded.task.reason = (
        f"declined by {worker_id} ({reason.value}); {_describe(change, loaded.assignment)}"
    )[:256]
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, change, None)
    log.info("task declined", task_id=str(task_id), worker_id=worker_id, reason=reason.value)
    return loaded


def start(
    ctx: Context, session: Session, task_id: UUID, worker_id: str, confirmed: Iterable[str] = ()
) -> Loaded:
    """A member of a complete team sets out, having confirmed the task's preconditions
    (for example: the police liaison is present)."""
    loaded = load(session, task_id)
    missing = [p for p in loaded.task.preconditions if p not in set(confirmed)]
    if missing:
        raise TaskStateError("confirm first: " + ", ".join(missing))
    if loaded.assignment.status is TaskStatus.STARTED:
        return loaded
    loaded.assignment.start(worker_id)
    loaded.task.reason = f"started by {worker_id}"
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, Change(), None)
    return loaded


def record_outcome(
    ctx: Context,
    session: Session,
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
    loaded = load(session, task_id)
    now = ctx.now()
    loaded.assignment.complete(worker_id, now)
    task = loaded.task
    outcome_id = uuid4()
    session.add(
        OutcomeRow(
            outcome_id=outcome_id,
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
    )
    task.reason = f"outcome {result.value} recorded by {worker_id}"
    task.ended_at = now
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, Change(), None)
    metrics.TIME_TO_COMPLETION.labels(task.urgency).observe((now - task.created_at).total_seconds())
    outcome = OutcomeEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=task.correlation_id,
        causation_id=str(task.task_id),
        outcome_id=outcome_id,
        household_id=task.household_id,
        result=result,
        contact_mode=contact_mode,
        recorded_by=worker_id,
        task_id=task.task_id,
        escalation_id=task.escalation_id,
        step_id=task.step_id,
        action_id=task.action_id,
        monitoring=monitoring,
        needs=list(dict.fromkeys(needs)),
        follow_up=follow_up,
        note_ref=str(outcome_id) if note else None,
        contacted_at=now,
    )
    ctx.outbox.add(session, OUTREACH_OUTCOME, outcome)
    contact_made(ctx, session, task.household_id, result, contact_mode, now, task.task_id)
    log.info("outcome recorded", task_id=str(task.task_id), result=result.value)
    return outcome


def offer_by_hand(ctx: Context, session: Session, task_id: UUID, worker_id: str) -> Loaded:
    """An operator or the duty officer offers a vacant slot to a person they chose (area,
    shifts and load are their call; someone who declined is still not asked again)."""
    loaded = load(session, task_id)
    worker = ctx.roster.get(worker_id)
    if worker is None or not worker.active:
        raise TaskStateError(f"{worker_id} is not an active worker on the roster")
    slots = [
        i for i in loaded.assignment.vacant_slots() if loaded.assignment.slots[i] in worker.roles
    ]
    if not slots:
        raise TaskStateError(f"the task has no vacant slot for the roles of {worker_id}")
    urgency = Urgency(loaded.task.urgency)
    offer = loaded.assignment.offer(
        slots[0], worker_id, ctx.now(), ctx.windows().for_urgency(urgency)
    )
    loaded.task.reason = f"offered by hand to {worker_id}"
    _settled(ctx, loaded)
    _announce(ctx, session, loaded, Change(offered=[offer]), None)
    return loaded


# -- time passes -------------------------------------------------------------------------


def sweep_offers(ctx: Context, session: Session, limit: int = 100) -> int:
    """Offers whose window has passed go to the next candidate (or the duty officer).

    Restart-safe (the offers and their expiry are rows) and safe with several instances:
    each task is locked while it changes and skipped if another instance holds it.
    """
    now = ctx.now()
    task_ids = session.exec(
        select(OfferRow.task_id)
        .where(OfferRow.state == OfferState.OFFERED.value, col(OfferRow.expires_at) <= now)
        .group_by(col(OfferRow.task_id))
        .order_by(func.min(OfferRow.expires_at))
        .limit(limit)
    ).all()
    handled = 0
    for task_id in task_ids:
        locked = session.exec(
            select(TaskRow.task_id)
            .where(TaskRow.task_id == task_id)
            .with_for_update(skip_locked=True)
        ).first()
        if locked is None:
            continue  # another instance is on it
        loaded = load(session, task_id, lock=False)
        lapsed = loaded.assignment.expire_offers(now)
        if not lapsed:
            continue
        metrics.OFFERS_EXPIRED.inc(len(lapsed))
        change = _fill(ctx, session, loaded, household_context(session, loaded.task.household_id))
        who = ", ".join(o.worker_id for o in lapsed)
        loaded.task.reason = f"offer to {who} expired; {_describe(change, loaded.assignment)}"[:256]
        _settled(ctx, loaded)
        _announce(ctx, session, loaded, change, None)
        handled += 1
    return handled


def retry_vacancies(ctx: Context, session: Session, limit: int = 100) -> int:
    """Unassigned tasks try again for their vacant slots every ``vacancy_retry``: the
    morning shift starts, a worker's load drops, a late household snapshot gives the area.
    Only a slot that finds someone makes news; the duty officer was told already."""
    now = ctx.now()
    ids = session.exec(
        select(TaskRow.task_id)
        .where(
            TaskRow.status == TaskStatus.UNASSIGNED.value,
            col(TaskRow.updated_at) <= now - ctx.policy.vacancy_retry,
        )
        .order_by(col(TaskRow.updated_at))
        .limit(limit)
    ).all()
    filled = 0
    for task_id in ids:
        loaded = load(session, task_id)
        household = household_context(session, loaded.task.household_id)
        if loaded.task.dong_code is None and household.dong_code is not None:
            loaded.task.dong_code = household.dong_code  # the snapshot arrived since
        change = _fill(ctx, session, loaded, household)
        loaded.task.updated_at = now
        if not change.offered:
            session.add(loaded.task)
            continue
        loaded.task.reason = f"retried: {_describe(change, loaded.assignment)}"[:256]
        _settled(ctx, loaded)
        change.became_vacant = []  # still vacant slots were reported already
        _announce(ctx, session, loaded, change, None)
        filled += 1
    return filled


def expire_stale(ctx: Context, session: Session, limit: int = 100) -> int:
    """Tasks nobody accepted expire a grace period after their deadline."""
    now = ctx.now()
    cutoff = now - ctx.policy.task_expiry_grace
    ids = session.exec(
        select(TaskRow.task_id)
        .where(
            col(TaskRow.status).in_((TaskStatus.OFFERED.value, TaskStatus.UNASSIGNED.value)),
            col(TaskRow.deadline) <= cutoff,
        )
        .limit(limit)
    ).all()
    expired = 0
    for task_id in ids:
        loaded = load(session, task_id)
        if loaded.assignment.is_stale(loaded.task.deadline, now, ctx.policy.task_expiry_grace):
            _end(ctx, session, loaded, TaskStatus.EXPIRED, "nobody accepted by the deadline", None)
            expired += 1
    return expired


# -- routine contacts --------------------------------------------------------------------


def contact_made(
    ctx: Context,
    session: Session,
    household_id: str,
    result: OutcomeResult,
    mode: ContactMode,
    at: datetime,
    by_task: UUID | None,
) -> None:
    """A contact made for any reason counts toward the household's cycles; routine tasks
    it satisfies are no longer needed and are cancelled."""
    if not made_contact(result):
        return
    household = session.get(HouseholdRow, household_id)
    if household is None:
        return
    household.last_contact_at = max(household.last_contact_at or at, at)
    visit = counts_as_visit(result, mode)
    if visit:
        household.last_visit_at = max(household.last_visit_at or at, at)
    refresh_cycles(household)
    session.add(household)
    satisfied = [CycleKind.CONTACT.value, *([CycleKind.VISIT.value] if visit else [])]
    routine = session.exec(
        select(TaskRow.task_id).where(
            TaskRow.household_id == household_id,
            col(TaskRow.cycle_kind).in_(satisfied),
            col(TaskRow.status).in_(OPEN_VALUES),
            TaskRow.task_id != by_task,
        )
    ).all()
    for task_id in routine:
        reason = f"contact made through task {by_task}" if by_task else "contact made"
        _end(ctx, session, load(session, task_id), TaskStatus.CANCELLED, reason, None)


def schedule_routine_contacts(
    ctx: Context, session: Session, after: str | None, limit: int = 500
) -> tuple[int, str | None]:
    """Create routine-contact tasks for a page of households whose cycle window is open.

    Returns how many tasks were created and the last household id looked at (None when no
    household is left). One routine task per household, cycle and period; none while one
    for the same cycle is still open.
    """
    now = ctx.now()
    rows = households_due(session, now, after, limit)
    if not rows:
        return 0, None
    ids = [r.household_id for r in rows]
    open_routine = set(
        session.exec(
            select(TaskRow.household_id, TaskRow.cycle_kind).where(
                col(TaskRow.household_id).in_(ids),
                col(TaskRow.cycle_kind).is_not(None),
                col(TaskRow.status).in_(OPEN_VALUES),
            )
        ).all()
    )
    created = 0
    for row in rows:
        for kind, due in due_of(row).items():
            if due.state(now) is CycleState.OK or (row.household_id, kind.value) in open_routine:
                continue
            deadline = max(due.due_at, now + _OVERDUE_DEADLINE)
            task = create_task(
                ctx,
                session,
                NewTask(
                    origin_key=f"routine:{row.household_id}:{kind.value}:{due.period_key(row.timezone)}",
                    household_id=row.household_id,
                    task_type=TaskType.ROUTINE_CONTACT,
                    team=routine_team(kind, row.matched_volunteer_id is not None),
                    deadline=deadline,
                    correlation_id=f"routine:{row.household_id}",
                    cycle_kind=kind,
                    in_person=kind is CycleKind.VISIT,
                ),
            )
            created += task is not None
    return created, rows[-1].household_id


def is_routine_day(ctx: Context) -> bool:
    """Routine tasks are created on working days (Korean public holidays excluded)."""
    local = ctx.now().astimezone(zone(ctx.policy.timezone))
    return is_working_day(local.date(), ctx.is_holiday)


# -- reading -----------------------------------------------------------------------------


def tasks_for_worker(session: Session, worker_id: str) -> list[TaskRow]:
    """Open tasks offered to or accepted by ``worker_id``, soonest deadline first."""
    return list(
        session.exec(
            select(TaskRow)
            .join(OfferRow, col(OfferRow.task_id) == col(TaskRow.task_id))
            .where(
                OfferRow.worker_id == worker_id,
                col(OfferRow.state).in_(ACTIVE_OFFER_VALUES),
                col(TaskRow.status).in_(OPEN_VALUES),
            )
            .order_by(col(TaskRow.deadline))
        ).all()
    )


def tasks_in_area(
    session: Session,
    dong_codes: Iterable[str] | None,
    statuses: Iterable[str],
    limit: int,
) -> list[TaskRow]:
    query = select(TaskRow).where(col(TaskRow.status).in_(list(statuses)))
    if dong_codes is not None:
        query = query.where(col(TaskRow.dong_code).in_(list(dong_codes)))
    return list(session.exec(query.order_by(col(TaskRow.deadline)).limit(limit)).all())


def outcome_of(session: Session, task_id: UUID) -> OutcomeRow | None:
    return session.exec(select(OutcomeRow).where(OutcomeRow.task_id == task_id)).first()


def task_counts(session: Session, area: Area | None = None) -> dict[str, int]:
    """Tasks by status (in ``area``, or everywhere)."""
    scope = area.holds(TaskRow.dong_code) if area is not None else true()
    return {
        status: count
        for status, count in session.exec(
            select(TaskRow.status, func.count()).where(scope).group_by(TaskRow.status)
        ).all()
    }
