"""The night duty's printable day sheet (``/escalations/day-sheet``): today's day-2 visits
and checks per dong team, on paper for the morning briefing.

A team is the dong's welfare team (동 복지팀): day-2 visits go out from the dong. The sheet
lists household ids, steps and times only, like every console page (no names or
addresses: the field app shows those to the people assigned).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import views
from ..domain.scope import Scope
from .web import Console


def sheet(session: Any, scope: Scope, day: date, console: Console) -> dict[str, Any]:
    start = datetime.combine(day, time.min, console.zone)
    found = views.day_two_steps(session, scope, start, start + timedelta(days=1))
    teams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for escalation, dong in found["upcoming"]:
        teams[dong or ""].append(
            {
                "household_id": escalation.household_id,
                "protocol_id": escalation.protocol_id,
                "step": escalation.next_step_id,
                "at": escalation.next_step_due_at,
                "task": None,
            }
        )
    for task, dong in found["tasks"]:
        teams[dong or ""].append(
            {
                "household_id": task.household_id,
                "protocol_id": None,
                "step": task.step_id,
                "at": task.deadline,
                "task": task,
            }
        )
    for rows in teams.values():
        rows.sort(key=lambda r: (r["at"], r["household_id"]))
    return {"teams": dict(sorted(teams.items())), "day": day}


def router(console: Console) -> APIRouter:
    web = APIRouter()

    @web.get("/escalations/day-sheet", response_class=HTMLResponse, include_in_schema=False)
    async def day_sheet(request: Request) -> Response:
        today = console.runtime.clock.now().astimezone(console.zone).date()
        return await console.page(
            request, "day_sheet.html", lambda s, scope: sheet(s, scope, today, console)
        )

    return web
