"""Wire the console: settings, read-model database, consumer, live hub and pages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.boundaries import dong_outlines
from .adapters.migrations import MIGRATIONS
from .adapters.orm import metadata
from .adapters.registry_client import RegistryClient
from .adapters.repository import ReadModel
from .domain.kpis import DEFAULT_TARGETS
from .entrypoints import api, consumers, day_sheet, district_map, login, pages, trends, web
from .entrypoints.live import Hub
from .handlers.rebuild import Rebuilds

NAME = "console"
STATIC = Path(__file__).resolve().parent / "static"


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_CONSOLE_", extra="ignore")

    http_port: int = 8700
    # Each console instance keeps its own read model, so each reads every partition: give
    # a second instance its own group.
    consumer_group: str = "console"
    timezone: str = "Asia/Seoul"
    # A partner feed is stale when it has sent nothing of a kind for this long.
    feed_stale_hours: float = Field(default=24.0, gt=0)
    feed_stale_hours_by_kind: dict[str, float] = Field(
        default_factory=lambda: {
            "heartbeat": 2.0,
            "safety_call": 36.0,
            "arrears": 24.0 * 35,
            "blind_spot": 24.0 * 70,
            "hospital_discharge": 24.0 * 7,
            "hospital_admission": 24.0 * 7,
            "device_status": 24.0 * 7,
            "report": 24.0 * 7,
            "sos": 24.0 * 30,
        }
    )
    # Programme KPI targets (JSON in ANBU_CONSOLE_KPI_TARGETS); see domain/kpis.py.
    kpi_targets: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_TARGETS))


def create(
    common: CommonSettings | None = None,
    settings: ConsoleSettings | None = None,
    clock: Clock | None = None,
    registry_transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or ConsoleSettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=MIGRATIONS)
    tx = runtime.transactions(ReadModel)
    hub = Hub()
    consumers.register(runtime, tx, hub, settings.consumer_group)
    rebuilds = Rebuilds(tx, common.kafka_bootstrap, consumers.INPUT_TOPICS)
    registry = RegistryClient(
        common.registry_url, transport=registry_transport, service_token=common.service_token
    )
    runtime.on_shutdown(registry.close)
    console = web.Console(
        runtime,
        registry,
        hub,
        web.Options(
            timezone=settings.timezone,
            feed_stale_hours=settings.feed_stale_hours,
            feed_stale_hours_by_kind=settings.feed_stale_hours_by_kind,
            kpi_targets=settings.kpi_targets,
        ),
    )

    async def load_boundaries() -> None:
        # Decode the map's outlines once at start (about half a second), not on a first click.
        await asyncio.to_thread(dong_outlines)

    runtime.on_startup(rebuilds.prepare)
    runtime.on_startup(load_boundaries)
    runtime.add_background("replay", rebuilds.replay_if_needed)
    app = runtime.build_app("anbu console", "The operators' dashboard.")
    app.state.console = console
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(day_sheet.router(console))
    app.include_router(login.router(console))
    app.include_router(pages.router(console))
    app.include_router(api.router(console, rebuilds))
    app.include_router(district_map.router(console))
    app.include_router(trends.router(console))
    return runtime, app
