"""The registry's REST API (operators and other services)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import Session

from anbu_contracts import HouseholdSnapshot, RecipientRef, WorkerSnapshot
from anbu_runtime.auth import ServiceCaller as Caller
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..domain.model import Address, HouseholdIn, WorkerIn
from ..handlers import Conflict, NotFound, Registry

T = TypeVar("T")


class Created(BaseModel):
    id: str


class ResolveRequest(BaseModel):
    recipient: RecipientRef
    purpose: str


class ResolveResponse(BaseModel):
    recipients: list[Address]


class AuditEntry(BaseModel):
    at: str
    actor: str
    action: str
    subject: str
    purpose: str
    detail: dict[str, Any]


def router(runtime: ServiceRuntime, registry: Registry) -> APIRouter:
    api = APIRouter()

    async def run(fn: Callable[[Session], T]) -> T:
        try:
            result = await runtime.db.run(fn)
        except NotFound as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc)) from exc
        runtime.outbox.notify()
        return result

    @api.post("/v1/households", status_code=201, response_model=Created, tags=["households"])
    async def create_household(body: HouseholdIn, actor: Caller) -> Created:
        return Created(id=await run(lambda s: registry.register_household(s, body, actor)))

    @api.get(
        "/v1/households/{household_id}",
        response_model=HouseholdSnapshot,
        tags=["households"],
        summary="A household's current snapshot (no personal data)",
    )
    async def get_household(household_id: str, actor: Caller) -> HouseholdSnapshot:
        return await run(lambda s: registry.household(s, household_id))

    @api.post("/v1/workers", status_code=201, response_model=Created, tags=["workers"])
    async def create_worker(body: WorkerIn, actor: Caller) -> Created:
        return Created(id=await run(lambda s: registry.register_worker(s, body, actor)))

    @api.get("/v1/workers", response_model=list[WorkerSnapshot], tags=["workers"])
    async def list_workers(actor: Caller) -> list[WorkerSnapshot]:
        return await run(registry.workers)

    @api.post(
        "/internal/v1/recipients/resolve",
        response_model=ResolveResponse,
        tags=["internal"],
        summary="Addresses for a recipient reference (audited)",
    )
    async def resolve(body: ResolveRequest, actor: Caller) -> ResolveResponse:
        found = await run(lambda s: registry.resolve(s, body.recipient, actor, body.purpose))
        return ResolveResponse(recipients=found)

    @api.get("/v1/audit", response_model=list[AuditEntry], tags=["audit"])
    async def audit(
        actor: Caller,
        subject: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditEntry]:
        rows = await run(lambda s: registry.audit_entries(s, subject, limit))
        return [
            AuditEntry(
                at=r.at.isoformat(),
                actor=r.actor,
                action=r.action,
                subject=r.subject,
                purpose=r.purpose,
                detail=r.detail,
            )
            for r in rows
        ]

    return api
