"""Wire the gateway: settings, the partner keys, and the ingest API."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict
from sqlalchemy import MetaData

from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .entrypoints import http

NAME = "gateway"


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_GATEWAY_", extra="ignore")

    http_port: int = 8702
    # "partner_id:key,..." — development keys; the registry manages partner keys later.
    api_keys: str = "demo-partner:demo-key"


def create(
    common: CommonSettings | None = None,
    settings: GatewaySettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(NAME, common or CommonSettings(), settings, MetaData(), clock=clock)
    runtime.declare_publications(*SIGNAL_TOPICS.values())
    app = runtime.build_app(
        "anbu gateway",
        "The partners' edge: authenticated signal ingest. Errors are RFC 9457 problems.",
    )
    app.include_router(http.router(runtime, http.PartnerKeys(settings.api_keys)))
    return runtime, app
