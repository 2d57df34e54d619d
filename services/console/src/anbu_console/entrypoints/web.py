"""The operators' pages, their JSON twins, the live stream and the rebuild command.

Server-rendered (Jinja2), Korean by default, English with ``?lang=en`` (remembered in a
cookie). People log in with their registry account: the console posts the credentials to
the registry and keeps the returned token in an HttpOnly, SameSite=Strict cookie; the
viewer's role decides the scope (a dong official sees their dongs only). Pages update
themselves from ``/events`` (server-sent events) without a reload.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlmodel import Session
from sse_starlette.sse import EventSourceResponse

from anbu_contracts.topics import Topic
from anbu_runtime.auth import Principal, verify_token
from anbu_runtime.db import Database
from anbu_runtime.logs import get_logger
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.web_login import LoginCookies, login_status, secure

from .. import queries
from ..adapters.registry_client import LoginLocked, RegistryClient, RegistryUnavailable
from ..adapters.replay import rebuild, replay
from ..domain.feeds import is_stale, stale_threshold
from ..domain.grid import alerts_per_thousand, heat
from ..domain.kpis import kpi_table
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
    topics: tuple[Topic, ...] = ()


@dataclass
class RebuildState:
    state: str = "idle"  # idle, running, done, failed
    records: int = 0
    skipped: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "records": self.records,
            "skipped": self.skipped,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


def _safe_next(value: str | None) -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


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
        self.rebuild_state = RebuildState()
        self.needs_replay = False  # set at start when the read model was recreated
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

    # -- login ---------------------------------------------------------------------------

    def login_page(self, request: Request, error: str | None = None) -> HTMLResponse:
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
            return self.login_page(request, sent)
        username, password, next_page = sent
        try:
            login = await self.registry.login(
                username, password, request.client.host if request.client else None
            )
        except LoginLocked:
            log.info("console login locked")
            return self.login_page(request, "login_locked")
        except RegistryUnavailable:
            return self.login_page(request, "registry_down")
        if login is None:
            log.info("console login refused")
            return self.login_page(request, "login_failed")
        response = RedirectResponse(_safe_next(next_page), status_code=303)
        COOKIES.start_session(request, response, login)
        log.info("console login", role=login.role)
        return response

    # -- reads ---------------------------------------------------------------------------

    def overview(self, session: Any, scope: Scope) -> dict[str, Any]:
        return {
            "overview": queries.overview(session, scope, self.runtime.clock.now()),
            "alerts": queries.open_alerts(session, scope, limit=20),
            "feed": queries.recent_feed(session, scope),
        }

    def board(
        self, session: Any, scope: Scope, dong: str | None = None, protocol: str | None = None
    ) -> dict[str, Any]:
        """Running protocols, the nearest next step first; ``dong``/``protocol`` narrow it."""
        now = self.runtime.clock.now()
        rows = []
        running = queries.running_escalations(session, scope)
        dongs = sorted({d for _, d in running if d})
        protocols = sorted({e.protocol_id for e, _ in running})
        for escalation, dong_code in running:
            if (dong and dong_code != dong) or (protocol and escalation.protocol_id != protocol):
                continue
            due = escalation.next_step_due_at
            rows.append(
                {
                    "e": escalation,
                    "dong": dong_code,
                    "since": (now - escalation.triggered_at).total_seconds(),
                    "remaining": (due - now).total_seconds() if due else None,
                    "overdue": due is not None and due < now,
                }
            )
        return {
            "rows": rows,
            "dongs": dongs,
            "protocols": protocols,
            "chosen_dong": dong,
            "chosen_protocol": protocol,
        }

    def partners(self, session: Any, stale_hours: float | None) -> dict[str, Any]:
        now = self.runtime.clock.now()
        rows = []
        for feed in queries.partner_feeds(session):
            threshold = (
                timedelta(hours=stale_hours)
                if stale_hours is not None
                else stale_threshold(
                    feed.kind,
                    self.options.feed_stale_hours,
                    self.options.feed_stale_hours_by_kind,
                )
            )
            rows.append(
                {
                    "feed": feed,
                    "silent": (now - feed.last_produced_at).total_seconds(),
                    "threshold": threshold.total_seconds(),
                    "stale": is_stale(feed.last_produced_at, now, threshold),
                }
            )
        return {"rows": rows, "stale_hours": stale_hours}

    def kpis(self, session: Any, scope: Scope) -> dict[str, Any]:
        actuals = queries.kpi_actuals(session, scope)
        return {"rows": kpi_table(self.options.kpi_targets, actuals)}

    def dongs(self, session: Any, scope: Scope) -> dict[str, Any]:
        cells = []
        for cell in queries.dong_grid(session, scope):
            rate = alerts_per_thousand(cell["open_alerts"], cell["monitored"])
            cells.append({**cell, "rate": rate, "heat": heat(rate)})
        return {"cells": cells}

    # -- rebuild -------------------------------------------------------------------------

    async def replay_if_needed(self, stop: asyncio.Event) -> None:
        """Background task: replay the topics into a read model recreated at start."""
        if not self.needs_replay:
            return
        self.needs_replay = False
        state = RebuildState(state="running", started_at=self.runtime.clock.now())
        self.rebuild_state = state
        await self._rebuild(state, drop=False)

    def start_rebuild(self) -> bool:
        state = self.rebuild_state
        if state.state == "running":
            return False
        self.rebuild_state = RebuildState(state="running", started_at=self.runtime.clock.now())
        self.rebuild_state.task = asyncio.create_task(self._rebuild(self.rebuild_state))
        return True

    async def _rebuild(self, state: RebuildState, *, drop: bool = True) -> None:
        try:
            bootstrap, topics = self.runtime.common.kafka_bootstrap, self.options.topics
            if drop:
                report = await rebuild(self.runtime.db, bootstrap, topics)
            else:
                report = await replay(self.runtime.db, bootstrap, topics)
            state.records, state.skipped, state.state = report.records, report.skipped, "done"
        except Exception as exc:
            log.exception("read model rebuild failed")
            state.state, state.error = "failed", type(exc).__name__
        finally:
            state.finished_at = self.runtime.clock.now()


def _scope_label(viewer: Viewer | None, lang: str) -> str | None:
    if viewer is None or viewer.scope is None or viewer.scope.everything:
        return None
    codes = sorted((viewer.scope.dong_codes or set()) | (viewer.scope.district_codes or set()))
    return ", ".join(area_name(code, lang) for code in codes)


def _jsonable(row: Any) -> Any:
    return row.model_dump(mode="json") if hasattr(row, "model_dump") else row


def router(console: Console) -> APIRouter:
    web = APIRouter()
    db = console.runtime.db

    # -- pages ---------------------------------------------------------------------------

    @web.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request) -> Response:
        return console.login_page(request)

    @web.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        return await console.login(request)

    @web.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @web.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def overview_page(request: Request) -> Response:
        return await console.page(request, "overview.html", console.overview)

    @web.get("/escalations", response_class=HTMLResponse, include_in_schema=False)
    async def escalation_board(
        request: Request, dong: str | None = None, protocol: str | None = None
    ) -> Response:
        dong_code = dong if dong and dong.isdigit() and len(dong) == 10 else None
        protocol_id = protocol[:64] if protocol else None
        return await console.page(
            request,
            "escalations.html",
            lambda s, scope: console.board(s, scope, dong_code, protocol_id),
        )

    @web.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    async def alerts_page(request: Request, dong: str | None = None) -> Response:
        dong_code = dong if dong and dong.isdigit() and len(dong) == 10 else None
        return await console.page(
            request,
            "alerts.html",
            lambda s, scope: {"alerts": queries.open_alerts(s, scope, dong_code=dong_code)},
            dong_code=dong_code,
        )

    @web.get("/alerts/{alert_id}", response_class=HTMLResponse, include_in_schema=False)
    async def alert_page(request: Request, alert_id: UUID) -> Response:
        return await console.page(
            request, "alert.html", lambda s, scope: queries.alert(s, scope, alert_id)
        )

    @web.get("/households/{household_id}", response_class=HTMLResponse, include_in_schema=False)
    async def household_page(request: Request, household_id: str) -> Response:
        return await console.page(
            request,
            "household.html",
            lambda s, scope: queries.household(s, scope, household_id[:32]),
            household_id=household_id[:32],
        )

    @web.get("/partners", response_class=HTMLResponse, include_in_schema=False)
    async def partners_page(request: Request, stale_hours: float | None = None) -> Response:
        hours = stale_hours if stale_hours is not None and 0 < stale_hours <= 24 * 90 else None
        return await console.page(
            request, "partners.html", lambda s, _scope: console.partners(s, hours)
        )

    @web.get("/kpis", response_class=HTMLResponse, include_in_schema=False)
    async def kpis_page(request: Request) -> Response:
        return await console.page(request, "kpis.html", console.kpis)

    @web.get("/dongs", response_class=HTMLResponse, include_in_schema=False)
    async def dongs_page(request: Request) -> Response:
        return await console.page(request, "dongs.html", console.dongs)

    @web.get("/events", include_in_schema=False)
    async def events(request: Request) -> Response:
        viewer = console.page_viewer(request)
        if viewer is None or viewer.scope is None:
            return Response(status_code=401)
        scope = viewer.scope

        async def stream() -> AsyncIterator[dict[str, str]]:
            async with console.hub.subscribe() as queue:
                yield {"event": "hello", "data": "{}"}
                while True:
                    change = await queue.get()
                    if not scope.sees(change.dong_code):
                        continue
                    yield {
                        "event": change.kind,
                        "data": json.dumps(
                            {
                                "household_id": change.household_id,
                                "ref": change.ref,
                                "summary": change.summary,
                            }
                        ),
                    }

        return EventSourceResponse(stream(), ping=15, headers={"Cache-Control": "no-store"})

    # -- JSON twins ----------------------------------------------------------------------

    @web.get("/api/overview", tags=["console"], summary="The overview figures")
    async def overview_json(request: Request) -> dict[str, Any]:
        scope = console.api_viewer(request).scope or EVERYTHING
        now = console.runtime.clock.now()
        return await snapshot_read(db, lambda s: queries.overview(s, scope, now))

    @web.get("/api/alerts", tags=["console"], summary="Open alerts with rule and evidence")
    async def alerts_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        rows = await snapshot_read(db, lambda s: queries.open_alerts(s, scope))
        return [_jsonable(r) for r in rows]

    @web.get("/api/escalations", tags=["console"], summary="Running protocols, most urgent first")
    async def escalations_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        rows = await snapshot_read(db, lambda s: queries.running_escalations(s, scope))
        return [{**_jsonable(e), "dong_code": dong} for e, dong in rows]

    @web.get("/api/partners", tags=["console"], summary="Partner feeds with the stale flag")
    async def partners_json(request: Request) -> list[dict[str, Any]]:
        console.api_viewer(request)
        data = await snapshot_read(db, lambda s: console.partners(s, None))
        return [
            {**_jsonable(r["feed"]), "stale": r["stale"], "threshold_s": r["threshold"]}
            for r in data["rows"]
        ]

    @web.get("/api/kpis", tags=["console"], summary="KPI targets, actuals and achievement")
    async def kpis_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        data = await snapshot_read(db, lambda s: console.kpis(s, scope))
        return [dict(r.__dict__) for r in data["rows"]]

    @web.get("/api/dongs", tags=["console"], summary="Open alerts per 1,000 households by dong")
    async def dongs_json(request: Request) -> list[dict[str, Any]]:
        scope = console.api_viewer(request).scope or EVERYTHING
        data = await snapshot_read(db, lambda s: console.dongs(s, scope))
        cells: list[dict[str, Any]] = data["cells"]
        return cells

    @web.post(
        "/api/rebuild",
        status_code=202,
        tags=["console"],
        summary="Drop the read model and replay the topics from the beginning (admin)",
    )
    async def rebuild_start(request: Request) -> dict[str, Any]:
        viewer = console.api_viewer(request)
        if not viewer.principal.is_admin:
            raise Problem(403, "Forbidden", "only administrators rebuild", type_="forbidden")
        if not console.start_rebuild():
            raise Problem(409, "Conflict", "a rebuild is already running", type_="conflict")
        return console.rebuild_state.public()

    @web.get("/api/rebuild", tags=["console"], summary="State of the last rebuild")
    async def rebuild_status(request: Request) -> dict[str, Any]:
        console.api_viewer(request)
        return console.rebuild_state.public()

    return web
