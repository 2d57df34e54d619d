"""The field app: mobile-first pages for field staff, served by outreach (Jinja2, no
external assets, no build step). Korean by default, English with ``?lang=en``.

A person logs in with their registry account (outreach posts the credentials to the
registry and keeps the returned token in an HttpOnly, SameSite=Strict cookie, Secure off
localhost); every form carries a CSRF token derived from the session. The address of a
task's household is fetched from the registry with the worker's own token, and only after
they accepted the task; outreach never stores or logs it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from anbu_runtime.auth import Principal, verify_token
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.problems import Problem
from anbu_runtime.web_login import LoginCookies, login_status, secure

from ..adapters.registry_client import (
    LoginLocked,
    RegistryClient,
    RegistryUnavailable,
)
from ..domain.availability import zone
from .field_tasks import FieldTasks
from .i18n import labeller, pick_language, translator
from .service import TaskService

log = get_logger(__name__)

SESSION_COOKIE = "anbu_session"
LANG_COOKIE = "anbu_lang"
LOGIN_CSRF_COOKIE = "anbu_login_csrf"
COOKIES = LoginCookies(
    session=SESSION_COOKIE, nonce=LOGIN_CSRF_COOKIE, login_path="/app/login", session_path="/app"
)
NOTICES = frozenset(
    {"done_accepted", "done_declined", "done_started", "done_outcome", "conflict", "csrf"}
)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class FieldApp:
    def __init__(
        self,
        service: TaskService,
        registry: RegistryClient,
        auth_secret: str,
        clock: Clock,
        timezone: str,
    ) -> None:
        self.service = service
        self.registry = registry
        self.secret = auth_secret.encode()
        self.clock = clock
        self.timezone = timezone
        self.tasks = FieldTasks(self)
        self.env = Environment(
            loader=PackageLoader("anbu_outreach", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- pieces ----------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))

    def session(self, request: Request) -> tuple[str, Principal] | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            return token, verify_token(self.secret.decode(), token)
        except Problem:
            return None

    def csrf_for(self, token: str) -> str:
        return hmac.new(self.secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:32]

    def csrf_ok(self, token: str, sent: object) -> bool:
        return isinstance(sent, str) and hmac.compare_digest(self.csrf_for(token), sent)

    def local(self, instant: datetime) -> str:
        return instant.astimezone(zone(self.timezone)).strftime("%m-%d %H:%M")

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        lang = self.lang(request)
        html = self.env.get_template(template).render(
            lang=lang,
            t=translator(lang),
            label=labeller(lang),
            local=self.local,
            now=self.clock.now(),
            path=request.url.path,
            **values,
        )
        response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
        if request.query_params.get("lang") in ("ko", "en"):
            response.set_cookie(
                LANG_COOKIE,
                lang,
                max_age=365 * 86400,
                httponly=True,
                samesite="strict",
                secure=secure(request),
            )
        return response

    def message(self, request: Request, token: str, status: int, message: str) -> HTMLResponse:
        """A page with one message (no such task, no worker for this account)."""
        return self.render(
            request, "message.html", status=status, message=message, csrf=self.csrf_for(token)
        )

    def to_login(self, request: Request) -> RedirectResponse:
        return RedirectResponse(f"/app/login?next={quote(request.url.path)}", status_code=303)

    def notice(self, request: Request) -> str | None:
        value = request.query_params.get("notice")
        return value if value in NOTICES else None

    # -- pages -----------------------------------------------------------------------

    async def login_page(self, request: Request, error: str | None = None) -> HTMLResponse:
        nonce = COOKIES.new_nonce()
        response = self.render(
            request,
            "login.html",
            status=login_status(error),
            error=error,
            csrf=nonce,
            next=_safe_next(request.query_params.get("next")),
        )
        COOKIES.issue_nonce(request, response, nonce)
        return response

    async def login(self, request: Request) -> Response:
        sent = await COOKIES.credentials(request)
        if isinstance(sent, str):
            return await self.login_page(request, sent)
        username, password, next_page = sent
        try:
            login = await self.registry.login(
                username, password, request.client.host if request.client else None
            )
        except LoginLocked:
            log.info("field app login locked")
            return await self.login_page(request, "login_locked")
        except RegistryUnavailable:
            return await self.login_page(request, "registry_down")
        if login is None:
            log.info("field app login refused")
            return await self.login_page(request, "login_failed")
        response = RedirectResponse(_safe_next(next_page), status_code=303)
        COOKIES.start_session(request, response, login)
        log.info("field app login", worker_id=login.worker_id)
        return response

    async def logout(self, request: Request) -> Response:
        found = self.session(request)
        form = await request.form()
        response = RedirectResponse("/app/login", status_code=303)
        if found is not None and self.csrf_ok(found[0], form.get("csrf")):
            response.delete_cookie(SESSION_COOKIE, path="/app")
        return response


def _safe_next(value: str | None) -> str:
    """Only paths of the field app itself (no open redirect)."""
    if value and value.startswith("/app/") and "//" not in value and "\\" not in value:
        return value
    return "/app/tasks"


def router(app: FieldApp) -> APIRouter:
    pages = APIRouter(prefix="/app", include_in_schema=False)

    @pages.get("")
    @pages.get("/")
    async def root(request: Request) -> RedirectResponse:
        if app.session(request) is None:
            return app.to_login(request)
        return RedirectResponse("/app/tasks", status_code=303)

    @pages.get("/login")
    async def login_page(request: Request) -> Response:
        return await app.login_page(request)

    @pages.post("/login")
    async def login(request: Request) -> Response:
        return await app.login(request)

    @pages.post("/logout")
    async def logout(request: Request) -> Response:
        return await app.logout(request)

    @pages.get("/tasks")
    async def inbox(request: Request) -> Response:
        return await app.tasks.inbox(request)

    @pages.get("/tasks/{task_id}")
    async def task_page(request: Request, task_id: UUID) -> Response:
        return await app.tasks.task_page(request, task_id)

    @pages.get("/tasks/{task_id}/outcome")
    async def outcome_page(request: Request, task_id: UUID) -> Response:
        return await app.tasks.outcome_page(request, task_id)

    @pages.post("/tasks/{task_id}/{action}")
    async def act(request: Request, task_id: UUID, action: str) -> Response:
        if app.session(request) is None:  # who asks comes first, whatever the action
            return app.to_login(request)
        if action not in ("accept", "decline", "start", "outcome"):
            return RedirectResponse(f"/app/tasks/{task_id}", status_code=303)
        return await app.tasks.act(request, task_id, action)

    return pages
