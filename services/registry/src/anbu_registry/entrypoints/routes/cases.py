"""Welfare cases: open, move through the workflow, assess, plan and link services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_runtime.auth import Caller

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
from .transaction import Created, RouteTransactions


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


def router(tx: RouteTransactions) -> APIRouter:
    api = APIRouter()

    # -- cases ---------------------------------------------------------------------

    def case_detail(row: Any, history: Any) -> CaseDetail:
        return CaseDetail(
            **CaseView.model_validate(row, from_attributes=True).model_dump(),
            history=[CaseEventView.model_validate(e, from_attributes=True) for e in history],
        )

    @api.post("/v1/cases", status_code=201, response_model=Created, tags=["cases"])
    async def open_case(body: CaseIn, who: Caller) -> Created:
        return Created(id=await tx.run(lambda uow: cases.open_case(uow, body, who)))

    @api.get("/v1/cases", response_model=list[CaseView], tags=["cases"])
    async def search_cases(
        who: Caller,
        state: CaseState | None = None,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[CaseView]:
        return await tx.read_rows(
            CaseView,
            lambda repos: cases.search(
                repos, who, state=state, dong_code=dong_code, limit=limit, offset=offset
            ),
        )

    @api.get("/v1/cases/{case_id}", response_model=CaseDetail, tags=["cases"])
    async def get_case(case_id: Annotated[str, Field(max_length=32)], who: Caller) -> CaseDetail:
        return await tx.read(lambda repos: case_detail(*cases.get(repos, case_id, who)))

    @api.post(
        "/v1/cases/{case_id}/transitions",
        response_model=CaseView,
        tags=["cases"],
        summary="Move a case; illegal moves are refused with 409 and the allowed ones",
    )
    async def transition(
        case_id: Annotated[str, Field(max_length=32)], body: TransitionIn, who: Caller
    ) -> CaseView:
        row = await tx.run(lambda uow: cases.move(uow, case_id, body, who))
        return CaseView.model_validate(row, from_attributes=True)

    @api.post("/v1/cases/{case_id}/assessments", status_code=204, tags=["cases"])
    async def assess(
        case_id: Annotated[str, Field(max_length=32)], body: AssessmentIn, who: Caller
    ) -> Response:
        await tx.run(lambda uow: cases.assess(uow, case_id, body, who))
        return Response(status_code=204)

    @api.post("/v1/cases/{case_id}/goals", status_code=204, tags=["cases"])
    async def add_goal(
        case_id: Annotated[str, Field(max_length=32)], body: GoalIn, who: Caller
    ) -> Response:
        await tx.run(lambda uow: cases.add_goal(uow, case_id, body, who))
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
        return Created(
            id=str(await tx.run(lambda uow: cases.link_service(uow, case_id, body, who)))
        )

    return api
