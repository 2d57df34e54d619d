"""Tokens: only a registry-signed, unexpired HS256 token names a person; anything else is 401."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi import FastAPI

from anbu_runtime.auth import (
    ISSUER,
    SERVICE,
    Caller,
    Principal,
    UserRole,
    issue_token,
    verify_token,
)
from anbu_runtime.problems import Problem, install_problem_handlers

SECRET = "unit-test-secret-0123456789abcdef0123456789"
NOW = datetime.now(UTC)
OFFICIAL = Principal(
    subject="u-7",
    role=UserRole.DONG_OFFICIAL,
    dong_codes=frozenset({"1111051500"}),
    worker_id=None,
)


def claims(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "iss": ISSUER,
        "sub": "u-7",
        "role": "admin",
        "dongs": [],
        "districts": [],
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=30)).timestamp()),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def refused(token: str, now: datetime | None = None) -> Problem:
    with pytest.raises(Problem) as caught:
        verify_token(SECRET, token, now)
    assert caught.value.status == 401
    return caught.value


def test_a_token_the_registry_signed_names_the_person_and_their_area() -> None:
    token = issue_token(SECRET, OFFICIAL, timedelta(minutes=30), NOW)
    assert verify_token(SECRET, token) == OFFICIAL


def test_an_unsigned_alg_none_token_is_refused() -> None:
    refused(jwt.encode(claims(), key=None, algorithm="none"))
    # the same, hand-made with an empty signature (what an attacker would send)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode())
    refused(f"{header.decode().rstrip('=')}.{body.decode().rstrip('=')}.")


def test_garbage_is_refused() -> None:
    for token in ("garbage", "", "a.b.c", "Bearer x", "e30.e30.e30"):
        refused(token)


def test_an_expired_token_is_refused_on_the_wall_clock_and_on_a_given_clock() -> None:
    old = issue_token(SECRET, OFFICIAL, timedelta(minutes=30), NOW - timedelta(hours=2))
    assert "expired" in refused(old).detail.lower()
    fresh = issue_token(SECRET, OFFICIAL, timedelta(minutes=30), NOW)
    refused(fresh, now=NOW + timedelta(hours=1))


def test_a_token_signed_with_another_secret_or_algorithm_or_issuer_is_refused() -> None:
    refused(jwt.encode(claims(), "another-secret-0123456789abcdef0123456789", algorithm="HS256"))
    refused(jwt.encode(claims(), SECRET, algorithm="HS512"))
    refused(jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"))


def test_a_token_without_expiry_or_subject_is_refused() -> None:
    refused(jwt.encode(claims(exp=None), SECRET, algorithm="HS256"))
    refused(jwt.encode(claims(sub=None), SECRET, algorithm="HS256"))


def test_a_signed_token_with_an_unknown_role_is_refused_not_a_server_error() -> None:
    refused(jwt.encode(claims(role="superuser"), SECRET, algorithm="HS256"))


def _app(service_token: str) -> FastAPI:
    app = FastAPI()
    app.state.service_token = service_token
    app.state.auth_secret = SECRET
    install_problem_handlers(app)

    @app.get("/who")
    async def who(caller: Caller) -> dict[str, object]:
        return {"subject": caller.subject, "service": caller.is_service}

    return app


async def _call(app: FastAPI, authorization: str | None) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.get("/who", headers=headers)


async def test_require_principal_takes_the_service_token_or_a_signed_token_only() -> None:
    app = _app("the-service-token")
    assert (await _call(app, "Bearer the-service-token")).json() == {
        "subject": SERVICE.subject,
        "service": True,
    }
    token = issue_token(SECRET, OFFICIAL, timedelta(minutes=30), NOW)
    assert (await _call(app, f"Bearer {token}")).json()["subject"] == "u-7"
    unsigned = jwt.encode(claims(), key=None, algorithm="none")
    for authorization in (None, "", "Bearer", "Bearer ", "Basic dTpw", f"Bearer {unsigned}"):
        answer = await _call(app, authorization)
        assert answer.status_code == 401, authorization
        assert answer.headers["content-type"].startswith("application/problem+json")


async def test_an_empty_bearer_never_matches_an_unset_service_token() -> None:
    """A deployment that forgot ANBU_SERVICE_TOKEN must not let an empty token in."""
    assert (await _call(_app(""), "Bearer ")).status_code == 401
    assert (await _call(_app(""), "Bearer  ")).status_code == 401
