"""Logging in, the caller, and user accounts."""

from __future__ import annotations

import math
import secrets
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from anbu_runtime.auth import Caller, UserRole
from anbu_runtime.problems import Problem
from anbu_runtime.settings import CommonSettings

from ...domain.model import (
    LoginIn,
    UserIn,
)
from ...handlers import (
    users,
)
from .transaction import Created, RouteTransactions


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: UserRole
    user_id: str
    worker_id: str | None
    dong_codes: list[str]


class Me(BaseModel):
    subject: str
    role: UserRole | None
    dong_codes: list[str]
    district_codes: list[str]
    worker_id: str | None


class UserView(BaseModel):
    user_id: str
    username: str
    role: str
    dong_codes: list[str]
    district_codes: list[str]
    worker_id: str | None
    active: bool


LOCKED: dict[str, Any] = {
    "description": "Too many failed logins: locked for the seconds in Retry-After",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
}


def _is_service(request: Request, authorization: str | None) -> bool:
    token = (authorization or "").removeprefix("Bearer ").strip()
    expected: str = request.app.state.service_token
    return bool(token) and secrets.compare_digest(token.encode(), expected.encode())


def router(tx: RouteTransactions, common: CommonSettings) -> APIRouter:
    api = APIRouter()

    # -- authentication ------------------------------------------------------------

    @api.post(
        "/v1/auth/login",
        response_model=Token,
        tags=["auth"],
        summary="Log in; returns a short-lived bearer token",
        description=(
            "Failed logins are counted per account and per client address; past the limits "
            "(docs/registry.md) every attempt, right or wrong, is refused with 429 and "
            "Retry-After until the lock ends or an administrator unlocks the account."
        ),
        responses={401: {"description": "Wrong username or password"}, 429: LOCKED},
    )
    async def login(
        body: LoginIn,
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_anbu_client_address: Annotated[
            str | None,
            Header(
                max_length=64,
                description="The person's address, from a service logging a person in "
                "(the console, the field app); ignored without the service token.",
            ),
        ] = None,
    ) -> Token:
        ttl = timedelta(minutes=common.auth_token_minutes)
        address = request.client.host if request.client else "unknown"
        if x_anbu_client_address and _is_service(request, authorization):
            address = x_anbu_client_address
        outcome = await tx.run(
            lambda uow: users.login(
                uow, body.username, body.password, common.auth_secret, ttl, address
            )
        )
        if isinstance(outcome, users.Refusal):
            if outcome.retry_after is not None:
                seconds = max(1, math.ceil(outcome.retry_after.total_seconds()))
                raise Problem(
                    429,
                    "Too many failed logins",
                    "too many failed logins for this account or from this address; "
                    "try again later or ask an administrator to unlock the account",
                    type_="login-locked",
                    extensions={"retry_after": seconds},
                    headers={"Retry-After": str(seconds)},
                )
            raise Problem(401, "Unauthorized", "wrong username or password", type_="login-failed")
        token, who = outcome
        assert who.role is not None
        return Token(
            access_token=token,
            expires_in=int(ttl.total_seconds()),
            role=who.role,
            user_id=who.subject,
            worker_id=who.worker_id,
            dong_codes=sorted(who.dong_codes),
        )

    @api.get("/v1/auth/me", response_model=Me, tags=["auth"])
    async def me(who: Caller) -> Me:
        return Me(
            subject=who.subject,
            role=who.role,
            dong_codes=sorted(who.dong_codes),
            district_codes=sorted(who.district_codes),
            worker_id=who.worker_id,
        )

    @api.post("/v1/users", status_code=201, response_model=Created, tags=["auth"])
    async def create_user(body: UserIn, who: Caller) -> Created:
        return Created(id=await tx.run(lambda uow: users.create(uow, body, who)))

    @api.post(
        "/v1/users/{user_id}/unlock",
        status_code=204,
        tags=["auth"],
        summary="Lift an account's login lock and forget its failed logins (admin, audited)",
    )
    async def unlock_user(user_id: Annotated[str, Field(max_length=32)], who: Caller) -> Response:
        await tx.run(lambda uow: users.unlock(uow, user_id, who))
        return Response(status_code=204)

    @api.get("/v1/users", response_model=list[UserView], tags=["auth"])
    async def list_users(who: Caller) -> list[UserView]:
        return await tx.read_rows(UserView, lambda repos: users.listing(repos, who))

    return api
