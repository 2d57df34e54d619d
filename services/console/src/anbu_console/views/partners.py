"""The partner feeds, their signals per hour and their long file jobs (partners are not
area-scoped: every console role sees every feed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from ..adapters.orm import (
    JobView,
    PartnerFeedView,
    PartnerSignalHour,
)


def partner_feeds(session: Session) -> Sequence[PartnerFeedView]:
    return session.exec(
        select(PartnerFeedView).order_by(col(PartnerFeedView.partner_id), PartnerFeedView.kind)
    ).all()


def partner_signal_hours(
    session: Session, since: datetime
) -> dict[tuple[str, str], dict[datetime, int]]:
    """Signals per (partner, kind) and UTC hour, from ``since`` on. Partners are not
    area-scoped: every console role sees every feed, as on the partner feeds page."""
    rows = session.exec(select(PartnerSignalHour).where(col(PartnerSignalHour.hour) >= since)).all()
    out: dict[tuple[str, str], dict[datetime, int]] = {}
    for row in rows:
        out.setdefault((row.partner_id, row.kind), {})[row.hour] = row.count
    return out


JOBS_SHOWN = 20
FINISHED_JOBS_KEPT = timedelta(days=7)


def file_jobs(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Long file jobs: those still running first (oldest first), then the last week's
    finished ones, newest first; at most ``JOBS_SHOWN``."""
    running = session.exec(
        select(JobView).where(col(JobView.finished).is_(False)).order_by(col(JobView.started_at))
    ).all()
    finished = session.exec(
        select(JobView)
        .where(col(JobView.finished).is_(True), col(JobView.updated_at) >= now - FINISHED_JOBS_KEPT)
        .order_by(col(JobView.updated_at).desc())
        .limit(JOBS_SHOWN)
    ).all()
    return [
        {"job": job, "percent": round(100 * job.progress, 1)}
        for job in [*running, *finished][:JOBS_SHOWN]
    ]
