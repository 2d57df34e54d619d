"""Who is calling: a person with a role and an area, or another service.

People log in at the registry, which issues short-lived signed tokens (JWT, HS256, shared
``ANBU_AUTH_SECRET``) naming the user's role and the dongs or districts they serve; every
service verifies them locally. Services calling each other's internal endpoints present
``ANBU_SERVICE_TOKEN`` instead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, Request

from .problems import Problem

ISSUER = "anbu-registry"


class UserRole(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"  # district hub (희망복지지원단): the districts it serves
    DONG_OFFICIAL = "dong_official"  # dong welfare staff (복지플래너): their dongs
    FIELD_WORKER = "field_worker"  # nurses, case managers, life-support workers
    VOLUNTEER = "volunteer"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: UserRole | None = None
    dong_codes: frozenset[str] = field(default_factory=frozenset)
    district_codes: frozenset[str] = field(default_factory=frozenset)
    worker_id: str | None = None
    is_service: bool = False

    @property
    def is_admin(self) -> bool:
        return self.is_service or self.role is UserRole.ADMIN

    def sees_dong(self, dong_code: str) -> bool:
        """Whether this caller's area includes ``dong_code``."""
        if self.is_admin:
            return True
        if self.role is UserRole.OPERATOR:
            return dong_code[:5] in self.district_codes
        return dong_code in self.dong_codes

    def has_role(self, *roles: UserRole) -> bool:
        return self.is_admin or self.role in roles


SERVICE = Principal(subject="service", is_service=True)


def issue_token(secret: str, principal: Principal, ttl: timedelta, now: datetime) -> str:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "sub": principal.subject,
        "role": principal.role.value if principal.role else None,
        "dongs": sorted(principal.dong_codes),
        "districts": sorted(principal.district_codes),
        "wid": principal.worker_id,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_token(secret: str, token: str, now: datetime | None = None) -> Principal:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"], "verify_exp": now is None},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    if now is not None and claims["exp"] < now.timestamp():
        raise _unauthorized("token expired")
    try:
        role = UserRole(claims["role"]) if claims.get("role") else None
    except ValueError as exc:  # signed, but by a registry that knows other roles
        raise _unauthorized("unknown role in token") from exc
    return Principal(
        subject=claims["sub"],
        role=role,
        dong_codes=frozenset(claims.get("dongs") or ()),
        district_codes=frozenset(claims.get("districts") or ()),
        worker_id=claims.get("wid"),
    )


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401, "Unauthorized", detail, type_="unauthenticated", headers={"WWW-Authenticate": "Bearer"}
    )


def _bearer(authorization: str | None) -> str:
    token = (authorization or "").removeprefix("Bearer ").strip()
    # An empty token is no token (it would equal an unset service token).
    if not authorization or not authorization.startswith("Bearer ") or not token:
        raise _unauthorized("a bearer token is required")
    return token


def require_service_token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    token = _bearer(authorization)
    if not secrets.compare_digest(token.encode(), request.app.state.service_token.encode()):
        raise _unauthorized("a valid service token is required")
    return "service"


def require_principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    """A person (verified token) or a service (the service token)."""
    token = _bearer(authorization)
    if secrets.compare_digest(token.encode(), request.app.state.service_token.encode()):
        return SERVICE
    return verify_token(request.app.state.auth_secret, token)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail, type_="forbidden")


ServiceCaller = Annotated[str, Depends(require_service_token)]
Caller = Annotated[Principal, Depends(require_principal)]
