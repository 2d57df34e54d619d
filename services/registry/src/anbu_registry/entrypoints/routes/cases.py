"""Welfare cases: open, move through the workflow, assess, plan and link services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_runtime.auth import Caller
from anbu_runtime.service import ServiceRuntime

from ...domain.cases import CaseState
from ...domain.model import (
    AssessmentIn,
    CaseIn,
    GoalIn,
    LinkageIn,
    TransitionIn,
)
from ...handlers import (
    cases,
)
from ...handlers.common import Context
from .transaction import Created, in_transaction


class CaseView(BaseModel):
    case_id: str
    household_id: str
    dong_code: str
    state: str
    level: str | None
    opened_at: datetime
    closed_at: datetime | None
    closure_reason: str | None
    manager_worker_id: str | None
    source: str


class CaseEventView(BaseModel):
    at: datetime
    actor: str
    kind: str
    detail: dict[str, Any]


class CaseDetail(CaseView):
    history: list[CaseEventView]


def router(runtime: ServiceRuntime, ctx: Context) -> APIRouter:
    api = APIRouter()
    run = in_transaction(runtime)

    # -- cases ---------------------------------------------------------------------

    def case_detail(row: Any, history: Any) -> CaseDetail:
        return CaseDetail(
            **CaseView.model_validate(row, from_attributes=True).model_dump(),
            history=[CaseEventView.model_validate(e, from_attributes=True) for e in history],
        )

    @api.post("/v1/cases", status_code=201, response_model=Created, tags=["cases"])
    async def open_case(body: CaseIn, who: Caller) -> Created:
        return Created(id=await run(lambda s: cases.open_case(ctx, s, body, who)))

    @api.get("/v1/cases", response_model=list[CaseView], tags=["cases"])
    async def search_cases(
        who: Caller,
        state: CaseState | None = None,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[CaseView]:
        rows = await run(
            lambda s: cases.search(
                s, who, state=state, dong_code=dong_code, limit=limit, offset=offset
            )
        )
        return [CaseView.model_validate(r, from_attributes=True) for r in rows]

    @api.get("/v1/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
    async def get_case(case_id: Annotated[str, Field(max_length=32)], who: Caller) -> CaseDetail:
        row, history = await run(lambda s: cases.get(s, case_id, who))
        return case_detail(row, history)

    @api.post(
        "/v1/cases/{case_id}/transitions",
        response_model=CaseView,
        tags=["cases"],
        summary="Move a case; illegal moves are refused with 409 and the allowed ones",
    )
    async def transition(
        case_id: Annotated[str, Field(max_length=32)], body: TransitionIn, who: Caller
    ) -> CaseView:
        row = await run(lambda s: cases.move(ctx, s, case_id, body, who))
        return CaseView.model_validate(row, from_attributes=True)

    @api.post("/v1/cases/{case_id}/assessments", status_code=204, tags=["cases"])
    async def assess(
        case_id: Annotated[str, Field(max_length=32)], body: AssessmentIn, who: Caller
    ) -> Response:
        await run(lambda s: cases.assess(ctx, s, case_id, body, who))
        return Response(status_code=204)

    @api.post("/v1/cases/{case_id}/goals", status_code=204, tags=["cases"])
    async def add_goal(
        case_id: Annotated[str, Field(max_length=32)], body: GoalIn, who: Caller
    ) -> Response:
        await run(lambda s: cases.add_goal(ctx, s, case_id, body, who))
        return Response(status_code=204)

    @api.post(
        "/v1/cases/{case_id}/linkages",
        status_code=201,
        response_model=Created,
        tags=["cases"],
        summary="Link a service (emergency aid: not twice in 2 years)",
    )
    async def link(
        case_id: Annotated[str, Field(max_length=32)], body: LinkageIn, who: Caller
    ) -> Created:
        return Created(id=str(await run(lambda s: cases.link_service(ctx, s, case_id, body, who))))

    return api
