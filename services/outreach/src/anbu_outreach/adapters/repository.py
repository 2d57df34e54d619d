"""Outreach's repository bundle for the registry's snapshots: the cached rows over one
transaction's session, and the in-memory roster index kept beside them (the ``repos`` of a
unit of work; :mod:`anbu_runtime.uow`)."""

from __future__ import annotations

from sqlmodel import Session

from .orm import HouseholdRow, WorkerRow
from .roster import Roster


class SnapshotCaches:
    def __init__(self, session: Session, roster: Roster) -> None:
        self.session = session
        self.roster = roster

    def worker(self, worker_id: str) -> WorkerRow | None:
        return self.session.get(WorkerRow, worker_id)

    def household(self, household_id: str) -> HouseholdRow | None:
        return self.session.get(HouseholdRow, household_id)

    def save(self, row: WorkerRow | HouseholdRow) -> None:
        self.session.add(row)
