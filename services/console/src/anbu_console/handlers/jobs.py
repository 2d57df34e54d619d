"""Long file jobs (partner files at the gateway, household imports at the registry): the
newest progress report of each, for the partners page."""

from __future__ import annotations

from anbu_contracts import JobProgress

from ..adapters.orm import JobView
from ..domain.changes import Change
from .common import Uow

FIELDS = (
    "kind",
    "partner_id",
    "detail",
    "state",
    "finished",
    "succeeded",
    "progress",
    "rows",
    "rejected",
    "rows_per_second",
    "eta_seconds",
    "started_at",
    "updated_at",
)


def on_job(event: JobProgress, uow: Uow) -> Change | None:
    """Keep the newest report by ``updated_at``; an older or repeated one changes nothing."""
    row = uow.repos.get(JobView, event.job_id)
    if row is not None and row.updated_at >= event.updated_at:
        return None
    values = {name: getattr(event, name) for name in FIELDS}
    values["kind"] = event.kind.value
    if row is None:
        row = JobView(job_id=event.job_id, **values)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    uow.repos.add(row)
    return Change("job", None, None, event.job_id, f"{event.kind.value} {event.state}")
