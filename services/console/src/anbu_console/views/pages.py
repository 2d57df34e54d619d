"""What each page shows: the reads above composed with the domain's figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from ..domain.feeds import is_stale, stale_threshold
from ..domain.grid import alerts_per_thousand, heat
from ..domain.kpis import kpi_table
from ..domain.scope import Scope
from .dongs import dong_grid
from .figures import kpi_actuals, overview, recent_feed
from .households import open_alerts, running_escalations
from .partners import partner_feeds


def overview_page(session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    return {
        "overview": overview(session, scope, now),
        "alerts": open_alerts(session, scope, limit=20),
        "feed": recent_feed(session, scope),
    }


def board(
    session: Session,
    scope: Scope,
    now: datetime,
    dong: str | None = None,
    protocol: str | None = None,
) -> dict[str, Any]:
    """Running protocols, the nearest next step first; ``dong``/``protocol`` narrow it."""
    rows = []
    running = running_escalations(session, scope)
    dongs = sorted({d for _, d in running if d})
    protocols = sorted({e.protocol_id for e, _ in running})
    for escalation, dong_code in running:
        if (dong and dong_code != dong) or (protocol and escalation.protocol_id != protocol):
            continue
        due = escalation.next_step_due_at
        rows.append(
            {
                "e": escalation,
                "dong": dong_code,
                "since": (now - escalation.triggered_at).total_seconds(),
                "remaining": (due - now).total_seconds() if due else None,
                "overdue": due is not None and due < now,
            }
        )
    return {
        "rows": rows,
        "dongs": dongs,
        "protocols": protocols,
        "chosen_dong": dong,
        "chosen_protocol": protocol,
    }


def partners(
    session: Session,
    now: datetime,
    stale_hours: float | None,
    default_hours: float,
    hours_by_kind: dict[str, float],
) -> dict[str, Any]:
    """Every partner feed, how long it has been silent and whether that is too long
    (``stale_hours`` overrides the configured thresholds for this view)."""
    rows = []
    for feed in partner_feeds(session):
        threshold = (
            timedelta(hours=stale_hours)
            if stale_hours is not None
            else stale_threshold(feed.kind, default_hours, hours_by_kind)
        )
        rows.append(
            {
                "feed": feed,
                "silent": (now - feed.last_produced_at).total_seconds(),
                "threshold": threshold.total_seconds(),
                "stale": is_stale(feed.last_produced_at, now, threshold),
            }
        )
    return {"rows": rows, "stale_hours": stale_hours}


def kpis(session: Session, scope: Scope, targets: dict[str, float]) -> dict[str, Any]:
    return {"rows": kpi_table(targets, kpi_actuals(session, scope))}


def dongs(session: Session, scope: Scope) -> dict[str, Any]:
    cells = []
    for cell in dong_grid(session, scope):
        rate = alerts_per_thousand(cell["open_alerts"], cell["monitored"])
        cells.append({**cell, "rate": rate, "heat": heat(rate)})
    return {"cells": cells}
