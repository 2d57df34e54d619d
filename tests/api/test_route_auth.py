"""Every HTTP route of every service refuses a caller without valid credentials.

Each service's application is built as ``tools/gen_openapi.py`` builds it (its own SQLite
under a temporary directory, nothing started: no database, broker or consumer is touched
before the credentials are checked). Every route of the route table — not only the
OpenAPI document's: the console's and field app's pages are excluded from it — is called
with each of its methods and with no credentials, a garbage token, an unsigned
(``alg=none``) token and an expired one, both as a bearer header and as every session
cookie. The answer must be 401 or 403, or a redirect to a login page. Only the few paths
of ``PUBLIC`` are exempt, each with its reason; a route added without a check fails here.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from anbu_runtime.auth import ISSUER, Principal, UserRole, issue_token

SERVICES = ["registry", "gateway", "detector", "outreach", "notifier", "console"]
SESSION_COOKIES = ["anbu_console_session", "anbu_session"]  # the console's, the field app's
LOGIN_PAGES = {"/login", "/app/login"}

# (service, method, path) → why anyone may call it. Keep this list short.
_PROBES = {"/healthz", "/readyz", "/metrics"}  # liveness, readiness, Prometheus: no data
_DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}  # as in docs/openapi/
PUBLIC: dict[tuple[str, str, str], str] = {
    **{(s, "GET", p): "probes: status and counters only" for s in SERVICES for p in _PROBES},
    **{
        (s, m, p): "the API description, published in docs/openapi anyway"
        for s in SERVICES
        for p in _DOCS
        for m in ("GET", "HEAD")
    },
    **{
        (s, "GET", "/v1/clock"): "the service's (accelerated) time, to stamp events: no data"
        for s in SERVICES
    },
    ("registry", "POST", "/v1/auth/login"): "where people get a token (password checked)",
    ("console", "GET", "/login"): "the login form",
    ("console", "POST", "/login"): "the login form's post (CSRF nonce, password checked)",
    ("outreach", "GET", "/app/login"): "the field app's login form",
    ("outreach", "POST", "/app/login"): "its post (CSRF nonce, password checked)",
    ("gateway", "GET", "/r/{token}"): "reporter form: the invitation in the link is the key",
    ("gateway", "POST", "/r/{token}"): "reporter form post: same invitation, checked",
    ("gateway", "GET", "/r/{token}/done/{reference}"): "the reporter's receipt page, same",
}
PUBLIC_MOUNTS = {("console", "/static"): "stylesheet and script of the pages"}


SECRET = "route-walk-auth-secret-0123456789abcdef0123"
SERVICE_TOKEN = "route-walk-service-token"


def _bad_tokens() -> dict[str, str]:
    admin = Principal(subject="u-admin", role=UserRole.ADMIN)
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "sub": "u-admin", "role": "admin", "dongs": [], "districts": []}
    unsigned = jwt.encode(
        {**claims, "iat": int(now.timestamp()), "exp": int((now + timedelta(hours=1)).timestamp())},
        key=None,
        algorithm="none",
    )
    return {
        "garbage": "not-a-token",
        "alg-none": unsigned,
        # signed with the right secret: only its age is wrong
        "expired": issue_token(SECRET, admin, timedelta(minutes=30), now - timedelta(hours=2)),
    }


def _credentials() -> Iterator[tuple[str, dict[str, str]]]:
    yield "none", {}
    for name, token in _bad_tokens().items():
        yield f"{name}-bearer", {"Authorization": f"Bearer {token}"}
        cookies = "; ".join(f"{c}={token}" for c in SESSION_COOKIES)
        yield f"{name}-cookie", {"Cookie": cookies}


def _dummy(route: APIRoute, path: str) -> str:
    """``path`` with each parameter replaced by a value of its declared type."""
    values: dict[str, str] = {}
    for param in route.dependant.path_params:
        annotation = param.field_info.annotation
        values[param.name] = (
            "00000000-0000-4000-8000-000000000001" if annotation is UUID else "dummy-1"
        )
    for name, value in values.items():
        path = path.replace(f"{{{name}:path}}", value).replace(f"{{{name}}}", value)
    return path


def _app(service: str) -> FastAPI:
    _, app = importlib.import_module(f"anbu_{service}.bootstrap").create()
    return app


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FastAPI]]:
    patch = pytest.MonkeyPatch()
    patch.setenv("ANBU_VAR_DIR", str(tmp_path_factory.mktemp("route-auth")))
    patch.setenv("ANBU_AUTH_SECRET", SECRET)  # the expired token is signed with it
    patch.setenv("ANBU_SERVICE_TOKEN", SERVICE_TOKEN)
    try:
        yield {service: _app(service) for service in SERVICES}
    finally:
        patch.undo()


def routes(app: FastAPI) -> Iterator[tuple[str, str, Any]]:
    """(method, path template, route) for every route of the table, included routers too."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            yield "*", route.path, route
            continue
        assert isinstance(route, APIRoute | Route), f"unknown route type {route!r}"
        path = context.path
        assert path is not None
        for method in sorted(context.methods or ()):
            yield method, path, route


def refused(response: Any) -> bool:
    if response.status_code in (401, 403):
        return True
    if response.status_code in (303, 307):
        return urlsplit(response.headers.get("location", "")).path in LOGIN_PAGES
    return False


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_refuses_a_caller_without_valid_credentials(
    service: str, apps: dict[str, FastAPI]
) -> None:
    app = apps[service]
    # No ``with``: the lifespan (database, broker, consumers) never starts.
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    walked, open_routes = 0, []
    for method, template, route in routes(app):
        if isinstance(route, Mount):
            assert (service, template) in PUBLIC_MOUNTS, f"{service} mounts {template}"
            continue
        if (service, method, template) in PUBLIC:
            continue
        assert isinstance(route, APIRoute), f"{service} {method} {template}: not an API route"
        path = _dummy(route, template)
        for label, headers in _credentials():
            response = client.request(method, path, headers=headers)
            walked += 1
            if not refused(response):
                open_routes.append(f"{method} {path} [{label}] → {response.status_code}")
    assert walked > 0
    assert not open_routes, f"{service} answers without valid credentials:\n" + "\n".join(
        open_routes
    )


def test_the_public_list_names_only_routes_that_exist(apps: dict[str, FastAPI]) -> None:
    """A stale entry would silently exempt a future route of the same path."""
    present = {(s, m, p) for s, app in apps.items() for m, p, _ in routes(app)}
    assert set(PUBLIC) - present == set()


def test_this_file_builds_every_service_with_an_app() -> None:
    """The list above covers every service that serves HTTP (the simulator serves none)."""
    services = Path(__file__).resolve().parents[2] / "services"
    with_http = {
        d.name
        for d in services.iterdir()
        if (d / "src" / f"anbu_{d.name}" / "bootstrap.py").exists()
        and "def create" in (d / "src" / f"anbu_{d.name}" / "bootstrap.py").read_text()
    }
    assert with_http == set(SERVICES)
