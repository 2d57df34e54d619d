"""The contract events the gateway builds from its own rows, one function per event.

(Partners' signals are not built here: the gateway validates what partners send into the
signal contracts, ``domain/envelope.py``.)
"""

from __future__ import annotations

from datetime import datetime

from anbu_contracts import ReportCategory, ReporterRole, ReportSignal, ReportUrgency

from ..domain.envelope import signal_event_id
from .orm import ReportRow


def report_signal(row: ReportRow, partner_id: str, now: datetime) -> ReportSignal:
    """A matched report as the ``report`` signal: no free text, only a reference to it."""
    assert row.household_id is not None
    return ReportSignal(
        event_id=signal_event_id(partner_id, row.reference),
        occurred_at=row.submitted_at,
        produced_at=now,
        source=partner_id,
        household_id=row.household_id,
        partner_id=partner_id,
        partner_event_id=row.reference,
        reporter_role=ReporterRole(row.reporter_role),
        reporter_id=row.reporter_id,
        category=ReportCategory(row.category),
        urgency=ReportUrgency(row.urgency),
        note_ref=row.reference,
    )
