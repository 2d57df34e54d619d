"""Service-to-service authentication: the deployment's shared service token.

People authenticate through the registry (users, roles and short-lived tokens); services
calling each other's internal endpoints present ``ANBU_SERVICE_TOKEN`` as a bearer token.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, Request

from .problems import Problem


def require_service_token(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> str:
    expected = f"Bearer {request.app.state.service_token}"
    if authorization is None or not secrets.compare_digest(
        authorization.encode(), expected.encode()
    ):
        raise Problem(
            401,
            "Unauthorized",
            "a valid bearer token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return "service"


ServiceCaller = Annotated[str, Depends(require_service_token)]
