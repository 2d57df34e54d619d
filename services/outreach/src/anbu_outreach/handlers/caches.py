"""The registry's snapshots in outreach: the roster (durable table + in-memory index) and
what outreach needs of each household (area, people, risk flag, tier and cycles)."""

from __future__ import annotations

from anbu_contracts import HouseholdSnapshot, WorkerSnapshot
from anbu_runtime.kafka import Tombstone
from anbu_runtime.uow import HandlerTable

from ..adapters.orm import HouseholdRow, WorkerRow
from ..adapters.repository import OutreachRepository, Uow
from .contacts import refresh_cycles

# The snapshot consumer's handlers: one per contract type (no isinstance ladder).
SNAPSHOTS: HandlerTable[OutreachRepository] = HandlerTable()


@SNAPSHOTS.register(Tombstone)
def on_tombstone(tombstone: Tombstone, uow: Uow) -> None:
    """A deleted household or worker keeps its last cached state until the registry's
    deletion workflow exists."""


@SNAPSHOTS.register(WorkerSnapshot)
def on_worker_snapshot(worker: WorkerSnapshot, uow: Uow) -> None:
    caches = uow.repos
    row = caches.worker(worker.worker_id)
    if row is not None and row.revision >= worker.revision:
        return
    data = worker.model_dump(mode="json")
    if row is None:
        row = WorkerRow(worker_id=worker.worker_id, revision=worker.revision, snapshot=data)
    else:
        row.revision, row.snapshot = worker.revision, data
    caches.add(row)
    caches.roster.put(worker)


@SNAPSHOTS.register(HouseholdSnapshot)
def on_household_snapshot(household: HouseholdSnapshot, uow: Uow) -> None:
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
    caches.add(row)


def load_roster(repos: OutreachRepository) -> int:
    """Rebuild the in-memory roster from the durable cache (at start)."""
    rows = repos.workers()
    repos.roster.put_all(WorkerSnapshot.model_validate(r.snapshot) for r in rows)
    return len(rows)
