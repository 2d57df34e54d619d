"""A city under test: every service twice, on a three-broker cluster and PostgreSQL of its own.

The fault cases kill brokers and stop PostgreSQL, so nothing here touches the shared test
broker or database: deploy/kafka.sh (cluster mode) and deploy/postgres.sh run under a
temporary directory on ports 31000–31999. The service processes are an ordinary
:class:`~anbu_runtime.processes.Stack` kept alive by the :mod:`anbu_runtime.supervisor`
that ``make run`` uses, with its default restart policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import create_engine, text

from anbu_contracts.topics import TOPICS_BY_NAME
from anbu_runtime.processes import Stack
from anbu_runtime.supervisor import RestartPolicy, run_supervised

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registry", "gateway", "detector", "outreach", "notifier", "console")
INSTANCES = (1, 2)
KAFKA_PORT = 31092  # nodes on 31092, 31094, 31096 (their controllers one above)
PG_PORT = 31432
HTTP_BASE = 31700  # service k, instance i on HTTP_BASE + 10k + i; its front on + 9
TOKEN = "faults-service-token"
SEED = ROOT / "deploy" / "seed" / "demo.yaml"


def instance(service: str, number: int) -> str:
    return f"{service}-{number}"


def http_port(service: str, number: int) -> int:
    return HTTP_BASE + 10 * SERVICES.index(service) + number


def front_port(service: str) -> int:
    return HTTP_BASE + 10 * SERVICES.index(service) + 9


def _run(script: str, env: Mapping[str, str], *args: str) -> None:
    subprocess.run([str(ROOT / "deploy" / script), *args], env=dict(env), check=True)


@dataclass
class KafkaCluster:
    """deploy/kafka.sh in cluster mode: three KRaft nodes, replication 3, min ISR 2."""

    directory: Path
    port: int = KAFKA_PORT
    nodes: int = 3

    def env(self, node: int | None = None) -> dict[str, str]:
        env = dict(
            os.environ,
            ANBU_KAFKA_NODES=str(self.nodes),
            ANBU_KAFKA_PORT=str(self.port),
            ANBU_KAFKA_DIR=str(self.directory),
            ANBU_KAFKA_HEAP="384m",
        )
        env.pop("ANBU_KAFKA_NODE", None)
        if node is not None:
            env["ANBU_KAFKA_NODE"] = str(node)
        return env

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.port + 2 * n}" for n in range(self.nodes))

    def start(self, node: int | None = None) -> None:
        _run("kafka.sh", self.env(node), "start")

    def stop(self, node: int | None = None) -> None:
        _run("kafka.sh", self.env(node), "stop")

    def kill(self, node: int) -> None:
        """SIGKILL one node: no controlled shutdown, no leadership handed over."""
        pid_file = self.directory / f"node-{node}" / "kafka.pid"
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
        while _alive(pid):
            time.sleep(0.05)

    def create_topics(self) -> None:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "anbu_runtime.topic_admin",
                "create",
                "--bootstrap",
                self.bootstrap,
                "--replication-factor",
                str(self.nodes),
            ],
            check=True,
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (killed, not yet reaped by its parent, the shell that started it) is gone too.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


@dataclass
class Postgres:
    """deploy/postgres.sh on a port and directory of the suite's own."""

    directory: Path
    port: int = PG_PORT

    def env(self) -> dict[str, str]:
        return dict(os.environ, ANBU_PG_PORT=str(self.port), ANBU_PG_DIR=str(self.directory))

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://anbu@127.0.0.1:{self.port}/anbu_test"

    def schema_url(self, schema: str) -> str:
        return f"{self.url}?options=-csearch_path%3D{schema}"

    def start(self) -> None:
        _run("postgres.sh", self.env(), "start")

    def stop(self) -> None:
        _run("postgres.sh", self.env(), "stop")

    def create_schemas(self, schemas: Iterator[str] | tuple[str, ...]) -> None:
        engine = create_engine(self.url)
        with engine.begin() as conn:
            for schema in schemas:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        engine.dispose()

    def grouped(self, schema: str, sql: str) -> dict[str, set[str]]:
        """Rows of (key, value) from one service's schema, as the values found per key."""
        engine = create_engine(self.schema_url(schema))
        found: dict[str, set[str]] = defaultdict(set)
        try:
            with engine.connect() as conn:
                for key, value in conn.execute(text(sql)):
                    found[str(key)].add(str(value))
        finally:
            engine.dispose()
        return found


class FailoverFront:
    """What a city puts in front of a service's replicas: each connection goes to the first
    instance that accepts it, so a killed instance costs callers a refused connect, not an
    outage. (Requests in flight on the killed instance fail, as behind any load balancer.)"""

    def __init__(self, port: int, backends: list[int]) -> None:
        self.port = port
        self.backends = backends
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=f"front-{port}")
        self._thread.start()
        self._started.wait(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._relay, "127.0.0.1", self.port)
        )
        self._started.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for offset in range(len(self.backends)):
            # Start from a different replica each time, as round-robin balancers do.
            port = self.backends[(id(writer) // 16 + offset) % len(self.backends)]
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection("127.0.0.1", port)
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(OSError):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@dataclass
class City:
    """Two instances of every service, supervised, behind failover fronts."""

    var_dir: Path
    kafka: KafkaCluster
    postgres: Postgres
    stack: Stack = field(init=False)
    fronts: list[FailoverFront] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        names = {instance(s, n): s for s in SERVICES for n in INSTANCES}
        env = {
            "ANBU_ENV": "dev",
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_KAFKA_BOOTSTRAP": self.kafka.bootstrap,
            "ANBU_REGISTRY_URL": self.front_url("registry"),
            "ANBU_OUTREACH_PUBLIC_URL": self.front_url("outreach"),
            "ANBU_GATEWAY_PUBLIC_URL": self.front_url("gateway"),
            "ANBU_LOG_LEVEL": "INFO",
        }
        for service in SERVICES:
            env[f"ANBU_{service.upper()}_DATABASE_URL"] = self.postgres.schema_url(service)
        self.stack = Stack(
            var_dir=self.var_dir,
            env=env,
            ports={name: http_port(s, int(name[-1])) for name, s in names.items()},
            instances=names,
            # Only the first registry loads the seed: it is loaded when the registry is empty,
            # and two replicas finding it empty together would both load it.
            env_for={
                name: {"ANBU_INSTANCE_ID": name}
                | ({"ANBU_REGISTRY_SEED_FILE": str(SEED)} if name == "registry-1" else {})
                for name in names
            },
        )

    @staticmethod
    def front_url(service: str) -> str:
        return f"http://127.0.0.1:{front_port(service)}"

    @staticmethod
    def url(service: str, number: int) -> str:
        return f"http://127.0.0.1:{http_port(service, number)}"

    def start(self) -> None:
        self.postgres.create_schemas(SERVICES)
        self.fronts = [
            FailoverFront(front_port(s), [http_port(s, n) for n in INSTANCES]) for s in SERVICES
        ]
        # The second registry only once the first has loaded the seed (see env_for); the
        # supervisor starts it with its first look at the stack.
        self.stack.start([name for name in self.stack.ports if name != "registry-2"])
        self.stack.wait_ready(["registry-1"], timeout=180)
        self._thread = threading.Thread(
            target=run_supervised,
            args=(self.stack, RestartPolicy()),
            kwargs={"stop": self._stop, "metrics_path": self.var_dir / "supervisor.prom"},
            daemon=True,
            name="supervisor",
        )
        self._thread.start()
        self.wait_ready(timeout=240)

    def unready(self, names: Iterable[str] | None = None) -> set[str]:
        """The instances that do not answer /readyz with 200 right now."""
        pending = set(names or self.stack.ports)
        with httpx.Client(timeout=3.0) as client:
            for name in sorted(pending):
                with contextlib.suppress(httpx.HTTPError):
                    if (
                        client.get(f"http://127.0.0.1:{self.stack.ports[name]}/readyz").status_code
                        == 200
                    ):
                        pending.discard(name)
        return pending

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Every instance answers /readyz (restarts by the supervisor included)."""
        deadline = time.monotonic() + timeout
        while pending := self.unready():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout:.0f} s: {sorted(pending)}")
            time.sleep(0.3)

    def kill(self, name: str) -> None:
        """SIGKILL one instance; the supervisor notices and restarts it."""
        proc = self.stack.processes[name]
        assert proc.popen is not None and proc.alive(), f"{name} is not running"
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=10)

    def jump_clock(self, name: str, to: datetime) -> None:
        """From its next start, ``name``'s clock reads ``to`` (and runs on at real speed)."""
        env_for = dict(self.stack.env_for)
        env_for[name] = {
            **env_for.get(name, {}),
            "ANBU_CLOCK_START": to.isoformat(),
            "ANBU_CLOCK_EPOCH": datetime.now(UTC).isoformat(),
            "ANBU_CLOCK_SPEED": "1",
        }
        self.stack.env_for = env_for

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        for front in self.fronts:
            front.close()

    def log(self, name: str) -> str:
        return (self.var_dir / "log" / f"{name}.log").read_text(errors="replace")


@contextlib.contextmanager
def started_city(directory: Path) -> Iterator[City]:
    """A three-broker cluster, PostgreSQL and the city, all stopped afterwards."""
    kafka = KafkaCluster(directory / "kafka")
    # Not under pytest's temporary directory: that is private to root, and PostgreSQL runs
    # as its own user when the tests run as root (deploy/postgres.sh).
    postgres = Postgres(Path(tempfile.mkdtemp(prefix="anbu-faults-pg-")))
    city = City(directory / "var", kafka, postgres)
    try:
        kafka.start()
        kafka.create_topics()
        postgres.start()
        city.start()
        yield city
    finally:
        city.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            kafka.stop()
        with contextlib.suppress(subprocess.CalledProcessError):
            postgres.stop()
        shutil.rmtree(postgres.directory, ignore_errors=True)


async def consumer_lag(bootstrap: str) -> dict[str, int]:
    """Unconsumed records per consumer group of the services (committed vs end offsets)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        lags: dict[str, int] = {}
        for group, _protocol in await admin.list_consumer_groups():
            committed = {
                tp: meta.offset
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
                if meta.offset >= 0
            }
            if not committed:
                continue
            # Every partition of the topics the group reads: one it never committed on is
            # lagging by all its records (a consumer stuck before its first commit).
            partitions = {
                TopicPartition(tp.topic, p)
                for tp in committed
                if tp.topic in TOPICS_BY_NAME
                for p in range(TOPICS_BY_NAME[tp.topic].partitions)
            } | set(committed)
            ends = await consumer.end_offsets(list(partitions))
            lags[group] = sum(max(0, ends[tp] - committed.get(tp, 0)) for tp in partitions)
        return lags
    finally:
        await consumer.stop()
        await admin.close()


async def read_topic(bootstrap: str, topic: str, partitions: int) -> list[bytes]:
    """Every record value of a topic, from the beginning to its current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        values: list[bytes] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [r.value for r in records if r.value is not None]
        return values
    finally:
        await consumer.stop()
