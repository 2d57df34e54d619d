"""The registry's snapshots in outreach: the roster (durable table + in-memory index) and
what outreach needs of each household (area, people, risk flag, tier and cycles)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel
from sqlmodel import Session, col, select

from anbu_contracts import HouseholdSnapshot, WorkerSnapshot

from ..adapters.orm import HouseholdRow, WorkerRow
from ..domain.assignment import HouseholdContext
from .contacts import refresh_cycles
from .context import Context

# Ids per IN (...) list: well under the databases' limits on bound parameters.
_CHUNK = 5000


def on_snapshots(ctx: Context, session: Session, events: list[BaseModel]) -> None:
    for event in events:
        if isinstance(event, WorkerSnapshot):
            on_worker(ctx, session, event)
        elif isinstance(event, HouseholdSnapshot):
            on_household(ctx, session, event)
        # Tombstones: a deleted household or worker keeps its last cached state until the
        # registry's deletion workflow exists.


def on_worker(ctx: Context, session: Session, worker: WorkerSnapshot) -> None:
    row = session.get(WorkerRow, worker.worker_id)
    if row is not None and row.revision >= worker.revision:
        return
    data = worker.model_dump(mode="json")
    if row is None:
        row = WorkerRow(worker_id=worker.worker_id, revision=worker.revision, snapshot=data)
    else:
        row.revision, row.snapshot = worker.revision, data
    session.add(row)
    ctx.roster.put(worker)


def on_household(ctx: Context, session: Session, household: HouseholdSnapshot) -> None:
    row = session.get(HouseholdRow, household.household_id)
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
    session.add(row)


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
