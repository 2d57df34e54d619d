"""Fixtures for the notifier's tests: a real message gateway, a real SMTP server, and the
notifier itself wired by its bootstrap against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the notifier_fakes package

from notifier_fakes.directory import FakeDirectory
from notifier_fakes.provider import FakeProvider
from notifier_fakes.smtp import SmtpServer
from notifier_fakes.world import API_KEY, HOOK_SECRETS, T0, World, settings_for

from anbu_notifier.adapters.migrations import MIGRATIONS
from anbu_notifier.bootstrap import build
from anbu_runtime.clock import ManualClock
from anbu_runtime.settings import CommonSettings


@pytest.fixture(scope="session")
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
async def make_world(
    database_url: str, provider: FakeProvider, smtp_server: SmtpServer, tmp_path: Path
) -> AsyncIterator[Any]:
    """Build worlds (several may share one database to play a restart); closed afterwards."""
    worlds: list[World] = []
    provider.state.reset()
    provider.state.hook_secrets = dict(HOOK_SECRETS)
    smtp_server.reset()

    def make(
        directory: FakeDirectory | None = None,
        clock: ManualClock | None = None,
        instance: str = "test-instance",
        **overrides: Any,
    ) -> World:
        clock = clock or ManualClock(T0)
        directory = directory or FakeDirectory()
        common = CommonSettings(
            var_dir=tmp_path, kafka_bootstrap="127.0.0.1:9", instance_id=instance
        )
        settings = settings_for(database_url, provider, smtp_server, tmp_path, **overrides)
        service = build(common, settings, clock, directory)
        with service.runtime.db.schema_lock():  # as the service does before it serves
            MIGRATIONS.upgrade(service.runtime.db)
        world = World(service, directory, clock, provider, smtp_server)
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        await world.close()


@pytest.fixture
def world(make_world: Any) -> World:
    w: World = make_world()
    return w
