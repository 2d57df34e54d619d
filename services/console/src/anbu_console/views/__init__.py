"""Reads of the read model behind the pages and their JSON twins, always within the
viewer's scope (:mod:`.scoping`). Each function takes a session (a snapshot, see
``Console.page``) and returns rows or plain dicts; none writes."""

from .dongs import dong_grid, dong_measures
from .figures import funnel, kpi_actuals, overview, recent_feed
from .households import alert, household, open_alerts, running_escalations
from .partners import file_jobs, partner_feeds, partner_signal_hours
from .scoping import MONITORED, OPEN_TASK, visible
from .trends import day_two_steps, trend_rows

__all__ = [
    "MONITORED",
    "OPEN_TASK",
    "alert",
    "day_two_steps",
    "dong_grid",
    "dong_measures",
    "file_jobs",
    "funnel",
    "household",
    "kpi_actuals",
    "open_alerts",
    "overview",
    "partner_feeds",
    "partner_signal_hours",
    "recent_feed",
    "running_escalations",
    "trend_rows",
    "visible",
]
