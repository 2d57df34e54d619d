"""Outreach's repository bundle: what a handler reaches through ``uow.repos``.

One instance lives for one unit of work (``runtime.transactions(...)`` builds it over the
transaction's session); the SQL of the handlers lives here. It carries the service's
:class:`~..handlers.context.Context` (policy, roster, holidays, clock) as ``ctx``, and
the writes a handler defers to the end of the unit (:meth:`deferred`: a batch's tasks are
created together, with a few statements for the lot).

A task is loaded with its offers as a :class:`Loaded` (the row, the domain's
:class:`TaskAssignment` and the offer rows); ``Loaded.save`` writes the assignment back.
A task's row is locked while it changes (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite
has one writer), so an answer and an expiry sweep never both act on the same offer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Table, func
from sqlmodel import Session, col, select

from anbu_contracts import Role, TaskStatus
from anbu_runtime.db import bulk_insert
from anbu_runtime.uow import UnitOfWork

from ..domain.assignment import HouseholdContext
from ..domain.offers import OPEN, DeclineReason, Offer, OfferState, TaskAssignment
from .orm import AnyTask, HouseholdRow, NewTaskRow, OfferRow, OutcomeRow, TaskRow, WorkerRow
from .roster import Roster

if TYPE_CHECKING:
    from ..handlers.context import Context

TASKS: Table = TaskRow.__table__  # type: ignore[attr-defined]
OFFERS: Table = OfferRow.__table__  # type: ignore[attr-defined]
OPEN_VALUES = tuple(s.value for s in OPEN)
ACTIVE_OFFER_VALUES = (OfferState.OFFERED.value, OfferState.ACCEPTED.value)
# Ids per IN (...) list: well under SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 5000


class TaskNotFound(LookupError):
    pass


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


def _context_of(row: HouseholdRow) -> HouseholdContext:
    return HouseholdContext(
        household_id=row.household_id,
        dong_code=row.dong_code,
        responsible_worker_id=row.responsible_worker_id,
        matched_volunteer_id=row.matched_volunteer_id,
        violence_risk=row.violence_risk,
    )


def _chunks(ids: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


class OutreachRepository:
    def __init__(self, session: Session, ctx: Context) -> None:
        self.session = session
        self.ctx = ctx

    @property
    def roster(self) -> Roster:
        return self.ctx.roster

    def add(self, row: Any) -> None:
        self.session.add(row)

    # -- the registry's snapshots ------------------------------------------------------

    def worker(self, worker_id: str) -> WorkerRow | None:
        return self.session.get(WorkerRow, worker_id)

    def workers(self) -> Sequence[WorkerRow]:
        return self.session.exec(select(WorkerRow)).all()

    def household(self, household_id: str) -> HouseholdRow | None:
        return self.session.get(HouseholdRow, household_id)

    def known_households(self, household_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(household_ids))
        found: set[str] = set()
        for chunk in _chunks(ids):
            found.update(
                self.session.exec(
                    select(HouseholdRow.household_id).where(
                        col(HouseholdRow.household_id).in_(chunk)
                    )
                ).all()
            )
        return found

    def household_context(self, household_id: str) -> HouseholdContext:
        row = self.session.get(HouseholdRow, household_id)
        if row is None:
            return HouseholdContext(household_id=household_id, dong_code=None)
        return _context_of(row)

    def household_contexts(self, household_ids: Iterable[str]) -> dict[str, HouseholdContext]:
        """:meth:`household_context` for many households with one query per few thousand."""
        ids = sorted(set(household_ids))
        found: dict[str, HouseholdContext] = {
            household_id: HouseholdContext(household_id=household_id, dong_code=None)
            for household_id in ids
        }
        columns = (
            HouseholdRow.household_id,
            HouseholdRow.dong_code,
            HouseholdRow.responsible_worker_id,
            HouseholdRow.matched_volunteer_id,
            HouseholdRow.violence_risk,
        )  # the columns, not whole rows: no ORM objects for a burst's thousands of households
        for chunk in _chunks(ids):
            for household_id, dong, responsible, volunteer, violence in self.session.exec(
                select(*columns).where(col(HouseholdRow.household_id).in_(chunk))
            ):
                found[household_id] = HouseholdContext(
                    household_id=household_id,
                    dong_code=dong,
                    responsible_worker_id=responsible,
                    matched_volunteer_id=volunteer,
                    violence_risk=violence,
                )
        return found

    def households_due(self, now: datetime, after: str | None, limit: int) -> list[HouseholdRow]:
        """Active households with a cycle whose routine window is open, by id after ``after``."""
        query = select(HouseholdRow).where(
            (col(HouseholdRow.contact_opens_at) <= now) | (col(HouseholdRow.visit_opens_at) <= now)
        )
        if after is not None:
            query = query.where(col(HouseholdRow.household_id) > after)
        query = query.order_by(col(HouseholdRow.household_id)).limit(limit)
        return list(self.session.exec(query).all())

    # -- tasks and offers --------------------------------------------------------------

    def load(self, task_id: UUID, *, lock: bool = True) -> Loaded:
        query = select(TaskRow).where(TaskRow.task_id == task_id)
        if lock:
            query = query.with_for_update()
        task = self.session.exec(query).first()
        if task is None:
            raise TaskNotFound(f"task {task_id} not found")
        rows = list(
            self.session.exec(
                select(OfferRow).where(OfferRow.task_id == task_id).order_by(col(OfferRow.offer_id))
            ).all()
        )
        assignment = TaskAssignment(
            TaskStatus(task.status), [Role(r) for r in task.team], [_offer_of(r) for r in rows]
        )
        return Loaded(task, assignment, rows)

    def lock_if_free(self, task_id: UUID) -> bool:
        """Lock the task's row unless another instance holds it (then False)."""
        return (
            self.session.exec(
                select(TaskRow.task_id)
                .where(TaskRow.task_id == task_id)
                .with_for_update(skip_locked=True)
            ).first()
            is not None
        )

    def open_loads(self, worker_ids: Iterable[str]) -> dict[str, int]:
        """Open offers (offered or accepted) per worker: their current load."""
        loads: dict[str, int] = {}
        for chunk in _chunks(sorted(set(worker_ids))):
            rows = self.session.exec(
                select(OfferRow.worker_id, func.count())
                .where(
                    col(OfferRow.worker_id).in_(chunk),
                    col(OfferRow.state).in_(ACTIVE_OFFER_VALUES),
                )
                .group_by(OfferRow.worker_id)
            ).all()
            loads.update(rows)
        return loads

    def has_origin(self, origin_key: str) -> bool:
        query = select(TaskRow.task_id).where(TaskRow.origin_key == origin_key)
        return self.session.exec(query).first() is not None

    def existing_origins(self, keys: Sequence[str]) -> set[str]:
        existing: set[str] = set()
        for chunk in _chunks(keys):
            query = select(TaskRow.origin_key).where(col(TaskRow.origin_key).in_(chunk))
            existing.update(self.session.exec(query).all())
        return existing

    def insert_new(self, tasks: Sequence[NewTaskRow], offers: list[dict[str, Any]]) -> None:
        """A batch's new tasks and their offers, one statement per table."""
        bulk_insert(self.session, TASKS, [task.values() for task in tasks])
        bulk_insert(self.session, OFFERS, offers)

    def open_tasks_of_escalation(self, escalation_id: UUID) -> Sequence[UUID]:
        return self.session.exec(
            select(TaskRow.task_id).where(
                TaskRow.escalation_id == escalation_id, col(TaskRow.status).in_(OPEN_VALUES)
            )
        ).all()

    def open_routine_tasks(
        self, household_id: str, cycle_kinds: Sequence[str], other_than: UUID | None
    ) -> Sequence[UUID]:
        return self.session.exec(
            select(TaskRow.task_id).where(
                TaskRow.household_id == household_id,
                col(TaskRow.cycle_kind).in_(cycle_kinds),
                col(TaskRow.status).in_(OPEN_VALUES),
                TaskRow.task_id != other_than,
            )
        ).all()

    def open_routine_cycles(self, household_ids: Sequence[str]) -> set[tuple[str, str]]:
        """(household, cycle kind) of the open routine tasks of ``household_ids``."""
        rows = self.session.exec(
            select(TaskRow.household_id, TaskRow.cycle_kind).where(
                col(TaskRow.household_id).in_(household_ids),
                col(TaskRow.cycle_kind).is_not(None),
                col(TaskRow.status).in_(OPEN_VALUES),
            )
        ).all()
        return {(h, k) for h, k in rows if k is not None}

    def tasks_with_lapsed_offers(self, now: datetime, limit: int) -> Sequence[UUID]:
        return self.session.exec(
            select(OfferRow.task_id)
            .where(OfferRow.state == OfferState.OFFERED.value, col(OfferRow.expires_at) <= now)
            .group_by(col(OfferRow.task_id))
            .order_by(func.min(OfferRow.expires_at))
            .limit(limit)
        ).all()

    def unassigned_since(self, before: datetime, limit: int) -> Sequence[UUID]:
        return self.session.exec(
            select(TaskRow.task_id)
            .where(
                TaskRow.status == TaskStatus.UNASSIGNED.value,
                col(TaskRow.updated_at) <= before,
            )
            .order_by(col(TaskRow.updated_at))
            .limit(limit)
        ).all()

    def unaccepted_past(self, cutoff: datetime, limit: int) -> Sequence[UUID]:
        return self.session.exec(
            select(TaskRow.task_id)
            .where(
                col(TaskRow.status).in_((TaskStatus.OFFERED.value, TaskStatus.UNASSIGNED.value)),
                col(TaskRow.deadline) <= cutoff,
            )
            .limit(limit)
        ).all()

    def outcome_of(self, task_id: UUID) -> OutcomeRow | None:
        return self.session.exec(select(OutcomeRow).where(OutcomeRow.task_id == task_id)).first()


Uow = UnitOfWork[OutreachRepository]


def repositories(ctx: Context) -> Callable[[Session], OutreachRepository]:
    """The bundle factory ``runtime.transactions`` takes."""
    return lambda session: OutreachRepository(session, ctx)
