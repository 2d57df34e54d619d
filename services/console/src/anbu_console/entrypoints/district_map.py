"""The district map page (``/map``) and its JSON twin (``/api/map``).

Every administrative dong the viewer may see is drawn from the bundled boundary data and
coloured by one measure; counts are per dong, households are never placed. The page lives
inside ``#live``, so the console's event stream recolours it without a reload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from .. import views
from ..adapters.boundaries import ATTRIBUTION, dong_outlines
from ..domain.choropleth import (
    MEASURES,
    frame_for,
    label_at,
    legend,
    measure_or_default,
    step,
    svg_path,
)
from ..domain.grid import alerts_per_thousand
from ..domain.scope import EVERYTHING, Scope
from ..legal_dongs import SHARED, SHARED_NAMES
from ..places import DONG_NAMES
from .web import Console, snapshot_read

EMPTY = {"watched": 0, "open_alerts": 0, "overdue_steps": 0}


def figures(session: Any, scope: Scope, now: datetime, measure: str) -> list[dict[str, Any]]:
    """Every dong the viewer sees (the labelled ones and any with data), with its numbers."""
    measures = views.dong_measures(session, scope, now)
    outlines = dong_outlines()
    codes = sorted({c for c in DONG_NAMES if scope.sees(c)} | set(measures))
    rows = []
    for code in codes:
        counts = measures.get(code, EMPTY)
        rate = alerts_per_thousand(counts["open_alerts"], counts["watched"])
        values: dict[str, float | None] = {**counts, "per_thousand": rate}
        rows.append(
            {
                "dong_code": code,
                **counts,
                "per_thousand": rate,
                "value": values[measure],
                "step": step(measure, values[measure]),
                "on_map": code in outlines,
            }
        )
    return rows


def drawing(rows: list[dict[str, Any]], scope: Scope) -> dict[str, Any]:
    """The SVG: one path per dong with an outline, and the shared legal dongs, uncoloured."""
    outlines = dong_outlines()
    drawn = [r for r in rows if r["on_map"]]
    shared = [
        code for code, dongs in SHARED.items() if code in outlines and any(map(scope.sees, dongs))
    ]
    frame = frame_for(
        [outlines[r["dong_code"]].outline for r in drawn] + [outlines[c].outline for c in shared]
    )
    shapes = []
    for row in drawn:
        outline = outlines[row["dong_code"]]
        x, y = label_at(outline.inside, frame)
        shapes.append({**row, "d": svg_path(outline.outline, frame), "x": x, "y": y})
    return {
        "width": round(frame.width),
        "height": round(frame.height),
        "shapes": shapes,
        "shared": [
            {
                "code": code,
                "names": SHARED_NAMES[code],
                "dongs": [d for d in SHARED[code] if scope.sees(d)],
                "d": svg_path(outlines[code].outline, frame),
            }
            for code in shared
        ],
    }


def router(console: Console) -> APIRouter:
    web = APIRouter()

    @web.get("/map", response_class=HTMLResponse, include_in_schema=False)
    async def map_page(request: Request, measure: str | None = None) -> Response:
        chosen = measure_or_default(measure)
        now = console.runtime.clock.now()

        def read(session: Any, scope: Scope) -> dict[str, Any]:
            rows = figures(session, scope, now, chosen)
            return {"rows": rows, **drawing(rows, scope)}

        return await console.page(
            request,
            "map.html",
            read,
            measure=chosen,
            measures=MEASURES,
            legend=legend(chosen),
            attribution=ATTRIBUTION,
        )

    @web.get(
        "/api/map",
        tags=["console"],
        summary="Per dong: watched households, open alerts, overdue steps, the chosen colour",
    )
    async def map_json(request: Request, measure: str | None = None) -> dict[str, Any]:
        chosen = measure_or_default(measure)
        scope = console.api_viewer(request).scope or EVERYTHING
        now = console.runtime.clock.now()
        rows = await snapshot_read(console.runtime.db, lambda s: figures(s, scope, now, chosen))
        return {"measure": chosen, "dongs": rows}

    return web
