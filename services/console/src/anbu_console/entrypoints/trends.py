"""The trends page (``/trends``) and its JSON twin (``/api/trends``).

Small server-rendered SVG bar charts (no script, no charting library), each with a table
of the same numbers for screen readers and for copying: alerts opened per day by severity
and by reason, the weekly median from the first signal to the first contact, and tasks
that went past their deadline per day. Numbers come from the read model.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import views
from ..domain.feeds import is_stale, stale_threshold
from ..domain.scope import EVERYTHING, Scope
from ..domain.trends import (
    SEVERITIES,
    bar_chart,
    days_back,
    first_contact_hours,
    hours_back,
    instant_marker,
    per_day,
    week_of,
    weekly_median,
)
from .web import Console, snapshot_read

DAYS = 14
WEEKS = 8
HOURS = 48


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def trends(session: Any, scope: Scope, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
    """Every trend's numbers, by local day (the last 14) or week (the last 8)."""
    today = now.astimezone(zone).date()
    days = days_back(today, DAYS)
    weeks = [week_of(today) - timedelta(weeks=n) for n in range(WEEKS - 1, -1, -1)]
    since = datetime.combine(weeks[0], datetime.min.time(), zone)
    rows = views.trend_rows(session, scope, since)
    alerts = rows["alerts"]
    signalled = []
    for household, opened, _severity, _reason, evidence in alerts:
        seen = [t for t in (_parse(e.get("occurred_at")) for e in evidence or []) if t]
        signalled.append((household, opened, min([*seen, opened])))
    contacts = first_contact_hours(signalled, rows["outcomes"])
    open_statuses = set(views.OPEN_TASK)
    overdue = [
        (deadline, "overdue")
        for deadline, completed, status in rows["tasks"]
        if (completed is not None and completed > deadline)
        or (completed is None and status == "expired")
        or (completed is None and status in open_statuses and deadline < now)
    ]
    by_reason = per_day([(at, reason) for _, at, _, reason, _ in alerts], days, zone)
    return {
        "days": [d.isoformat() for d in days],
        "weeks": [w.isoformat() for w in weeks],
        "alerts_by_severity": {
            d.isoformat(): v
            for d, v in per_day([(at, sev) for _, at, sev, _, _ in alerts], days, zone).items()
        },
        "alerts_by_reason": {d.isoformat(): v for d, v in by_reason.items()},
        "reasons": sorted({reason for by in by_reason.values() for reason in by}),
        "first_contact_hours": {
            w.isoformat(): v for w, v in weekly_median(contacts, weeks, zone).items()
        },
        "overdue_tasks": {
            d.isoformat(): v.get("overdue", 0) for d, v in per_day(overdue, days, zone).items()
        },
    }


def partner_signals(
    session: Any, now: datetime, threshold_of: Callable[[str], timedelta]
) -> dict[str, Any]:
    """Signals per partner feed per UTC hour (the last 48), each feed with its stale
    threshold. Every known feed is listed, a silent one too: that is the one to see."""
    hours = hours_back(now, HOURS)
    counts = views.partner_signal_hours(session, hours[0])
    feeds = []
    for feed in views.partner_feeds(session):
        threshold = threshold_of(feed.kind)
        by_hour = counts.get((feed.partner_id, feed.kind), {})
        feeds.append(
            {
                "partner_id": feed.partner_id,
                "kind": feed.kind,
                "stale_after_hours": threshold.total_seconds() / 3600,
                "stale": is_stale(feed.last_produced_at, now, threshold),
                "counts": [by_hour.get(hour, 0) for hour in hours],
            }
        )
    return {"signal_hours": [h.isoformat() for h in hours], "partner_signals": feeds}


def signal_charts(data: dict[str, Any], now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """One chart per feed, with a line where its silence would turn it stale."""
    hours = [datetime.fromisoformat(h) for h in data["signal_hours"]]

    def label(hour: datetime) -> str:
        local = hour.astimezone(zone)
        return local.strftime("%m/%d") if local.hour == 0 else local.strftime("%H:00")

    out = []
    for feed in data["partner_signals"]:
        columns = [(label(h), {"": float(n)}) for h, n in zip(hours, feed["counts"], strict=True)]
        since = now - timedelta(hours=feed["stale_after_hours"])
        out.append(
            {
                **feed,
                "chart": bar_chart(columns, [""], height=120, label_every=6),
                "marker": instant_marker(hours, since),
            }
        )
    return out


def charts(data: dict[str, Any]) -> dict[str, Any]:
    """Bar geometry for the page."""

    def short(day: str) -> str:
        return day[5:].replace("-", "/")  # 2026-12-03 → 12/03

    severity = [(short(d), data["alerts_by_severity"][d]) for d in data["days"]]
    reason = [(short(d), data["alerts_by_reason"][d]) for d in data["days"]]
    contact = [
        (short(w), {"": v} if v is not None else {}) for w, v in data["first_contact_hours"].items()
    ]
    overdue = [(short(d), {"": float(data["overdue_tasks"][d])}) for d in data["days"]]
    reasons: list[str] = data["reasons"]
    return {
        "sev_class": lambda key: f"series-{key}",
        "reason_class": lambda key: f"series-{reasons.index(key) % 6}",
        "one_class": lambda _key: "series-one",
        "severity_chart": bar_chart(severity, SEVERITIES, label_every=2),
        "reason_chart": bar_chart(reason, data["reasons"], label_every=2),
        "contact_chart": bar_chart(contact, [""]),
        "overdue_chart": bar_chart(overdue, [""], label_every=2),
    }


def router(console: Console) -> APIRouter:
    web = APIRouter()

    options = console.options

    def threshold_of(kind: str) -> timedelta:
        return stale_threshold(kind, options.feed_stale_hours, options.feed_stale_hours_by_kind)

    def everything(session: Any, scope: Scope, now: datetime) -> dict[str, Any]:
        return {
            **trends(session, scope, now, console.zone),
            **partner_signals(session, now, threshold_of),
        }

    @web.get("/trends", response_class=HTMLResponse, include_in_schema=False)
    async def trends_page(request: Request) -> Response:
        now = console.runtime.clock.now()

        def read(session: Any, scope: Scope) -> dict[str, Any]:
            data = everything(session, scope, now)
            feeds = signal_charts(data, now, console.zone)
            hours = [datetime.fromisoformat(h) for h in data["signal_hours"]]
            return {"data": data, **charts(data), "feeds": feeds, "signal_hours": hours}

        return await console.page(request, "trends.html", read, severities=SEVERITIES)

    @web.get(
        "/api/trends",
        tags=["console"],
        summary="Alerts per day by severity and reason, first-contact median per week, "
        "overdue tasks per day, signals per partner feed per hour with the stale threshold",
    )
    async def trends_json(request: Request) -> dict[str, Any]:
        scope = console.api_viewer(request).scope or EVERYTHING
        now = console.runtime.clock.now()
        return await snapshot_read(console.runtime.db, lambda s: everything(s, scope, now))

    return web
