"""The shell every service process runs in.

A :class:`ServiceRuntime` owns the service's database, producer, FastStream broker,
outbox relay, clock and background tasks, and builds the FastAPI application that serves
``/healthz``, ``/readyz`` and ``/metrics`` beside the service's own routes. Kafka and the
database are connected in the background with retries, so a service started before the
broker comes up simply reports "not ready" until it can work.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import MetaData
from sqlmodel import Session

from anbu_contracts.topics import Topic

from .clock import Clock, clock_from
from .clock_route import install_clock_route
from .db import Database
from .jobs import every
from .kafka import RecordProducer, build_broker
from .logs import configure_logging, get_logger
from .metrics import MESSAGES_CONSUMED
from .middleware import BodyLimit, Measure, NoStore
from .outbox import Inbox, Outbox, install
from .problems import install_problem_handlers, problem_response
from .settings import CommonSettings, ServiceSettings, UnsafeSecrets
from .snapshots import SnapshotFollower
from .uow import Transactions

log = get_logger(__name__)

Background = Callable[[asyncio.Event], Awaitable[None]]
ReadyCheck = Callable[[], Awaitable[bool]]
R = TypeVar("R")


class ServiceRuntime:
    def __init__(
        self,
        name: str,
        common: CommonSettings,
        settings: ServiceSettings,
        metadata: MetaData,
        *,
        clock: Clock | None = None,
        migrate: Callable[[Database], None] | None = None,
    ) -> None:
        self.name = name
        self._migrate = migrate
        self.common = common
        self.settings = settings
        self.metadata = metadata
        self.tables = install(metadata)
        self.db = Database(settings.resolved_database_url(common, name))
        self.outbox = Outbox(self.tables, name)
        self.producer = RecordProducer(common.kafka_bootstrap, name)
        self.broker: KafkaBroker = build_broker(common.kafka_bootstrap, name, self.producer)
        # Never started: documents subscriptions served by batch consumers (AsyncAPI).
        self.spec_broker = KafkaBroker(common.kafka_bootstrap, client_id=name, logger=None)
        self.clock: Clock = clock or clock_from(*common.clock_params())
        self._background: list[tuple[str, Background]] = [("outbox-relay", self._relay)]
        self._ready_checks: list[tuple[str, ReadyCheck]] = []
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self._shutdown: list[Callable[[], Awaitable[None]]] = []
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.connected = False
        self._unset_keys: list[str] = []
        self._placeholder_keys: list[str] = []

    # -- composition -----------------------------------------------------------------

    def require_key_setting(self, variable: str, *values: str) -> None:
        """Key settings (named together by ``variable``) this service needs outside development.

        Unset, the service falls back to development keys under ``var/secrets``; set to a
        placeholder (an all-zero key, as in the published compose example), it would seal
        with a key everyone knows. Either way, with ``ANBU_ENV`` other than ``dev`` it
        refuses to start, naming the variable.
        """
        if not all(values):
            self._unset_keys.append(variable)
        elif any(_has_zero_key(value) for value in values):
            self._placeholder_keys.append(variable)

    def require_safe_secrets(self) -> None:
        """Raise :class:`UnsafeSecrets` when a secret or key is unfit outside development."""
        self.common.require_safe_secrets(self._unset_keys, self._placeholder_keys)

    def declare_publications(self, *topics: Topic) -> None:
        """Declare what this service publishes (through its outbox) for the AsyncAPI document."""
        for topic in topics:
            self.broker.publisher(
                topic.name,
                title=f"{self.name}:{topic.name}",
                description=topic.description,
                schema=topic.model,
            )

    def follow_snapshots(
        self, topics: Sequence[Topic], apply: Callable[[list[BaseModel]], Awaitable[None]]
    ) -> SnapshotFollower:
        """Keep a local cache of compacted topics; the service is not ready until it is warm."""
        follower = SnapshotFollower(
            self.name, self.common.kafka_bootstrap, topics, apply, self.producer
        )
        self.add_background("snapshots", follower.run)
        self.add_ready_check("snapshots", follower.ready)
        return follower

    def declare_subscription(
        self, topics: Sequence[Topic], payload: Any, *, title: str, description: str
    ) -> None:
        """Document a subscription served outside FastStream (a batch consumer) in AsyncAPI."""

        async def consumes(event: Any) -> None:  # documentation only: never started
            return None

        consumes.__annotations__ = {"event": payload, "return": None}
        self.spec_broker.subscriber(
            *(t.name for t in topics), group_id=title, title=title, description=description
        )(consumes)

    def inbox(self, consumer: str) -> Inbox:
        return Inbox(self.tables, consumer)

    def transactions(
        self, repositories: Callable[[Session], R], *, inbox: str | None = None
    ) -> Transactions[R]:
        """Units of work over this service's database, outbox and clock (see :mod:`.uow`).

        ``inbox`` names the consumer whose applied message ids make handling idempotent.
        """
        return Transactions(
            self.db,
            self.outbox,
            self.clock,
            repositories,
            inbox=self.inbox(inbox) if inbox else None,
            service=self.name,
        )

    def every(
        self,
        interval: float | Callable[[], float],
        fn: Callable[[], Awaitable[object]],
        *,
        name: str,
        drain: bool = False,
        first: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Run ``fn`` every ``interval`` seconds once Kafka is up (see :func:`.jobs.every`)."""
        self.add_background(
            name, every(interval, fn, name=name, service=self.name, drain=drain, first=first)
        )

    async def apply_once(
        self, inbox: Inbox, message_id: str, change: Callable[[Session], None]
    ) -> bool:
        """Apply ``change`` in one transaction unless ``message_id`` was applied before.

        The inbox row, the state change and any outbox rows commit together; the relay is
        woken afterwards. Returns False for a redelivered message.
        """

        def transaction(session: Session) -> bool:
            if not inbox.first_time(session, message_id):
                return False
            change(session)
            return True

        applied = await self.db.run(transaction)
        if applied:
            self.outbox.notify()
        else:
            MESSAGES_CONSUMED.labels(self.name, "*", "duplicate").inc()
        return applied

    def add_background(self, name: str, task: Background) -> None:
        """Run ``task(stop_event)`` once Kafka is connected; it must return when stop is set."""
        self._background.append((name, task))

    def add_ready_check(self, name: str, check: ReadyCheck) -> None:
        self._ready_checks.append((name, check))

    def on_startup(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run ``fn`` after the database is ready and before Kafka connects."""
        self._startup.append(fn)

    def on_shutdown(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown.append(fn)

    # -- lifecycle ---------------------------------------------------------------------

    async def _relay(self, stop: asyncio.Event) -> None:
        await self.outbox.relay(
            self.db, self.producer.send_batch, owner=self.common.instance_id, stop=stop
        )

    async def _connect(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                if not self.producer.started:
                    await self.producer.start()
                await self.broker.start()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("kafka not reachable yet; retrying", error=str(exc), delay_s=delay)
                with suppress(Exception):
                    await self.broker.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        else:
            return
        self.connected = True
        log.info("connected to kafka", bootstrap=self.common.kafka_bootstrap)
        for name, task in self._background:
            self._tasks.append(asyncio.create_task(self._supervise(name, task), name=name))

    async def _supervise(self, name: str, task: Background) -> None:
        while not self._stop.is_set():
            try:
                await task(self._stop)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task crashed; restarting", task=name)
                await asyncio.sleep(1.0)

    async def start(self) -> None:
        # Before anything else: a production process never serves with a public secret.
        self.require_safe_secrets()
        if self._migrate is not None:
            with self.db.schema_lock():  # replicas starting together migrate one at a time
                self._migrate(self.db)  # Alembic migrations of services that have them
        else:
            self.db.create_all(self.metadata)
        for fn in self._startup:
            await fn()
        self._tasks.append(asyncio.create_task(self._connect(), name="connect"))

    async def stop(self) -> None:
        log.info("shutting down")
        self._stop.set()
        self.outbox.notify()
        with suppress(Exception):
            await self.broker.stop()
        for task in self._tasks:
            if not task.done():
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=5)
                except (TimeoutError, asyncio.CancelledError):
                    task.cancel()
                except Exception:
                    log.exception("task failed during shutdown", task=task.get_name())
        for fn in reversed(self._shutdown):
            with suppress(Exception):
                await fn()
        await self.producer.stop()
        self.db.dispose()

    async def readiness(self) -> dict[str, bool]:
        checks = {"kafka": self.connected and await self.producer.ping()}
        checks["database"] = await self.db.ping()
        for name, check in self._ready_checks:
            try:
                checks[name] = await check()
            except Exception:
                checks[name] = False
        return checks

    # -- HTTP --------------------------------------------------------------------------

    def build_app(
        self,
        title: str,
        description: str = "",
        version: str = "0.1.0",
        *,
        body_limits: Mapping[str, int | None] | None = None,
    ) -> FastAPI:
        """The service's FastAPI app with the operational routes and the shared middleware.

        Request bodies over ``ANBU_HTTP_MAX_BODY_BYTES`` are refused (413) before they are
        read; ``body_limits`` gives upload routes (path prefix → bytes) their own limit.
        Every answer not setting its own ``Cache-Control`` gets ``no-store``.
        """
        runtime = self

        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await runtime.start()
            try:
                yield
            finally:
                await runtime.stop()

        app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
        app.state.runtime = runtime
        app.state.service_token = runtime.common.service_token
        app.state.auth_secret = runtime.common.auth_secret
        install_problem_handlers(app)
        # Added first, so they sit inside the measuring middleware below: refused bodies
        # are counted like any other answer.
        app.add_middleware(NoStore)
        app.add_middleware(
            BodyLimit, default=runtime.common.http_max_body_bytes, limits=body_limits
        )

        app.add_middleware(Measure, service=runtime.name)

        @app.get("/healthz", tags=["operations"], summary="Liveness")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": runtime.name}

        @app.get("/readyz", tags=["operations"], summary="Readiness: Kafka and database reachable")
        async def readyz(request: Request) -> Response:
            checks = await runtime.readiness()
            if all(checks.values()):
                return JSONResponse({"status": "ready", "checks": checks})
            return problem_response(
                request, 503, "Service unavailable", "not ready", extensions={"checks": checks}
            )

        @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
        async def metrics() -> Response:
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        install_clock_route(app, runtime.clock)
        return app


def _has_zero_key(setting: str) -> bool:
    """Whether a key setting (``id:base64,...`` or plain base64) holds an all-zero key."""
    for item in setting.split(","):
        encoded = item.strip().rpartition(":")[2]
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue  # not base64: the service's own parser reports it
        if key and not any(key):
            return True
    return False


def serve(app: FastAPI, runtime: ServiceRuntime) -> None:
    """Run the service until SIGINT or SIGTERM, then shut down gracefully.

    Exits non-zero when the service cannot start (unsafe secrets, a failed startup).
    """
    configure_logging(runtime.name, runtime.common.log_level, runtime.common.log_format)
    try:
        runtime.require_safe_secrets()
    except UnsafeSecrets as exc:
        log.error("refusing to start", reason=str(exc))
        raise SystemExit(f"{runtime.name}: refusing to start: {exc}") from None
    config = uvicorn.Config(
        app,
        host=runtime.settings.http_host,
        port=runtime.settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:  # uvicorn returns normally when the lifespan startup failed
        raise SystemExit(3)
