"""The contract events the gateway builds from its own rows, one function per event.

(Partners' signals are not built here: the gateway validates what partners send into the
signal contracts, ``domain/envelope.py``.)
"""

from __future__ import annotations

from datetime import datetime

from anbu_contracts import (
    JobKind,
    JobProgress,
    ReportCategory,
    ReporterRole,
    ReportSignal,
    ReportUrgency,
)

from ..domain.envelope import signal_event_id
from ..domain.submissions import SubmissionState, pace
from .orm import ReportRow, SubmissionRow


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


def file_progress(row: SubmissionRow, now: datetime) -> JobProgress:
    """Where a partner's signal file stands (counts only), for the console."""
    state = SubmissionState(row.state)
    done = pace(state, row.file_lines, row.cursor_line, row.rows, row.processing_seconds)
    return JobProgress(
        occurred_at=now,
        source="gateway",
        job_id=row.submission_id,
        kind=JobKind.PARTNER_FILE,
        partner_id=row.partner_id,
        detail=row.kind,
        state=state.value,
        finished=state.finished,
        succeeded=state is SubmissionState.COMPLETED if state.finished else None,
        progress=done.share,
        rows=row.rows,
        rejected=row.rejected,
        rows_per_second=done.rows_per_second,
        eta_seconds=done.eta_seconds,
        started_at=row.created_at,
        updated_at=row.updated_at,
    )
