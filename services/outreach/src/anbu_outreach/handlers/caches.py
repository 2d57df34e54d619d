"""The registry's snapshots in outreach: the roster (durable table + in-memory index) and
what outreach needs of each household (area, people, risk flag, tier and cycles)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from sqlmodel import Session, col, select

from anbu_contracts import HouseholdSnapshot, WorkerSnapshot
from anbu_runtime.kafka import Tombstone
from anbu_runtime.uow import HandlerTable, UnitOfWork

from ..adapters.orm import HouseholdRow, WorkerRow
from ..adapters.repository import SnapshotCaches
from ..domain.assignment import HouseholdContext
from .contacts import refresh_cycles
from .context import Context

# Ids per IN (...) list: well under the databases' limits on bound parameters.
_CHUNK = 5000


# The snapshot consumer's handlers: one per contract type (no isinstance ladder).
SNAPSHOTS: HandlerTable[SnapshotCaches] = HandlerTable()


def on_snapshots(ctx: Context, session: Session, events: list[BaseModel]) -> None:
    """Apply ``events`` in ``session``'s transaction (what the consumer does in its own)."""
    uow = UnitOfWork(session, SnapshotCaches(session, ctx.roster), ctx.outbox, ctx.now())
    for event in events:
        SNAPSHOTS.dispatch(event, uow)


@SNAPSHOTS.register(Tombstone)
def on_tombstone(tombstone: Tombstone, uow: UnitOfWork[SnapshotCaches]) -> None:
    """A deleted household or worker keeps its last cached state until the registry's
    deletion workflow exists."""


@SNAPSHOTS.register(WorkerSnapshot)
def on_worker_snapshot(worker: WorkerSnapshot, uow: UnitOfWork[SnapshotCaches]) -> None:
    caches = uow.repos
    row = caches.worker(worker.worker_id)
    if row is not None and row.revision >= worker.revision:
        return
    data = worker.model_dump(mode="json")
    if row is None:
        row = WorkerRow(worker_id=worker.worker_id, revision=worker.revision, snapshot=data)
    else:
        row.revision, row.snapshot = worker.revision, data
    caches.save(row)
    caches.roster.put(worker)


@SNAPSHOTS.register(HouseholdSnapshot)
def on_household_snapshot(household: HouseholdSnapshot, uow: UnitOfWork[SnapshotCaches]) -> None:
    caches = uow.repos
    row = caches.household(household.household_id)
    if row is not None and row.revision >= household.revision:
        return
    if row is None:
        row = HouseholdRow(
            household_id=household.household_id,
            revision=household.revision,
            dong_code=household.dong_code,
            enrolled_at=household.occurred_at,
        )
    row.revision = household.revision
    row.dong_code = household.dong_code
    row.tier = household.tier.value
    row.status = household.status.value
    row.timezone = household.timezone
    row.responsible_worker_id = household.responsible_worker_id
    row.matched_volunteer_id = household.matched_volunteer_id
    row.violence_risk = household.violence_risk
    row.locale = household.locale.value
    row.enrolled_at = min(row.enrolled_at, household.occurred_at)
    refresh_cycles(row)
    caches.save(row)


def knows_household(session: Session, household_id: str) -> bool:
    return session.get(HouseholdRow, household_id) is not None


def household_context(session: Session, household_id: str) -> HouseholdContext:
    row = session.get(HouseholdRow, household_id)
    if row is None:
        return HouseholdContext(household_id=household_id, dong_code=None)
    return _context_of(row)


def _context_of(row: HouseholdRow) -> HouseholdContext:
    return HouseholdContext(
        household_id=row.household_id,
        dong_code=row.dong_code,
        responsible_worker_id=row.responsible_worker_id,
        matched_volunteer_id=row.matched_volunteer_id,
        violence_risk=row.violence_risk,
    )


def household_contexts(
    session: Session, household_ids: Iterable[str]
) -> dict[str, HouseholdContext]:
    """:func:`household_context` for many households with one query per few thousand."""
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
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for household_id, dong, responsible, volunteer, violence in session.exec(
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


def load_roster(ctx: Context, session: Session) -> int:
    """Rebuild the in-memory roster from the durable cache (at start)."""
    rows = session.exec(select(WorkerRow)).all()
    ctx.roster.put_all(WorkerSnapshot.model_validate(r.snapshot) for r in rows)
    return len(rows)
