"""Fixtures for outreach's tests: outreach wired by its own bootstrap against a real
database (SQLite, and PostgreSQL where a test asks for ``database_url``), a manual clock,
and a small stand-in for the registry's HTTP API (logins and audited address reads)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select as sa_select

from anbu_contracts import (
    EscalationChange,
    EscalationClosure,
    EscalationEvent,
    EscalationStatus,
    HouseholdSnapshot,
    NotifyAction,
    RecipientKind,
    RecipientRef,
    Role,
    StepRecord,
    TaskAction,
    TaskType,
    Urgency,
    WorkerSnapshot,
)
from anbu_contracts.topics import TOPICS_BY_NAME
from anbu_outreach.adapters.migrations import MIGRATIONS
from anbu_outreach.adapters.registry_client import RegistryClient
from anbu_outreach.adapters.repository import OutreachRepository, Uow
from anbu_outreach.bootstrap import OutreachSettings, create
from anbu_outreach.handlers import caches, tasks
from anbu_outreach.handlers.context import Context
from anbu_runtime.auth import ISSUER, Principal, UserRole, issue_token, verify_token
from anbu_runtime.clock import ManualClock
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings
from anbu_runtime.uow import Transactions, UnitOfWork

from .roster_builders import T0

T = TypeVar("T")
TOKEN = "outreach-test-service-token"
SECRET = "outreach-test-auth-secret-0123456789abcdef"
PUBLIC_URL = "https://field.example"
CONSOLE_URL = "https://console.example"
ADDRESS = "서울특별시 종로구 예시로 1길 42"


class FakeRegistry:
    """The registry's login and address endpoints, as outreach calls them over HTTP.

    Tokens are real registry tokens (signed with the shared secret). Every address read
    is recorded with the worker it was shown to, as the registry's audit log would.
    """

    def __init__(self) -> None:
        self.users: dict[str, tuple[str, Principal]] = {}
        self.addresses: dict[str, str] = {}
        self.address_reads: list[tuple[str, str | None, str]] = []
        self.refuse_address_to: set[str] = set()
        self.down = False
        self.transport = httpx.MockTransport(self.handle)

    def add_user(self, username: str, password: str, worker_id: str | None, **kw: Any) -> None:
        role = kw.pop("role", UserRole.FIELD_WORKER)
        self.users[username] = (
            password,
            Principal(subject=username, role=role, worker_id=worker_id, **kw),
        )

    def token_for(self, username: str) -> str:
        _, principal = self.users[username]
        return issue_token(SECRET, principal, timedelta(minutes=30), datetime.now(UTC))

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("registry down", request=request)
        if request.method == "POST" and request.url.path == "/v1/auth/login":
            body = json.loads(request.content)
            found = self.users.get(body.get("username", ""))
            if found is None or found[0] != body.get("password"):
                return httpx.Response(401, json={"title": "Unauthorized"})
            principal = found[1]
            return httpx.Response(
                200,
                json={
                    "access_token": self.token_for(body["username"]),
                    "token_type": "bearer",
                    "expires_in": 1800,
                    "role": principal.role.value if principal.role else None,
                    "user_id": principal.subject,
                    "worker_id": principal.worker_id,
                    "dong_codes": sorted(principal.dong_codes),
                },
            )
        parts = request.url.path.strip("/").split("/")
        if request.method == "GET" and parts[:2] == ["v1", "households"] and parts[-1] == "address":
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                who = verify_token(SECRET, bearer)
            except Problem:
                return httpx.Response(401, json={"title": "Unauthorized"})
            if who.worker_id in self.refuse_address_to:
                return httpx.Response(403, json={"title": "Forbidden"})
            household = parts[2]
            self.address_reads.append(
                (household, who.worker_id, request.url.params.get("purpose", ""))
            )
            return httpx.Response(
                200, json={"household_id": household, "address": self.addresses.get(household)}
            )
        return httpx.Response(404, json={"title": "Not found"})


class World:
    """Outreach as its bootstrap wires it, without Kafka: handlers run in real
    transactions and what they publish is read back from the outbox."""

    def __init__(
        self,
        database_url: str,
        var_dir: Path,
        clock: ManualClock | None = None,
        registry: FakeRegistry | None = None,
        **overrides: Any,
    ) -> None:
        self.clock = clock or ManualClock(T0)
        self.registry = registry or FakeRegistry()
        common = CommonSettings(
            var_dir=var_dir,
            kafka_bootstrap="127.0.0.1:9",
            service_token=TOKEN,
            auth_secret=SECRET,
            outreach_public_url=PUBLIC_URL,
        )
        settings = OutreachSettings(
            database_url=database_url, console_public_url=CONSOLE_URL, **overrides
        )
        client = RegistryClient("http://registry.test", TOKEN, transport=self.registry.transport)
        self.runtime: ServiceRuntime
        self.runtime, self.app = create(common, settings, self.clock, registry=client)
        with self.runtime.db.schema_lock():  # as the service does at start
            MIGRATIONS.upgrade(self.runtime.db)
        self.ctx: Context = self.app.state.outreach
        self.tx: Transactions[OutreachRepository] = self.app.state.transactions
        self.run(lambda uow: caches.load_roster(uow.repos))

    def run(self, fn: Callable[[Uow], T]) -> T:
        """``fn(uow)`` in one unit of work of the service's own, committed (synchronously)."""
        with self.runtime.db.session() as session:
            uow = UnitOfWork(
                session, self.tx.repositories(session), self.tx.outbox, self.clock.now()
            )
            result = fn(uow)
            uow.write_deferred()  # as Transactions.run does before the commit
            return result

    def enrol(self, *items: WorkerSnapshot | HouseholdSnapshot) -> None:
        self.run(lambda uow: [caches.SNAPSHOTS.dispatch(item, uow) for item in items])

    def deliver(self, event: EscalationEvent) -> None:
        self.run(lambda uow: tasks.ESCALATIONS.dispatch(event, uow))

    def published(self, topic: str) -> list[Any]:
        """Everything staged for ``topic``, decoded with the topic's contract, in order."""
        table = self.runtime.tables.outbox
        with self.runtime.db.engine.connect() as conn:
            rows = conn.execute(
                sa_select(table.c.value).where(table.c.topic == topic).order_by(table.c.id)
            ).all()
        model: type[BaseModel] = TOPICS_BY_NAME[topic].model
        return [model.model_validate_json(r[0]) for r in rows]

    def outbox_bytes(self) -> bytes:
        table = self.runtime.tables.outbox
        with self.runtime.db.engine.connect() as conn:
            return b"\n".join(r[0] or b"" for r in conn.execute(sa_select(table.c.value)).all())

    def tasks(self, topic_filter: Callable[[Any], bool] = lambda e: True) -> list[Any]:
        return [e for e in self.published("outreach.task.v1") if topic_filter(e)]

    def last_task_event(self, task_id: UUID) -> Any:
        return [e for e in self.published("outreach.task.v1") if e.task_id == task_id][-1]

    def close(self) -> None:
        self.runtime.db.dispose()


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def make(database_url: str | None = None, **kw: Any) -> World:
        url = database_url or f"sqlite:///{tmp_path / 'outreach.db'}"
        world = World(url, tmp_path, **kw)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


# -- escalation events as the detector publishes them ----------------------------------------


def task_action(
    action_id: str,
    task_type: TaskType,
    team: Sequence[Role],
    deadline: datetime,
    preconditions: Sequence[str] = (),
) -> TaskAction:
    return TaskAction(
        action_id=action_id,
        task_type=task_type,
        team=list(team),
        deadline=deadline,
        preconditions=list(preconditions),
    )


def notify_action(action_id: str, kind: RecipientKind, template: str) -> NotifyAction:
    return NotifyAction(
        action_id=action_id,
        recipient=RecipientRef(kind=kind),
        template=template,
        urgency=Urgency.HIGH,
    )


def step_executed(
    household_id: str,
    step_id: str,
    actions: Sequence[TaskAction | NotifyAction],
    escalation_id: UUID | None = None,
    at: datetime = T0,
) -> EscalationEvent:
    return EscalationEvent(
        occurred_at=at,
        produced_at=at,
        source="detector",
        correlation_id=f"corr-{household_id}",
        escalation_id=escalation_id or uuid4(),
        alert_id=uuid4(),
        household_id=household_id,
        protocol_id="safety-not-confirmed",
        protocol_version="2",
        change=EscalationChange.STEP_EXECUTED,
        status=EscalationStatus.RUNNING,
        triggered_at=at,
        step=StepRecord(
            step_id=step_id, title=step_id, due_at=at, executed_at=at, actions=list(actions)
        ),
    )


def closed(event: EscalationEvent, closure: EscalationClosure, at: datetime) -> EscalationEvent:
    return event.model_copy(
        update={
            "event_id": uuid4(),
            "change": EscalationChange.CLOSED,
            "status": EscalationStatus.CLOSED,
            "step": None,
            "closure": closure,
            "occurred_at": at,
            "produced_at": at,
        }
    )


__all__ = ["ADDRESS", "ISSUER", "PUBLIC_URL", "TOKEN", "World"]
