"""A registry app on a real database (SQLite and PostgreSQL), without Kafka."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlmodel import Session

from anbu_contracts import JobProgress
from anbu_registry.adapters.migrations import upgrade
from anbu_registry.adapters.orm import metadata
from anbu_registry.adapters.pii import PiiCipher
from anbu_registry.adapters.repository import Repositories
from anbu_registry.bootstrap import RegistrySettings, create
from anbu_registry.handlers.common import Context
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.settings import CommonSettings
from anbu_runtime.uow import Transactions

SERVICE_TOKEN = "test-service-token"
SECRET = "test-auth-secret-0123456789abcdef0123456789"
SEED = Path(__file__).resolve().parents[3] / "deploy" / "seed" / "demo.yaml"


class Registry:
    """A running registry app and helpers to act as different people."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}

    def login(self, username: str, password: str = "anbu-demo-2026") -> dict[str, str]:
        response = self.client.post(
            "/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def household(self, dong: str = "1111051500", **extra: Any) -> str:
        body = {
            "district_code": dong[:5],
            "dong_code": dong,
            "tier": "high_risk",
            "address": "서울특별시 종로구 시험로 1",
            "channels": [{"channel": "phone", "consent": True}],
            "people": [{"relation": "resident", "name": "김시험", "phone": "010-0000-7777"}],
            **extra,
        }
        response = self.client.post("/v1/households", json=body, headers=self.service)
        assert response.status_code == 201, response.text
        household_id: str = response.json()["id"]
        return household_id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def registry(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Registry]:
    """One registry per test module and database (seeding hashes 17 passwords: slow)."""
    tmp_path = tmp_path_factory.mktemp("registry")
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        database_url = fresh_postgres_schema(request.getfixturevalue("postgres_url"), request)
    common = CommonSettings(
        kafka_bootstrap="127.0.0.1:9",  # no broker: the outbox keeps what it stages
        var_dir=tmp_path,
        service_token=SERVICE_TOKEN,
        auth_secret=SECRET,
    )
    settings = RegistrySettings(database_url=database_url, seed_file=SEED)
    _, app = create(common, settings)
    with TestClient(app) as client:
        yield Registry(client)


def fresh_postgres_schema(url: str, request: pytest.FixtureRequest) -> str:
    schema = f"reg_{abs(hash(request.node.nodeid)) % 10**10}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}?options=-csearch_path%3D{schema}"


def registry_units(path: Path | str, now: datetime) -> tuple[Transactions[Repositories], Context]:
    """The registry's units of work on a migrated SQLite file (or the database at the URL
    ``path``), on a clock stopped at ``now`` (for handlers tested without the app)."""
    db = Database(path if isinstance(path, str) else f"sqlite:///{path}")
    upgrade(db)
    ctx = Context(PiiCipher([("k1", os.urandom(32))], os.urandom(32)))
    outbox = Outbox(install(metadata), "registry")
    return Transactions(db, outbox, ManualClock(now), lambda s: Repositories(s, ctx)), ctx


def job_events(db: Database, job_id: str) -> list[JobProgress]:
    outbox = install(metadata).outbox
    with Session(db.engine) as session:
        values = session.execute(
            select(outbox.c.value).where(outbox.c.topic == "ops.job.v1").order_by(outbox.c.id)
        ).scalars()
        events = [JobProgress.model_validate_json(v) for v in values]
    return [e for e in events if e.job_id == job_id]
