"""The pages' JSON twins (bearer token or the session cookie) and the read-model rebuild."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from anbu_runtime.problems import Problem

from .. import views
from ..domain.scope import EVERYTHING
from ..handlers.rebuild import Rebuilds
from ..views import pages
from .web import Console, snapshot_read


def _jsonable(row: Any) -> Any:
    return row.model_dump(mode="json") if hasattr(row, "model_dump") else row


def router(console: Console, rebuilds: Rebuilds) -> APIRouter:
    web = APIRouter()
    db = console.runtime.db
    now = console.runtime.clock.now
    options = console.options

    @web.get("/api/overview", tags=["console"], summary="The overview figures")
    async def overview_json(request: Request) -> dict[str, Any]:
        scope = console.api_viewer(request).scope or EVERYTHING
        at = now()
        return await snapshot_read(db, lambda s: views.overview(s, scope, at))

    @web.get("/api/alerts", tags=["console"], summary="Open alerts with rule and evidence")
    async def alerts_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        rows = await snapshot_read(db, lambda s: views.open_alerts(s, scope))
        return [_jsonable(r) for r in rows]

    @web.get("/api/escalations", tags=["console"], summary="Running protocols, most urgent first")
    async def escalations_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        rows = await snapshot_read(db, lambda s: views.running_escalations(s, scope))
        return [{**_jsonable(e), "dong_code": dong} for e, dong in rows]

    @web.get("/api/partners", tags=["console"], summary="Partner feeds with the stale flag")
    async def partners_json(request: Request) -> list[dict[str, Any]]:
        console.api_viewer(request)
        data = await snapshot_read(
            db,
            lambda s: pages.partners(
                s, now(), None, options.feed_stale_hours, options.feed_stale_hours_by_kind
            ),
        )
        return [
            {**_jsonable(r["feed"]), "stale": r["stale"], "threshold_s": r["threshold"]}
            for r in data["rows"]
        ]

    @web.get("/api/kpis", tags=["console"], summary="KPI targets, actuals and achievement")
    async def kpis_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        data = await snapshot_read(db, lambda s: pages.kpis(s, scope, options.kpi_targets))
        return [dict(r.__dict__) for r in data["rows"]]

    @web.get("/api/dongs", tags=["console"], summary="Open alerts per 1,000 households by dong")
    async def dongs_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        data = await snapshot_read(db, lambda s: pages.dongs(s, scope))
        cells: list[dict[str, Any]] = data["cells"]
        return cells

    @web.post(
        "/api/rebuild",
        status_code=202,
        tags=["console"],
        summary="Drop the read model and replay the topics from the beginning (admin)",
    )
    async def rebuild_start(request: Request) -> dict[str, Any]:
        viewer = console.api_viewer(request)
        if not viewer.principal.is_admin:
            raise Problem(403, "Forbidden", "only administrators rebuild", type_="forbidden")
        if not rebuilds.start():
            raise Problem(409, "Conflict", "a rebuild is already running", type_="conflict")
        return rebuilds.state.public()

    @web.get("/api/rebuild", tags=["console"], summary="State of the last rebuild")
    async def rebuild_status(request: Request) -> dict[str, Any]:
        console.api_viewer(request)
        return rebuilds.state.public()

    return web
