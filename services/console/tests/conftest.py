"""The console wired by its own bootstrap against a real SQLite read model, a manual
clock, and a stand-in for the registry's login endpoint (real signed tokens)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from anbu_console.adapters.migrations import MIGRATIONS
from anbu_console.bootstrap import ConsoleSettings, create
from anbu_runtime.auth import Principal, UserRole, issue_token
from anbu_runtime.clock import ManualClock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings

from .builders import DONG_B, T0, project_batch

SECRET = "console-test-auth-secret-0123456789abcdef"
TOKEN = "console-test-service-token"
PASSWORD = "anbu-demo-2026"
NOW = T0 + timedelta(hours=6)
USERS = {
    "admin": Principal("U-ADMIN", UserRole.ADMIN),
    "jongno-hub": Principal("U-HUB", UserRole.OPERATOR, district_codes=frozenset({"11110"})),
    "official-530": Principal("U-530", UserRole.DONG_OFFICIAL, dong_codes=frozenset({DONG_B})),
    "carer-515": Principal("U-CARER", UserRole.FIELD_WORKER, worker_id="W-DEMO002"),
}


LOCKED_USER = "locked-official"  # the registry answers 429: too many failed logins


def registry_login(request: httpx.Request) -> httpx.Response:
    import json

    body = json.loads(request.content)
    if body["username"] == LOCKED_USER:
        return httpx.Response(429, headers={"Retry-After": "300"}, json={"title": "locked"})
    who = USERS.get(body["username"])
    if request.url.path != "/v1/auth/login" or who is None or body["password"] != PASSWORD:
        return httpx.Response(401, json={"title": "Unauthorized"})
    token = issue_token(SECRET, who, timedelta(minutes=30), datetime.now(UTC))
    return httpx.Response(
        200,
        json={"access_token": token, "expires_in": 1800, "role": who.role.value},  # type: ignore[union-attr]
    )


class Console:
    def __init__(self, runtime: ServiceRuntime, client: TestClient, clock: ManualClock) -> None:
        self.runtime, self.client, self.clock = runtime, client, clock

    def feed(self, events: list[Any]) -> None:
        with self.runtime.db.session() as session:
            project_batch(session, events)

    def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        page = self.client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        return self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf": csrf.group(1), "next": "/"},
            follow_redirects=False,
        )


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    clock = ManualClock(NOW)
    runtime, app = create(
        CommonSettings(
            kafka_bootstrap="127.0.0.1:1",
            var_dir=tmp_path,
            auth_secret=SECRET,
            service_token=TOKEN,
            registry_url="http://registry.test",
        ),
        ConsoleSettings(database_url=f"sqlite:///{tmp_path / 'console.db'}"),
        clock=clock,
        registry_transport=httpx.MockTransport(registry_login),
    )
    MIGRATIONS.upgrade(runtime.db)  # as at start, where the runtime runs them
    # No lifespan: the pages read the database; Kafka stays out of these tests.
    client = TestClient(app, base_url="http://localhost")
    yield Console(runtime, client, clock)
    client.close()
    runtime.db.dispose()


@pytest.fixture
def logged_in(console: Console) -> Callable[[str], Console]:
    def as_user(username: str) -> Console:
        response = console.login(username)
        assert response.status_code == 303, response.text
        return console

    return as_user
