"""The read model's repository: every row the projections read or write goes through here.

One instance per unit of work (``runtime.transactions(ReadModel)``), over its session.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session, col, delete, func, select

from .orm import HouseholdView, PartnerSignalHour, PartnerSignalSeen, TimelineEntry

M = TypeVar("M")
# Stay under the databases' bound-parameter limits in IN (...) lists.
CHUNK = 500


class ReadModel:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, model: type[M], key: Any) -> M | None:
        return self.session.get(model, key)

    def add(self, row: Any) -> None:
        self.session.add(row)

    def dong_of(self, household_id: str | None) -> str | None:
        """The household's dong from its latest snapshot (None before the first one)."""
        if household_id is None:
            return None
        row = self.session.get(HouseholdView, household_id)
        return row.dong_code if row else None

    def add_timeline(self, entry: TimelineEntry) -> None:
        """Add a timeline entry unless one with its event id exists (entries never change)."""
        if self.session.get(TimelineEntry, entry.event_id) is None:
            self.session.add(entry)

    # -- partner signals per hour ---------------------------------------------------------

    def newest_signal_hour(self) -> datetime | None:
        newest: datetime | None = self.session.exec(select(func.max(PartnerSignalHour.hour))).one()
        return newest

    def seen_signals(self, partner_event_ids: Iterable[str]) -> set[tuple[str, str]]:
        """(partner, partner event id) pairs already counted, among ``partner_event_ids``."""
        ids = sorted(set(partner_event_ids))
        seen: set[tuple[str, str]] = set()
        for start in range(0, len(ids), CHUNK):
            query = select(PartnerSignalSeen.partner_id, PartnerSignalSeen.partner_event_id).where(
                col(PartnerSignalSeen.partner_event_id).in_(ids[start : start + CHUNK])
            )
            seen.update((partner_id, event_id) for partner_id, event_id in self.session.exec(query))
        return seen

    def forget_signal_hours_before(self, cutoff: datetime) -> None:
        self.session.exec(delete(PartnerSignalHour).where(col(PartnerSignalHour.hour) < cutoff))
        self.session.exec(delete(PartnerSignalSeen).where(col(PartnerSignalSeen.hour) < cutoff))
