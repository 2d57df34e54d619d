"""Wire outreach: settings, database, consumers and HTTP routes."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import NOTIFY_REQUEST, OUTREACH_OUTCOME, OUTREACH_TASK
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.orm import metadata
from .adapters.registry_client import RegistryClient
from .entrypoints import consumers, http
from .handlers import Outreach

NAME = "outreach"


class OutreachSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_OUTREACH_", extra="ignore")

    http_port: int = 8704


def create(
    common: CommonSettings | None = None,
    settings: OutreachSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    runtime = ServiceRuntime(NAME, common, settings or OutreachSettings(), metadata, clock=clock)
    outreach = Outreach(runtime.outbox, runtime.clock, common.outreach_public_url)
    registry = RegistryClient(common.registry_url, common.service_token)
    runtime.on_shutdown(registry.close)
    consumers.register(runtime, outreach, registry)
    runtime.declare_publications(OUTREACH_TASK, OUTREACH_OUTCOME, NOTIFY_REQUEST)
    app = runtime.build_app(
        "anbu outreach",
        "Turns protocol steps into tasks for people, assigns them and records outcomes.",
    )
    app.include_router(http.router(runtime, outreach))
    return runtime, app
