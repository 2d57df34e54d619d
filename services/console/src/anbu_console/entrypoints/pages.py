"""The operators' pages (overview, protocols, alerts, households, partners, KPIs, dongs)
and the live stream (``/events``, server-sent events) that updates them without a reload."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sse_starlette.sse import EventSourceResponse

from .. import views
from ..views import pages
from .web import Console


def valid_dong(dong: str | None) -> str | None:
    """A 10-digit legal dong code, or None (anything else in the query is ignored)."""
    return dong if dong and dong.isdigit() and len(dong) == 10 else None


def router(console: Console) -> APIRouter:
    web = APIRouter()
    now = console.runtime.clock.now
    options = console.options

    @web.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def overview_page(request: Request) -> Response:
        return await console.page(
            request, "overview.html", lambda s, scope: pages.overview_page(s, scope, now())
        )

    @web.get("/escalations", response_class=HTMLResponse, include_in_schema=False)
    async def escalation_board(
        request: Request, dong: str | None = None, protocol: str | None = None
    ) -> Response:
        dong_code = valid_dong(dong)
        protocol_id = protocol[:64] if protocol else None
        return await console.page(
            request,
            "escalations.html",
            lambda s, scope: pages.board(s, scope, now(), dong_code, protocol_id),
        )

    @web.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    async def alerts_page(request: Request, dong: str | None = None) -> Response:
        dong_code = valid_dong(dong)
        return await console.page(
            request,
            "alerts.html",
            lambda s, scope: {"alerts": views.open_alerts(s, scope, dong_code=dong_code)},
            dong_code=dong_code,
        )

    @web.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    async def alert_page(request: Request, alert_id: UUID) -> Response:
        return await console.page(
            request, "alert.html", lambda s, scope: views.alert(s, scope, alert_id)
        )

    @web.get("/households/{household_id}", response_class=HTMLResponse, include_in_schema=False)
    async def household_page(request: Request, household_id: str) -> Response:
        return await console.page(
            request,
            "household.html",
            lambda s, scope: views.household(s, scope, household_id[:32]),
            household_id=household_id[:32],
        )

    @web.get("/partners", response_class=HTMLResponse, include_in_schema=False)
    async def partners_page(request: Request, stale_hours: float | None = None) -> Response:
        hours = stale_hours if stale_hours is not None and 0 < stale_hours <= 24 * 90 else None
        return await console.page(
            request,
            "partners.html",
            lambda s, _scope: (
                pages.partners(
                    s, now(), hours, options.feed_stale_hours, options.feed_stale_hours_by_kind
                )
                | {"jobs": views.file_jobs(s, now())}
            ),
        )

    @web.get("/kpis", response_class=HTMLResponse, include_in_schema=False)
    async def kpis_page(request: Request) -> Response:
        return await console.page(
            request, "kpis.html", lambda s, scope: pages.kpis(s, scope, options.kpi_targets)
        )

    @web.get("/dongs", response_class=HTMLResponse, include_in_schema=False)
    async def dongs_page(request: Request) -> Response:
        return await console.page(request, "dongs.html", pages.dongs)

    @web.get("/events", include_in_schema=False)
    async def events(request: Request) -> Response:
        viewer = console.page_viewer(request)
        if viewer is None or viewer.scope is None:
            return Response(status_code=401)
        scope = viewer.scope

        async def stream() -> AsyncIterator[dict[str, str]]:
            async with console.hub.subscribe() as queue:
                yield {"event": "hello", "data": "{}"}
                while True:
                    change = await queue.get()
                    # file jobs are not a household's: every role sees them, as the feeds
                    if change.kind != "job" and not scope.sees(change.dong_code):
                        continue
                    yield {
                        "event": change.kind,
                        "data": json.dumps(
                            {
                                "household_id": change.household_id,
                                "ref": change.ref,
                                "summary": change.summary,
                            }
                        ),
                    }

        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

    return web
