"""Routine contact cycles in the database: each household's due dates, kept current as
snapshots and outcomes arrive (the figures operators watch are read in ``views``)."""

from __future__ import annotations

from anbu_contracts import HouseholdStatus, Tier

from ..adapters.orm import HouseholdRow
from ..domain.cycles import ContactHistory, CycleKind, Due, cycles_due


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
