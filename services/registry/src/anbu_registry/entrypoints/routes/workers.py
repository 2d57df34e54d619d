"""Staff: field workers and officials (their snapshots carry no personal data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from anbu_contracts import (
    Role,
    WorkerSnapshot,
)
from anbu_runtime.auth import Caller

from ...domain.model import (
    WorkerChange,
    WorkerIn,
)
from ...handlers import (
    workers,
)
from .transaction import Created, RouteTransactions


def router(tx: RouteTransactions) -> APIRouter:
    api = APIRouter()

    # -- workers -------------------------------------------------------------------

    @api.post("/v1/workers", status_code=201, response_model=Created, tags=["workers"])
    async def create_worker(body: WorkerIn, who: Caller) -> Created:
        return Created(id=await tx.run(lambda uow: workers.register(uow, body, who)))

    @api.get("/v1/workers", response_model=list[WorkerSnapshot], tags=["workers"])
    async def list_workers(
        who: Caller,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        role: Role | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[WorkerSnapshot]:
        return await tx.read(
            lambda repos: workers.listing(
                repos, tx.now(), who, dong_code=dong_code, role=role, limit=limit, offset=offset
            )
        )

    @api.get("/v1/workers/{worker_id}", response_model=WorkerSnapshot, tags=["workers"])
    async def get_worker(
        worker_id: Annotated[str, Field(max_length=32)], who: Caller
    ) -> WorkerSnapshot:
        return await tx.read(lambda repos: workers.get(repos, worker_id, tx.now()))

    @api.patch(
        "/v1/workers/{worker_id}",
        response_model=WorkerSnapshot,
        tags=["workers"],
        summary="Change roles, areas, shifts, duty rosters, load limit, active",
    )
    async def change_worker(
        worker_id: Annotated[str, Field(max_length=32)], body: WorkerChange, who: Caller
    ) -> WorkerSnapshot:
        return await tx.run(lambda uow: workers.change(uow, worker_id, body, who))

    return api
