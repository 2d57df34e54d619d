"""Wire outreach: settings, database, roster, consumers, the offer sweep, the daily
routine-contact run, the REST API and the field app."""

from __future__ import annotations

from datetime import time, timedelta

from fastapi import FastAPI
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import NOTIFY_REQUEST, OUTREACH_OUTCOME, OUTREACH_TASK
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.migrations import MIGRATIONS
from .adapters.orm import metadata
from .adapters.registry_client import RegistryClient
from .adapters.repository import repositories
from .adapters.roster import Roster
from .domain.availability import AvailabilityRules
from .entrypoints import consumers, field_app, http, jobs
from .entrypoints.service import TaskService
from .handlers import caches
from .handlers.context import Context, Policy

NAME = "outreach"
log = get_logger(__name__)


class OutreachSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANBU_OUTREACH_", extra="ignore", populate_by_name=True
    )

    http_port: int = 8704
    # How long a person has to answer an offer (service clock), and a floor in real
    # seconds so that people can answer under an accelerated clock.
    offer_window_urgent: timedelta = timedelta(minutes=15)
    offer_window_routine: timedelta = timedelta(hours=2)
    offer_min_real_seconds: float = Field(default=30.0, ge=0)
    # A task nobody accepted expires this long after its deadline.
    task_expiry_grace: timedelta = timedelta(hours=24)
    # How often an unassigned task tries its vacant slots again.
    vacancy_retry: timedelta = timedelta(minutes=15)
    # Night hours (local): only duty-rostered staff are reachable.
    night_start: time = time(22, 0)
    night_end: time = time(7, 0)
    # Staff with no shifts and no duty slots on record count as reachable (transition).
    unrostered_available: bool = True
    # The daily routine-contact run (local time of the deployment's timezone).
    routine_run_at: time = time(9, 0)
    timezone: str = "Asia/Seoul"
    sweep_interval_s: float = Field(default=1.0, gt=0)
    figures_interval_s: float = Field(default=30.0, gt=0)
    console_public_url: str = Field(
        default="http://127.0.0.1:8700",
        validation_alias=AliasChoices(
            "ANBU_CONSOLE_PUBLIC_URL", "ANBU_OUTREACH_CONSOLE_PUBLIC_URL"
        ),
    )


def policy_of(common: CommonSettings, settings: OutreachSettings) -> Policy:
    return Policy(
        offer_window_urgent=settings.offer_window_urgent,
        offer_window_routine=settings.offer_window_routine,
        offer_min_real_seconds=settings.offer_min_real_seconds,
        task_expiry_grace=settings.task_expiry_grace,
        vacancy_retry=settings.vacancy_retry,
        rules=AvailabilityRules(
            night_start=settings.night_start,
            night_end=settings.night_end,
            unrostered_available=settings.unrostered_available,
        ),
        public_url=common.outreach_public_url,
        console_url=settings.console_public_url,
        timezone=settings.timezone,
    )


def create(
    common: CommonSettings | None = None,
    settings: OutreachSettings | None = None,
    clock: Clock | None = None,
    registry: RegistryClient | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or OutreachSettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=MIGRATIONS)
    ctx = Context(runtime.clock, Roster(), policy_of(common, settings))
    bundle = repositories(ctx)
    tx = runtime.transactions(bundle)
    registry = registry or RegistryClient(common.registry_url, common.service_token)
    runtime.on_shutdown(registry.close)

    async def warm_roster() -> None:
        count = await tx.read(caches.load_roster)
        log.info("roster loaded from the cache", workers=count)

    runtime.on_startup(warm_roster)
    follower = consumers.register(runtime, tx, bundle, registry)
    runtime.declare_publications(OUTREACH_TASK, OUTREACH_OUTCOME, NOTIFY_REQUEST)

    daily = jobs.register(
        runtime,
        tx,
        ctx,
        follower,
        sweep_interval_s=settings.sweep_interval_s,
        figures_interval_s=settings.figures_interval_s,
        routine_at=settings.routine_run_at,
        timezone=settings.timezone,
    )

    service = TaskService(tx, ctx)
    app = runtime.build_app(
        "anbu outreach",
        "Turns protocol steps and due contacts into tasks for people, assigns and offers "
        "them fairly and safely, and records what people found. The field app for staff "
        "is served under /app.",
    )
    app.state.outreach = ctx
    app.state.transactions = tx
    app.state.daily_run = daily
    app.include_router(http.router(service))
    app.include_router(
        field_app.router(
            field_app.FieldApp(
                service, registry, common.auth_secret, runtime.clock, settings.timezone
            )
        )
    )
    return runtime, app
