"""Wire the registry: settings, database, PII cipher, HTTP routes and the seed."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.orm import metadata
from .adapters.pii import cipher_from_settings
from .adapters.seed import load_seed
from .entrypoints import http
from .handlers import Registry

NAME = "registry"
log = get_logger(__name__)


class RegistrySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_REGISTRY_", extra="ignore")

    http_port: int = 8701
    # "id:base64key,id:base64key", newest first; empty means development keys under var/.
    pii_keys: str = ""
    blind_index_key: str = ""
    seed_file: Path | None = None


def create(
    common: CommonSettings | None = None,
    settings: RegistrySettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or RegistrySettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock)
    cipher = cipher_from_settings(settings.pii_keys, settings.blind_index_key, common.var_dir)
    registry = Registry(cipher, runtime.outbox, runtime.clock)

    if settings.seed_file is not None:
        seed_file = settings.seed_file

        async def seed() -> None:
            households, workers = await runtime.db.run(lambda s: load_seed(s, registry, seed_file))
            if households or workers:
                log.info("seed loaded", households=households, workers=workers, file=str(seed_file))

        runtime.on_startup(seed)

    runtime.declare_publications(REGISTRY_HOUSEHOLD, REGISTRY_WORKER)
    app = runtime.build_app(
        "anbu registry",
        "The system of record: households, people, consent, staff, partners, cases, audit.",
    )
    app.include_router(http.router(runtime, registry))
    return runtime, app
