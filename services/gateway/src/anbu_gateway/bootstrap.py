"""Wire the gateway: settings, the registry client, the submission log, files and the form."""

from __future__ import annotations

import gc
import os
from datetime import timedelta

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from anbu_contracts.topics import OPS_JOB, SIGNAL_TOPICS
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.sealing import sealer_from_setting
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .adapters.migrations import upgrade
from .adapters.ndjson_bodies import INLINE_BELOW_BYTES
from .adapters.orm import metadata
from .adapters.registry_client import RegistryClient
from .adapters.repository import GatewayRepository
from .adapters.validation_pool import ValidationPool
from .domain.rate_limit import RateLimiter
from .domain.rewards import RewardPolicy
from .entrypoints import files_http, http, jobs, operators, reporter
from .entrypoints.partners import PartnerGate
from .handlers.file_intake import FileIntake, FileSettings
from .handlers.file_worker import FileWorker
from .handlers.publishing import Publisher
from .handlers.report_access import ReportSettings
from .handlers.reports import SafetyNet

NAME = "gateway"
log = get_logger(__name__)


def default_validation_processes() -> int:
    """One validation worker a core this process may run on, less the gateway's own (at
    least one, at most 16)."""
    return max(1, min(16, len(os.sched_getaffinity(0)) - 1))


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANBU_GATEWAY_", extra="ignore")

    http_port: int = 8702
    # Where reporters' invitation links point (the gateway as the public sees it).
    public_url: str = "http://127.0.0.1:8702"
    # Partner keys: how long a verified key is trusted, and an unknown one remembered.
    key_cache_seconds: float = Field(default=60.0, ge=0)
    key_failure_cache_seconds: float = Field(default=5.0, ge=0)
    batch_max_lines: int = Field(default=10_000, ge=1)
    batch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    # NDJSON bodies smaller than this are read in the event loop, larger ones in a
    # validation worker (adapters/ndjson_bodies.py: where the crossover was measured).
    batch_inline_bytes: int = Field(default=INLINE_BELOW_BYTES, ge=0)
    file_max_bytes: int = Field(default=2 * 1024**3, ge=1024)
    file_chunk_rows: int = Field(default=5_000, ge=1, le=50_000)
    file_workers: int = Field(default=2, ge=1, le=16)
    # Worker processes validating and serialising NDJSON batches and file chunks (0: a
    # thread of the gateway's own process). Default: one a core beside the gateway's own
    # (1 on 2 cores: as fast as 2 there, 55 MiB less; docs/performance.md, gateway).
    validation_processes: int = Field(default_factory=default_validation_processes, ge=0, le=16)
    max_reported_errors: int = Field(default=1000, ge=1)
    # A pending record whose send attempt is older than this is taken over and reconciled.
    pending_lease_seconds: float = Field(default=60.0, gt=0)
    # How long the gateway itself remembers published partner event ids (downstream
    # consumers deduplicate by partner:partner_event_id beyond this).
    dedupe_days: int = Field(default=30, ge=1)
    report_partner_id: str = Field(default="safety-net", pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    reports_per_hour: int = Field(default=20, ge=1)
    reward_per_report_krw: int = Field(default=50_000, ge=0)
    reward_yearly_cap_krw: int = Field(default=300_000, ge=0)
    reward_repeat_window_days: int = Field(default=7, ge=0)
    # Keys sealing reports' notes and addresses at rest (AES-256-GCM), ``id:base64key`` pairs,
    # newest first (older ones still open what they sealed). Empty: a development key
    # generated once into var/secrets/gateway-dev-keys.json; set real keys in production.
    report_keys: str = Field(default="", repr=False)


async def _freeze_startup_objects() -> None:
    """Leave what exists after start-up (modules, pydantic schemas, routes) out of the
    garbage collector's full collections.

    Every NDJSON batch of 1,000 lines unpickles ~10,000 short-lived objects from a worker;
    the collections they trigger walked the whole start-up heap each time, ~8 % of the
    gateway's process under the benchmark (docs/performance.md). Collected first, so no
    garbage is kept; reference counting still frees what is frozen.
    """
    gc.collect()
    gc.freeze()


def create(
    common: CommonSettings | None = None,
    settings: GatewaySettings | None = None,
    clock: Clock | None = None,
) -> tuple[ServiceRuntime, FastAPI]:
    common = common or CommonSettings()
    settings = settings or GatewaySettings()
    runtime = ServiceRuntime(NAME, common, settings, metadata, clock=clock, migrate=upgrade)
    runtime.require_key_setting("ANBU_GATEWAY_REPORT_KEYS", settings.report_keys)
    runtime.declare_publications(*SIGNAL_TOPICS.values(), OPS_JOB)

    registry = RegistryClient(
        common.registry_url,
        common.service_token,
        key_ttl=settings.key_cache_seconds,
        failure_ttl=settings.key_failure_cache_seconds,
    )
    limiter = RateLimiter()
    lease = timedelta(seconds=settings.pending_lease_seconds)
    tx = runtime.transactions(GatewayRepository)
    publisher = Publisher(runtime, lease=lease, tx=tx)
    file_settings = FileSettings(
        upload_dir=common.var_dir / NAME / "uploads",
        chunk_rows=settings.file_chunk_rows,
        max_reported_errors=settings.max_reported_errors,
        lease=lease,
    )
    pool = ValidationPool(settings.validation_processes)
    intake = FileIntake(tx, file_settings)
    worker = FileWorker(runtime, publisher, limiter, file_settings, pool)
    net = SafetyNet(
        runtime,
        publisher,
        ReportSettings(
            partner_id=settings.report_partner_id,
            public_url=settings.public_url,
            reports_per_hour=settings.reports_per_hour,
        ),
        RewardPolicy(
            per_report_krw=settings.reward_per_report_krw,
            yearly_cap_krw=settings.reward_yearly_cap_krw,
            repeat_window_days=settings.reward_repeat_window_days,
        ),
        registry,
        sealer_from_setting(
            settings.report_keys, common.var_dir / "secrets" / "gateway-dev-keys.json"
        ),
    )

    jobs.register(
        runtime,
        worker,
        publisher,
        file_workers=settings.file_workers,
        dedupe_days=settings.dedupe_days,
    )

    async def recover() -> None:
        # Parts of uploads interrupted by a crash have no submission: remove them.
        directory = file_settings.upload_dir
        directory.mkdir(parents=True, exist_ok=True)
        for part in directory.glob("incoming-*.part"):
            part.unlink(missing_ok=True)
        # With a stable ANBU_INSTANCE_ID a restarted instance resumes its own files at once
        # (otherwise another instance, or this one, takes them over when the lease expires).
        released = await tx.run(lambda uow: uow.repos.release_claims(common.instance_id))
        if released:
            log.info("resuming files of this instance's previous run", submissions=released)

    runtime.on_startup(recover)
    runtime.on_startup(_freeze_startup_objects)
    runtime.on_shutdown(net.drain)  # a report's send in flight finishes (else: the sweeper)
    runtime.on_shutdown(registry.close)
    runtime.on_shutdown(pool.close)

    app = runtime.build_app(
        "anbu gateway",
        "The partners' edge: authenticated signal ingest (one signal, NDJSON batches, CSV "
        "files) and the human safety net's reporter form. Errors are RFC 9457 problems.",
        # The upload routes stream and check their own limits; a multipart envelope around
        # a file is allowed a little over the file's.
        body_limits={
            "/v1/batches": settings.batch_max_bytes,
            "/v1/files": settings.file_max_bytes + 1024 * 1024,
        },
    )
    gate = PartnerGate(registry, limiter)
    app.include_router(
        http.router(
            runtime,
            gate,
            publisher,
            pool,
            batch_max_lines=settings.batch_max_lines,
            batch_max_bytes=settings.batch_max_bytes,
            batch_inline_bytes=settings.batch_inline_bytes,
        )
    )
    app.include_router(
        files_http.router(gate, intake, worker, file_max_bytes=settings.file_max_bytes)
    )
    app.include_router(operators.router(net, registry))
    app.include_router(reporter.router(net))
    return runtime, app
