"""Logging in with a registry account: the token goes into an HttpOnly, SameSite=Strict
cookie; the registry's answers (refused, locked, down) become the login page's messages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from anbu_runtime.logs import get_logger
from anbu_runtime.web_login import login_status

from ..adapters.registry_client import LoginLocked, RegistryUnavailable
from .web import COOKIES, SESSION_COOKIE, Console

log = get_logger(__name__)


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def login_page(console: Console, request: Request, error: str | None = None) -> HTMLResponse:
    nonce = COOKIES.new_nonce()
    response = console.render(
        request,
        "login.html",
        status=login_status(error),
        error=error,
        csrf=nonce,
        next=_safe_next(request.query_params.get("next")),
    )
    COOKIES.issue_nonce(request, response, nonce)
    return response


async def login(console: Console, request: Request) -> Response:
    sent = await COOKIES.credentials(request)
    if isinstance(sent, str):
        return login_page(console, request, sent)
    username, password, next_page = sent
    try:
        login = await console.registry.login(
            username, password, request.client.host if request.client else None
        )
    except LoginLocked:
        log.info("console login locked")
        return login_page(console, request, "login_locked")
    except RegistryUnavailable:
        return login_page(console, request, "registry_down")
    if login is None:
        log.info("console login refused")
        return login_page(console, request, "login_failed")
    response = RedirectResponse(_safe_next(next_page), status_code=303)
    COOKIES.start_session(request, response, login)
    log.info("console login", role=login.role)
    return response


def router(console: Console) -> APIRouter:
    web = APIRouter()

    @web.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_form(request: Request) -> Response:
        return login_page(console, request)

    @web.post("/login", include_in_schema=False)
    async def login_post(request: Request) -> Response:
        return await login(console, request)

    @web.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    return web
