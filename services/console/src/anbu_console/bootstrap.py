"""Wire the console: settings, read-model database, consumer and pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic_settings import SettingsConfigDict

from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.orm import metadata
from .entrypoints import consumers, web

NAME = "console"
STATIC = Path(__file__).resolve().parent / "static"


class ConsoleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_CONSOLE_", extra="ignore")

    http_port: int = 8700


def create(
    common: CommonSettings | None = None,
    settings: ConsoleSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(
        NAME, common or CommonSettings(), settings or ConsoleSettings(), metadata, clock=clock
    )
    consumers.register(runtime)
    app = runtime.build_app("anbu console", "The operators' dashboard.")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(web.router(runtime))
    return runtime, app
