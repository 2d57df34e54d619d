"""Wire the registry: settings, migrations, PII cipher, consumers, HTTP routes and the seed."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import OPS_JOB, REGISTRY_CASE, REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.clock import Clock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.migrations import upgrade
from .adapters.orm import metadata
from .adapters.pii import cipher_from_settings
from .adapters.repository import Repositories
from .adapters.seed import seeding
from .entrypoints import consumers, http
from .handlers import import_jobs, users
from .handlers.common import Context

NAME = "registry"


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_REGISTRY_", extra="ignore")

    http_port: int = 8701
    # "id:base64key,id:base64key", newest first; empty means development keys under var/.
    pii_keys: str = ""
    blind_index_key: str = ""
    seed_file: Path | None = None
    # Largest CSV upload to POST /v1/imports/households (spooled to disk while it is read).
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    # Worker processes that validate and seal an import's batches (0: in the request's thread).
    import_workers: int = Field(default_factory=lambda: min(os.cpu_count() or 1, 4), ge=0, le=32)


def create(
    common: CommonSettings | None = None,
    settings: RegistrySettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or RegistrySettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=upgrade)
    runtime.require_key_setting(
        "ANBU_REGISTRY_PII_KEYS and ANBU_REGISTRY_BLIND_INDEX_KEY",
        settings.pii_keys,
        settings.blind_index_key,
    )
    cipher = cipher_from_settings(settings.pii_keys, settings.blind_index_key, common.var_dir)
    ctx = Context(cipher)
    tx = runtime.transactions(lambda session: Repositories(session, ctx))

    if settings.seed_file is not None:
        runtime.on_startup(seeding(tx, settings.seed_file))

    consumers.register(runtime, ctx)
    speed = getattr(runtime.clock, "speed", 1.0)  # an accelerated clock runs faster

    async def interrupt_stalled_imports() -> None:
        await tx.run(lambda uow: import_jobs.interrupt_stalled(uow, speed))

    runtime.every(60.0, interrupt_stalled_imports, name="stalled-imports")

    async def forget_old_login_failures() -> None:
        await tx.run(users.forget_old_failures)

    runtime.every(3600.0, forget_old_login_failures, name="login-throttle-pruning")
    runtime.declare_publications(REGISTRY_HOUSEHOLD, REGISTRY_WORKER, REGISTRY_CASE, OPS_JOB)
    app = runtime.build_app(
        "anbu registry",
        "The system of record: households, people, consent, tiers, staff, partners, cases, "
        "the consultation log and the audit log. Personal data is sealed at rest and every "
        "read of it is audited.",
        body_limits={"/v1/imports/households": settings.import_max_bytes},  # and /jobs
    )
    app.state.registry_context = ctx
    app.include_router(http.router(tx, common, cipher, settings.import_workers))
    return runtime, app
