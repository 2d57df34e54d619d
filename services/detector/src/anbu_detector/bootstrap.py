"""Wire the detector: settings, database, rules, protocols, consumers and HTTP routes."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import DETECTOR_ALERT, DETECTOR_ESCALATION
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.config_files import load_protocols, load_ruleset
from .adapters.orm import metadata
from .entrypoints import consumers, http
from .handlers import Detector

NAME = "detector"


class DetectorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_DETECTOR_", extra="ignore")

    http_port: int = 8703


def create(
    common: CommonSettings | None = None,
    settings: DetectorSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    runtime = ServiceRuntime(
        NAME, common or CommonSettings(), settings or DetectorSettings(), metadata, clock=clock
    )
    detector = Detector(load_ruleset(), load_protocols(), runtime.outbox, runtime.clock)
    consumers.register(runtime, detector)
    runtime.declare_publications(DETECTOR_ALERT, DETECTOR_ESCALATION)
    app = runtime.build_app(
        "anbu detector",
        "Turns partner signals into explained alerts and runs escalation protocols.",
    )
    app.include_router(http.router(runtime))
    return runtime, app
