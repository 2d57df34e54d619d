"""The partner feeds and their signals per hour (partners are not area-scoped: every
console role sees every feed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from ..adapters.orm import (
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
