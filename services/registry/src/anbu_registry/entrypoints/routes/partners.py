"""Partners and their API keys (the gateway verifies keys here)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_runtime.auth import Caller
from anbu_runtime.problems import Problem

from ...domain.model import (
    ApiKeyIn,
    PartnerIn,
)
from ...handlers import (
    partners,
)
from .transaction import Created, RouteTransactions


class PartnerView(BaseModel):
    partner_id: str
    organisation: str
    allowed_kinds: list[str]
    rate_limit_per_minute: int
    active: bool


class KeyIssued(BaseModel):
    key_id: str
    api_key: str = Field(description="Shown once: store it now, it cannot be read again.")
    expires_at: datetime | None


class KeyView(BaseModel):
    key_id: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class VerifyIn(BaseModel):
    api_key: str = Field(max_length=200)


class VerifyOut(BaseModel):
    partner_id: str
    key_id: str
    allowed_kinds: list[str]
    rate_limit_per_minute: int


def router(tx: RouteTransactions) -> APIRouter:
    api = APIRouter()

    # -- partners ------------------------------------------------------------------

    @api.post("/v1/partners", status_code=201, response_model=Created, tags=["partners"])
    async def create_partner(body: PartnerIn, who: Caller) -> Created:
        return Created(id=await tx.run(lambda uow: partners.create(uow, body, who)))

    @api.get("/v1/partners", response_model=list[PartnerView], tags=["partners"])
    async def list_partners(who: Caller) -> list[PartnerView]:
        return await tx.read_rows(PartnerView, lambda repos: partners.listing(repos, who))

    @api.post(
        "/v1/partners/{partner_id}/keys",
        status_code=201,
        response_model=KeyIssued,
        tags=["partners"],
        summary="Issue an API key (shown once)",
    )
    async def issue_key(
        partner_id: Annotated[str, Field(max_length=64)], body: ApiKeyIn, who: Caller
    ) -> KeyIssued:
        issued = await tx.run(lambda uow: partners.issue_key(uow, partner_id, body, who))
        return KeyIssued(key_id=issued.key_id, api_key=issued.api_key, expires_at=issued.expires_at)

    @api.get("/v1/partners/{partner_id}/keys", response_model=list[KeyView], tags=["partners"])
    async def list_keys(
        partner_id: Annotated[str, Field(max_length=64)], who: Caller
    ) -> list[KeyView]:
        return await tx.read_rows(KeyView, lambda repos: partners.keys_of(repos, partner_id, who))

    @api.delete(
        "/v1/partner-keys/{key_id}",
        status_code=204,
        tags=["partners"],
        summary="Revoke a key at once",
    )
    async def revoke_key(key_id: Annotated[str, Field(max_length=32)], who: Caller) -> Response:
        await tx.run(lambda uow: partners.revoke_key(uow, key_id, who))
        return Response(status_code=204)

    @api.post(
        "/internal/v1/partner-keys/verify",
        response_model=VerifyOut,
        tags=["internal"],
        summary="Which partner a key belongs to (the gateway's call)",
    )
    async def verify_key(body: VerifyIn, who: Caller) -> VerifyOut:
        if not who.is_service:
            raise Problem(403, "Forbidden", "only services verify partner keys", type_="forbidden")
        found = await tx.run(lambda uow: partners.verify(uow, body.api_key))
        if found is None:
            raise Problem(401, "Unauthorized", "unknown, expired or revoked key", type_="bad-key")
        return VerifyOut(
            partner_id=found.partner_id,
            key_id=found.key_id,
            allowed_kinds=[k.value for k in found.allowed_kinds],
            rate_limit_per_minute=found.rate_limit_per_minute,
        )

    return api
