"""Routine contact cycles in the database: each household's due dates, kept current as
snapshots and outcomes arrive, and the figures operators watch (due and overdue by tier)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, true
from sqlmodel import Session, col, select

from anbu_contracts import HouseholdStatus, Tier

from ..adapters.orm import HouseholdRow
from ..domain.cycles import ContactHistory, CycleKind, CycleState, Due, cycles_due


@dataclass(frozen=True)
class Area:
    """Some dongs and whole districts (a dong code's first five digits name its district):
    where an office caller looks (``Principal.sees_dong`` in SQL)."""

    dong_codes: frozenset[str] = frozenset()
    district_codes: frozenset[str] = frozenset()

    def holds(self, dong_code: Any) -> Any:
        """The condition that the ``dong_code`` column lies in this area."""
        return col(dong_code).in_(sorted(self.dong_codes)) | func.substr(dong_code, 1, 5).in_(
            sorted(self.district_codes)
        )


def history_of(row: HouseholdRow) -> ContactHistory:
    return ContactHistory(row.enrolled_at, row.last_contact_at, row.last_visit_at)


def due_of(row: HouseholdRow) -> dict[CycleKind, Due]:
    return cycles_due(Tier(row.tier), HouseholdStatus(row.status), history_of(row), row.timezone)


def refresh_cycles(row: HouseholdRow) -> None:
    """Recompute when the household's cycles open and fall due (after any change)."""
    due = due_of(row)
    contact, visit = due.get(CycleKind.CONTACT), due.get(CycleKind.VISIT)
    row.contact_opens_at = contact.opens_at if contact else None
    row.contact_due_at = contact.due_at if contact else None
    row.visit_opens_at = visit.opens_at if visit else None
    row.visit_due_at = visit.due_at if visit else None


def figures(session: Session, now: datetime, area: Area | None = None) -> dict[str, Any]:
    """Households due and overdue per tier and cycle, and how many are monitored (in
    ``area``, or everywhere)."""
    scope = area.holds(HouseholdRow.dong_code) if area is not None else true()
    out: dict[str, Any] = {
        tier.value: {
            "households": 0,
            **{
                kind.value: {s.value: 0 for s in (CycleState.DUE, CycleState.OVERDUE)}
                for kind in CycleKind
            },
        }
        for tier in Tier
    }
    for tier, count in session.exec(
        select(HouseholdRow.tier, func.count())
        .where(HouseholdRow.status == HouseholdStatus.ACTIVE.value, scope)
        .group_by(HouseholdRow.tier)
    ).all():
        if tier in out:
            out[tier]["households"] = count
    columns = (
        (CycleKind.CONTACT, HouseholdRow.contact_opens_at, HouseholdRow.contact_due_at),
        (CycleKind.VISIT, HouseholdRow.visit_opens_at, HouseholdRow.visit_due_at),
    )
    for kind, opens, due in columns:
        due_now = (col(opens) <= now) & (col(due) > now)
        overdue = col(due) <= now
        for state, condition in ((CycleState.DUE, due_now), (CycleState.OVERDUE, overdue)):
            for tier, count in session.exec(
                select(HouseholdRow.tier, func.count())
                .where(condition, scope)
                .group_by(HouseholdRow.tier)
            ).all():
                if tier in out:
                    out[tier][kind.value][state.value] = count
    return out
