"""What other services ask: recipients' addresses, reporter lookups, and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from anbu_contracts import (
    RecipientRef,
)
from anbu_runtime.auth import Caller
from anbu_runtime.problems import Problem

from ...domain.model import (
    Address,
)
from ...handlers import (
    recipients,
    reporter_lookups,
)
from .transaction import RouteTransactions


class ReporterLookupIn(BaseModel):
    """What a safety-net reporter typed, sent by the gateway on the reporter's behalf."""

    invitation_id: str = Field(pattern=r"^INV-[0-9A-Z]{4,28}$")
    reporter_role: str = Field(pattern=r"^[a-z_]{2,32}$")
    lookup_kind: reporter_lookups.LookupKind
    value: str = Field(min_length=7, max_length=40)


class ReporterLookupOut(BaseModel):
    """For the gateway only: the reporter is never told whether anybody was found."""

    matched: bool
    household_id: str | None = None
    dong_code: str | None = None


class ResolveRequest(BaseModel):
    recipient: RecipientRef
    purpose: str = Field(max_length=256)


class ResolveResponse(BaseModel):
    recipients: list[Address]


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    action: str
    subject: str
    purpose: str
    detail: dict[str, Any]


def router(tx: RouteTransactions) -> APIRouter:
    api = APIRouter()

    @api.post(
        "/internal/v1/reporter-lookups",
        response_model=ReporterLookupOut,
        tags=["internal"],
        summary="The household a safety-net reporter named (the gateway's call, audited)",
    )
    async def reporter_lookup(body: ReporterLookupIn, who: Caller) -> ReporterLookupOut:
        if not who.is_service:
            raise Problem(
                403, "Forbidden", "only services look up for reporters", type_="forbidden"
            )
        found = await tx.run(
            lambda uow: reporter_lookups.look_up(
                uow,
                invitation_id=body.invitation_id,
                reporter_role=body.reporter_role,
                lookup_kind=body.lookup_kind,
                value=body.value,
            )
        )
        return ReporterLookupOut(
            matched=found.household_id is not None,
            household_id=found.household_id,
            dong_code=found.dong_code,
        )

    # -- recipients, audit, imports ------------------------------------------------

    @api.post(
        "/internal/v1/recipients/resolve",
        response_model=ResolveResponse,
        tags=["internal"],
        summary="Addresses for a recipient reference (audited)",
    )
    async def resolve(body: ResolveRequest, who: Caller) -> ResolveResponse:
        found = await tx.run(lambda uow: recipients.resolve(uow, body.recipient, who, body.purpose))
        return ResolveResponse(recipients=found)

    @api.get("/v1/audit", response_model=list[AuditEntry], tags=["audit"])
    async def audit(
        who: Caller,
        subject: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditEntry]:
        if not who.is_admin:
            raise Problem(
                403, "Forbidden", "only administrators read the audit log", type_="forbidden"
            )

        return await tx.read_rows(AuditEntry, lambda repos: repos.audit_log(subject, limit))

    return api
