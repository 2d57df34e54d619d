"""Wire the detector: settings, database, rules, protocols, timers, consumer, HTTP routes."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import DETECTOR_ALERT, DETECTOR_ESCALATION
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.config_files import check, load_catalog, load_protocols
from .adapters.orm import metadata
from .adapters.timers import StepTimers, timers_engine
from .domain.monitor import Monitor
from .entrypoints import consumer, http
from .handlers import Detector

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
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock)
    catalog, protocols = load_catalog(), load_protocols()
    check(catalog, protocols)
    detector = Detector(
        catalog=catalog,
        protocols=protocols,
        db=runtime.db,
        outbox=runtime.outbox,
        inbox=runtime.inbox(consumer.GROUP),
        clock=runtime.clock,
        monitor=Monitor(),
        instance=common.instance_id,
    )
    batch = consumer.register(runtime, detector, max_records=settings.batch_size)

    due: list[str] = []

    async def fire(escalation_id: str) -> None:
        if not batch.caught_up:
            # After a restart, apply the backlog (an outcome may have closed the protocol
            # while the detector was down) before overdue steps run: try again shortly.
            await detector.defer(escalation_id)
            return
        # Timers that go off while another firing holds the lock wait in ``due``; whoever
        # gets the lock next runs them all in one transaction (a burst of due steps costs
        # one commit, not one per escalation).
        due.append(escalation_id)
        async with batch.lock:  # one writer of the detector's state at a time
            if not due:
                return  # an earlier caller ran this one
            ids = list(dict.fromkeys(due))
            due.clear()
            await detector.fire_many(ids)

    detector.timers = StepTimers(timers_engine(runtime.db.url), runtime.clock, fire)
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
