"""Wire the detector: settings, database, rules, protocols, timers, consumer, jobs, HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import DETECTOR_ALERT, DETECTOR_ESCALATION
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.config_files import check, load_catalog, load_protocols
from .adapters.migrations import MIGRATIONS
from .adapters.orm import metadata
from .adapters.timers import StepTimers, timers_engine
from .domain.calendar import is_working_day
from .domain.monitor import Monitor
from .entrypoints import consumer, http, jobs
from .handlers import Detector, Setup, repositories

NAME = "detector"


class DetectorSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_DETECTOR_", extra="ignore")

    http_port: int = 8703
    batch_size: int = 5000


def create(
    common: CommonSettings | None = None,
    settings: DetectorSettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or DetectorSettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=MIGRATIONS)
    catalog, protocols = load_catalog(), load_protocols()
    check(catalog, protocols)
    # The holidays package loads a country's calendar on first use (~1 s on this machine):
    # at start, not under the first alert after it (py-spy: 1.4 s of an alert storm's 9 s).
    is_working_day(clock.now().date() if clock else datetime.now(UTC).date())
    setup = Setup(catalog, protocols, Monitor(), common.instance_id)
    detector = Detector(setup, runtime.transactions(repositories(setup), inbox=consumer.GROUP))
    batch = consumer.register(runtime, detector, max_records=settings.batch_size)
    firing = jobs.StepFiring(detector, batch)
    detector.timers = StepTimers(timers_engine(runtime.db.url), runtime.clock, firing)
    runtime.every(jobs.SWEEP_SECONDS, jobs.sweep(detector, batch), name="sweep")
    runtime.every(jobs.FIGURES_SECONDS, jobs.figures(detector), name="figures")
    runtime.declare_publications(DETECTOR_ALERT, DETECTOR_ESCALATION)
    app = runtime.build_app(
        "anbu detector",
        "Turns partner signals into explained alerts and runs escalation protocols on a real "
        "(or shared accelerated) clock with durable timers.",
    )
    app.state.detector = detector
    app.state.consumer = batch
    app.include_router(http.router(runtime, detector, batch))
    return runtime, app
