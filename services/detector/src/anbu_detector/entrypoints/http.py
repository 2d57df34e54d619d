"""Read-only HTTP views of the detector's state (operators and tests)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from anbu_runtime.service import ServiceRuntime

from ..adapters.orm import Repository


def router(runtime: ServiceRuntime) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["detector"])

    @api.get("/alerts", summary="Open alerts with the rule and evidence that decided them")
    async def open_alerts(limit: int = 200) -> list[dict[str, Any]]:
        def read(session: Any) -> list[dict[str, Any]]:
            return [
                {
                    "alert_id": str(a.alert_id),
                    "household_id": a.household_id,
                    "reason": a.reason.value,
                    "severity": a.severity.value,
                    "opened_at": a.opened_at.isoformat(),
                    "rule": a.rule.model_dump(mode="json"),
                    "evidence": [e.model_dump(mode="json") for e in a.evidence],
                    "protocol_id": a.protocol_id,
                }
                for a in Repository(session).open_alerts(min(max(limit, 1), 1000))
            ]

        return await runtime.db.run(read)

    return api
