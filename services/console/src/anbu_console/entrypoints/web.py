"""The console's web shell: who is looking, and how a page is rendered for them.

The routes live beside it by page group: ``login.py``, ``pages.py`` (the operators' pages
and their live stream), ``api.py`` (the JSON twins and the rebuild), ``day_sheet.py``,
``district_map.py`` and ``trends.py``.

Server-rendered (Jinja2), Korean by default, English with ``?lang=en`` (remembered in a
cookie). People log in with their registry account (``login.py``); the viewer's role
decides the scope (a dong official sees their dongs only). Pages update themselves from
``/events`` (server-sent events) without a reload.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlmodel import Session

from anbu_runtime.auth import Principal, verify_token
from anbu_runtime.db import Database
from anbu_runtime.logs import get_logger
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.web_login import LoginCookies, secure

from ..adapters.registry_client import RegistryClient
from ..domain.scope import EVERYTHING, Scope, scope_for
from ..i18n import duration, pick_language, translator
from ..places import area_name, dong_name
from .live import Hub

log = get_logger(__name__)
T = TypeVar("T")

SESSION_COOKIE = "anbu_console_session"
LANG_COOKIE = "anbu_console_lang"
LOGIN_CSRF_COOKIE = "anbu_console_login_csrf"
COOKIES = LoginCookies(session=SESSION_COOKIE, nonce=LOGIN_CSRF_COOKIE, login_path="/login")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Viewer:
    principal: Principal
    scope: Scope | None  # None: the console is not for this role
    token: str = ""


@dataclass
class Options:
    """What the pages need from the console's settings."""

    timezone: str
    feed_stale_hours: float
    feed_stale_hours_by_kind: dict[str, float]
    kpi_targets: dict[str, float]


async def snapshot_read(db: Database, fn: Callable[[Session], T]) -> T:
    """Run a read on a snapshot; the rows it returns stay usable after the session ends."""

    def work(session: Session) -> T:
        result = fn(session)
        session.expunge_all()  # detached before the read's rollback could expire them
        return result

    return await db.read(work)


def _number(value: float | None) -> str:
    """1.0 → "1", 97.25 → "97.2": figures without noise."""
    if value is None:
        return "-"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _parse_instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


def _ms(instant: datetime | None) -> int | None:
    return int(instant.timestamp() * 1000) if instant else None


class Console:
    def __init__(
        self, runtime: ServiceRuntime, registry: RegistryClient, hub: Hub, options: Options
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.hub = hub
        self.options = options
        self.zone = ZoneInfo(options.timezone)
        self.secret = runtime.common.auth_secret
        self.env = Environment(
            loader=PackageLoader("anbu_console", "templates"),
            autoescape=select_autoescape(default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    # -- who is looking ------------------------------------------------------------------

    def _viewer_from(self, token: str) -> Viewer | None:
        if not token:  # an empty token would equal an unset service token
            return None
        if secrets.compare_digest(token.encode(), self.runtime.common.service_token.encode()):
            return Viewer(Principal(subject="service", is_service=True), EVERYTHING)
        try:
            who = verify_token(self.secret, token)
        except Problem:
            return None
        role = who.role.value if who.role else None
        return Viewer(who, scope_for(role, who.dong_codes, who.district_codes), token)

    def page_viewer(self, request: Request) -> Viewer | None:
        token = request.cookies.get(SESSION_COOKIE)
        return self._viewer_from(token) if token else None

    def api_viewer(self, request: Request) -> Viewer:
        """The caller of a JSON endpoint: bearer token (person or service) or the cookie."""
        header = request.headers.get("authorization", "")
        viewer = (
            self._viewer_from(header.removeprefix("Bearer ").strip())
            if header.startswith("Bearer ")
            else self.page_viewer(request)
        )
        if viewer is None:
            raise Problem(
                401,
                "Unauthorized",
                "log in, or present a bearer token",
                type_="unauthenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if viewer.scope is None:
            raise Problem(403, "Forbidden", "the console is not for this role", type_="forbidden")
        return viewer

    # -- rendering -----------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        return pick_language(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE))

    def local(self, instant: datetime | None) -> str:
        return instant.astimezone(self.zone).strftime("%m-%d %H:%M") if instant else "-"

    def render(
        self,
        request: Request,
        template: str,
        viewer: Viewer | None = None,
        *,
        status: int = 200,
        **values: Any,
    ) -> HTMLResponse:
        lang = self.lang(request)
        now = self.runtime.clock.now()
        html = self.env.get_template(template).render(
            lang=lang,
            t=translator(lang),
            local=self.local,
            dur=lambda seconds: duration(seconds, lang),
            ms=_ms,
            dong=lambda code: dong_name(code, lang),
            num=_number,
            instant=lambda text: self.local(_parse_instant(text)),
            now=now,
            now_ms=_ms(now),
            speed=self.runtime.common.clock_speed,
            zone=self.zone.key,
            path=request.url.path,
            viewer=viewer,
            scope_label=_scope_label(viewer, lang),
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

    def to_login(self, request: Request) -> RedirectResponse:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    async def page(self, request: Request, template: str, read: Any, **values: Any) -> Response:
        """Render ``template`` with ``read(session, scope)`` for a logged-in viewer."""
        viewer = self.page_viewer(request)
        if viewer is None:
            return self.to_login(request)
        if viewer.scope is None:
            return self.render(request, "message.html", viewer, status=403, message="not_for_role")
        scope = viewer.scope
        data = await snapshot_read(self.runtime.db, lambda session: read(session, scope))
        if data is None:
            return self.render(request, "message.html", viewer, status=404, message="not_found")
        return self.render(request, template, viewer, **data, **values)


def _scope_label(viewer: Viewer | None, lang: str) -> str | None:
    if viewer is None or viewer.scope is None or viewer.scope.everything:
        return None
    codes = sorted((viewer.scope.dong_codes or set()) | (viewer.scope.district_codes or set()))
    return ", ".join(area_name(code, lang) for code in codes)
