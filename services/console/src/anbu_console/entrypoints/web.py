"""The operators' pages and their JSON twins."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from anbu_runtime.service import ServiceRuntime

from .. import projections
from ..i18n import translator

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
SEOUL = ZoneInfo("Asia/Seoul")


def _local(value: datetime | None) -> str:
    return value.astimezone(SEOUL).strftime("%m-%d %H:%M") if value else "-"


TEMPLATES.env.filters["local"] = _local


def router(runtime: ServiceRuntime) -> APIRouter:
    web = APIRouter()

    @web.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def overview_page(request: Request, lang: str = "ko") -> HTMLResponse:
        lang = "en" if lang == "en" else "ko"

        def read(session: Any) -> dict[str, Any]:
            return {
                "overview": projections.overview(session),
                "alerts": [a.model_dump() for a in projections.open_alerts(session)],
                "escalations": [e.model_dump() for e in projections.running_escalations(session)],
                "feed": [f.model_dump() for f in projections.recent_feed(session)],
            }

        context = await runtime.db.run(read)
        return TEMPLATES.TemplateResponse(
            request, "overview.html", {"lang": lang, "t": translator(lang), **context}
        )

    @web.get("/api/overview", tags=["console"], summary="The overview figures as JSON")
    async def overview_json() -> dict[str, Any]:
        return await runtime.db.run(projections.overview)

    @web.get("/api/alerts", tags=["console"], summary="Open alerts with rule and evidence")
    async def alerts_json() -> list[dict[str, Any]]:
        rows = await runtime.db.run(projections.open_alerts)
        return [r.model_dump(mode="json") for r in rows]

    @web.get("/api/escalations", tags=["console"], summary="Running protocols")
    async def escalations_json() -> list[dict[str, Any]]:
        rows = await runtime.db.run(projections.running_escalations)
        return [r.model_dump(mode="json") for r in rows]

    return web
