"""The detector at metropolitan scale, side by side with a raw consumer and Quix Streams.

    uv run python bench/detector_throughput.py [--households 1000000] [--heartbeats 1000000]
        [--postgres [URL]]

On a broker of its own (started here), with N enrolled households already in the detector's
durable state (each with a consented phone channel) — a SQLite file by default, or with
``--postgres`` a fresh PostgreSQL database (default ``anbu_bench_detector`` on the shared
cluster at 127.0.0.1:56432, created here and dropped afterwards):

1. produce H heartbeats (a backlog) onto signals.heartbeat.v1;
2. drain it with (a) a raw aiokafka consumer that does nothing — the ceiling —, (b) the
   detector process, (c) the same inactivity rule in Quix Streams; records per second each;
3. the detector's peak memory (RSS) with N households; its recovery time (start until its
   partitions are loaded and it is ready) on a first start and after a restart;
4. latency from producing a threshold-crossing signal (an SOS) to the alert being produced,
   p50/p99, under a background load of 10,000 heartbeats per second;
5. an alert storm: S arrears signals at once, each opening an alert and a protocol with a
   durable timer; alerts opened per second, and how the HTTP API answers meanwhile (the
   latency of ``GET /v1/alerts`` polled four times a second).

Prints a table and writes bench/results/detector_throughput.json
(``detector_throughput_postgresql.json`` with ``--postgres``). ``--profile PREFIX`` samples the
(first) detector with py-spy during the drain and during the storm: PREFIX-drain.txt and
PREFIX-storm.txt, collapsed stacks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psutil
import psycopg
from _support import BENCH_VAR, ROOT, percentile, write_result
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

sys.path.insert(0, str(ROOT))
from anbu_contracts.signals import SignalKind
from anbu_contracts.topics import DETECTOR_ALERT, HOUSEHOLD_PARTITIONS, SIGNAL_TOPICS
from anbu_detector.adapters.migrations import MIGRATIONS
from anbu_detector.adapters.orm import ChannelStateRow, HouseholdRow, metadata
from anbu_runtime.db import Database, bulk_insert
from anbu_runtime.outbox import install
from anbu_runtime.processes import Stack
from tests.e2e.conftest import own_broker

HEARTBEATS = SIGNAL_TOPICS[SignalKind.HEARTBEAT].name
ARREARS = SIGNAL_TOPICS[SignalKind.ARREARS].name
SOS = SIGNAL_TOPICS[SignalKind.SOS].name
PORT = 18960
BENCH_TOKEN = "bench-service-token"  # the API needs a caller: the bench reads as a service
KAFKA_PORT = 29592
# The shared development cluster; the benchmark's database of its own on it (never anbu_test).
POSTGRES_URL = "postgresql+psycopg://anbu@127.0.0.1:56432/anbu_bench_detector"


def household_id(n: int) -> str:
    return f"HH-B{n:09d}"


def partition_of(key: str) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % HOUSEHOLD_PARTITIONS


def seed_state(url: str, households: int) -> float:
    """The detector's durable state after enrolment: households and their phone channels
    (``url``: the detector's database, SQLite or PostgreSQL)."""
    started = time.perf_counter()
    install(metadata)
    # The schema by the detector's own migrations: a create_all database is adopted as
    # revision 0001 at start and the later revisions then fail on columns it already has.
    db = Database(url)
    MIGRATIONS.upgrade(db)
    db.dispose()
    engine = create_engine(url)
    now = datetime.now(UTC)
    active = now - timedelta(hours=1)
    base = {
        "revision": 1,
        "status": "active",
        "suspended_until": None,
        "timezone": "Asia/Seoul",
        "quiet_start": dtime(23, 0),
        "quiet_end": dtime(7, 0),
        "programme": "default",
        "windows": {"phone": None},
        "rule_overrides": {},
        "medical_aid": False,
        "landlord_on_file": False,
        "guardians_on_file": False,
        "dong_code": "1111051500",
    }
    chunk = 50_000
    # COPY on PostgreSQL (a million households and their clocks in under a minute here),
    # executemany on SQLite, as before.
    with Session(engine) as session:
        for start in range(0, households, chunk):
            ids = [household_id(n) for n in range(start, min(start + chunk, households))]
            bulk_insert(
                session,
                HouseholdRow.__table__,  # type: ignore[attr-defined]
                [{"household_id": h, "partition": partition_of(h), **base} for h in ids],
            )
            bulk_insert(
                session,
                ChannelStateRow.__table__,  # type: ignore[attr-defined]
                [
                    {
                        "household_id": h,
                        "channel": "phone",
                        "partition": partition_of(h),
                        "last_active": active.timestamp(),
                        "silent": False,
                    }
                    for h in ids
                ],
            )
        session.commit()
        if engine.dialect.name == "postgresql":  # the planner's statistics, as after a day
            session.connection().exec_driver_sql("ANALYZE")
            session.commit()
    engine.dispose()
    return time.perf_counter() - started


def _maintenance(url: str) -> tuple[str, str]:
    """The libpq address of the cluster's ``postgres`` database, and the database ``url``
    names (which must be the benchmark's own: it is dropped)."""
    parsed = make_url(url)
    name = parsed.database or ""
    if not name or name == "anbu_test" or name == "postgres":
        raise SystemExit(f"--postgres needs a database of the benchmark's own, not {name!r}")
    address = parsed.set(drivername="postgresql", database="postgres")
    return address.render_as_string(hide_password=False), name


def create_database(url: str) -> None:
    """A fresh, empty database named by ``url`` (dropped first if a run left one)."""
    address, name = _maintenance(url)
    with psycopg.connect(address, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    address, name = _maintenance(url)
    with psycopg.connect(address, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class ServerCpu:
    """CPU the PostgreSQL backends serving ``url``'s database have used (user + system):
    the store's share of a heartbeat, which the detector's own CPU does not include. Backends
    are found in pg_stat_activity at each reading (one connection of its own, to the
    ``postgres`` database); one that closed keeps its last reading."""

    def __init__(self, url: str) -> None:
        self.address, self.name = _maintenance(url)
        self.seen: dict[int, float] = {}
        self.conn: psycopg.Connection[Any] | None = None

    def __call__(self) -> float:
        with contextlib.suppress(psycopg.Error):
            if self.conn is None or self.conn.closed:
                self.conn = psycopg.connect(self.address, autocommit=True)
            rows = self.conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
            for (pid,) in rows:
                with contextlib.suppress(psutil.Error):
                    times = psutil.Process(pid).cpu_times()
                    self.seen[pid] = times.user + times.system
        return sum(self.seen.values())

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()


def heartbeat_bytes(household: str, at: datetime) -> bytes:
    stamp = at.isoformat().replace("+00:00", "Z")
    return (
        f'{{"event_id":"{uuid4()}","schema_version":1,"occurred_at":"{stamp}",'
        f'"produced_at":"{stamp}","source":"telco-bench","correlation_id":null,'
        f'"causation_id":null,"household_id":"{household}","partner_id":"telco-bench",'
        f'"partner_event_id":"{uuid4().hex}","kind":"heartbeat","channel":"phone",'
        f'"device_id":"phone-1","last_active_at":"{stamp}","activity":"unlock"}}'
    ).encode()


async def produce_backlog(bootstrap: str, households: int, count: int) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=20, max_batch_size=1024 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    base = datetime.now(UTC)
    pending = []
    for n in range(count):
        household = household_id(n % households)
        at = base + timedelta(milliseconds=n // households)
        pending.append(
            await producer.send(HEARTBEATS, heartbeat_bytes(household, at), key=household.encode())
        )
        if len(pending) >= 20_000:
            await asyncio.gather(*pending)
            pending = []
    await asyncio.gather(*pending)
    await producer.stop()
    return count / (time.perf_counter() - started)


async def raw_drain(bootstrap: str, count: int) -> float:
    consumer = AIOKafkaConsumer(
        HEARTBEATS,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-{uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    seen, first = 0, 0.0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=5000)
        if batches and not first:
            first = time.perf_counter()
        seen += sum(len(records) for records in batches.values())
    elapsed = time.perf_counter() - first
    await consumer.commit()
    await consumer.stop()
    return count / elapsed


async def group_lag(admin: AIOKafkaAdminClient, bootstrap: str, group: str) -> int:
    committed = await admin.list_consumer_group_offsets(group)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    tps = [TopicPartition(HEARTBEATS, p) for p in range(HOUSEHOLD_PARTITIONS)]
    ends = await consumer.end_offsets(tps)
    await consumer.stop()
    return sum(ends[tp] - (committed[tp].offset if tp in committed else 0) for tp in tps)


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.2)


PORTS: list[int] = [PORT]  # one port per detector instance


@contextlib.contextmanager
def spying(pid: int, prefix: str | None, phase: str) -> Any:
    """py-spy over ``pid`` for the block (collapsed stacks to PREFIX-phase.txt), or nothing."""
    if prefix is None:
        yield
        return
    spy = [shutil.which("py-spy") or "py-spy", "record", "--pid", str(pid), "--rate", "100"]
    popen = subprocess.Popen([*spy, "--format", "raw", "-o", f"{prefix}-{phase}.txt"])
    try:
        yield
    finally:  # py-spy writes its file when interrupted
        popen.send_signal(signal.SIGINT)
        popen.wait(timeout=60)


def wait_ready(timeout: float = 600) -> float:
    started = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < timeout:
            try:
                codes = [client.get(f"http://127.0.0.1:{p}/readyz").status_code for p in PORTS]
                if all(code == 200 for code in codes):
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise TimeoutError("the detector did not become ready")


def handled(client: httpx.Client, topic: str = HEARTBEATS) -> int:
    """Records of ``topic`` the detectors handled so far (their own counters, per batch);
    an instance that does not answer counts 0."""
    return answered(client, topic) or 0


def answered(client: httpx.Client, topic: str = HEARTBEATS) -> int | None:
    """As :func:`handled`, or None when an instance did not answer: a detector whose event
    loop is held answers late or not at all, and a poll read as 0 then made the drain's
    10 % mark late and its rate many times too high (a whole drain "between" two polls)."""
    total = 0
    for port in PORTS:
        try:
            text = client.get(f"http://127.0.0.1:{port}/metrics").text
        except httpx.HTTPError:
            return None
        for line in text.splitlines():
            if (
                line.startswith("anbu_messages_consumed_total")
                and f'topic="{topic}"' in line
                and 'result="ok"' in line
            ):
                total += int(float(line.rsplit(" ", 1)[1]))
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the detector processes have used so far (every thread)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
    return total


def detector_drain(
    count: int, pids: list[int], server: ServerCpu | None = None, timeout: float = 1800
) -> tuple[float, float, float | None]:
    """Records per second between 10 % and 90 % of the backlog, from the detector's own
    counter, polled from the moment the process starts; and the detectors' CPU per record
    (µs) over the same polls (and the PostgreSQL backends', with ``server``). CPU per record
    is the figure to compare between runs on a shared machine: a rate falls when other work
    takes the cores, the CPU a record costs much less."""
    timeline: list[tuple[float, float, int, float, float]] = []
    started = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < timeout:
            asked, done = time.perf_counter(), answered(client)
            if done is not None:  # the count as it was between asking and the answer
                used = server() if server is not None else 0.0
                timeline.append((asked, time.perf_counter(), done, cpu_seconds(pids), used))
                if done >= count:
                    break
            time.sleep(0.1)

    # From the last answered poll before 10 % (when it was asked) to the first at 90 % (when
    # it answered): a drain that crossed both between two polls still spans one poll
    # interval (no division by zero), and a slow answer can only understate the rate.
    last = next(p for p in timeline if p[2] >= 0.9 * count)
    end = last[1]
    before = [p for p in timeline if p[0] < end and p[2] < 0.1 * count]
    first = max(before, default=timeline[0], key=lambda p: p[0])
    begin = first[0] if before else timeline[0][0] - 0.1
    # CPU between the same two polls over the records handled between them (at least the
    # 80 % above; the CPU sample of a poll is taken after its answer).
    records = max(last[2] - first[2], 1)
    cpu_us = (last[3] - first[3]) / records * 1e6
    server_us = (last[4] - first[4]) / records * 1e6 if server is not None else None
    return 0.8 * count / (end - begin), cpu_us, server_us


async def latency_probes(
    bootstrap: str, households: int, probes: int, background_rate: int
) -> list[float]:
    """SOS signals under a steady heartbeat load; ms from produce to the alert's produce."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(DETECTOR_ALERT.name, p) for p in range(DETECTOR_ALERT.partitions)]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    stop = asyncio.Event()

    async def background() -> None:
        n = 0
        tick = time.perf_counter()
        while not stop.is_set():
            for _ in range(background_rate // 20):
                household = household_id(n % households)
                await producer.send(
                    HEARTBEATS,
                    heartbeat_bytes(household, datetime.now(UTC)),
                    key=household.encode(),
                )
                n += 1
            tick += 0.05
            await asyncio.sleep(max(tick - time.perf_counter(), 0))

    load = asyncio.create_task(background())
    await asyncio.sleep(3)
    sent: dict[str, float] = {}
    for n in range(probes):
        household = household_id(households - 1 - n)
        body = json.dumps(
            {
                "event_id": str(uuid4()),
                "occurred_at": datetime.now(UTC).isoformat(),
                "source": "sos-bench",
                "household_id": household,
                "partner_id": "sos-bench",
                "partner_event_id": str(uuid4()),
                "kind": "sos",
                "device_id": "button",
            }
        ).encode()
        sent[household] = time.time() * 1000
        await producer.send_and_wait(SOS, body, key=household.encode())
        await asyncio.sleep(0.2)
    latencies: dict[str, float] = {}
    deadline = time.perf_counter() + 30
    while len(latencies) < len(sent) and time.perf_counter() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                alert = json.loads(record.value)
                if alert["household_id"] in sent and alert["change"] == "opened":
                    latencies[alert["household_id"]] = (
                        record.timestamp - sent[alert["household_id"]]
                    )
    stop.set()
    await load
    await producer.stop()
    await consumer.stop()
    return list(latencies.values())


def arrears_bytes(household: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": now,
            "source": "kepco-bench",
            "household_id": household,
            "partner_id": "kepco-bench",
            "partner_event_id": str(uuid4()),
            "kind": "arrears",
            "arrears_type": "electricity",
            "months_overdue": 3,
            "amount_krw": 182_000,
            "as_of": datetime.now(UTC).date().isoformat(),
        }
    ).encode()


async def produce_storm(bootstrap: str, count: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20)
    await producer.start()
    sent = [
        await producer.send(ARREARS, arrears_bytes(household_id(n)), key=household_id(n).encode())
        for n in range(count)
    ]
    await asyncio.gather(*sent)
    await producer.stop()


def settle(timeout: float = 600) -> float:
    """Wait until the detector handles no more heartbeats (the latency phase's backlog is
    drained); the seconds it took. Without it the storm's arrears queued behind that backlog
    and the storm measured the heartbeat drain: py-spy over the storm's first 20 s found no
    sample opening an alert."""
    started = time.perf_counter()
    last, still = -1, 0
    with httpx.Client(timeout=5) as client:
        while time.perf_counter() - started < timeout and still < 4:
            done = answered(client)
            still = still + 1 if done is not None and done == last else 0
            last = done if done is not None else last
            time.sleep(0.5)
    return time.perf_counter() - started


def alert_storm(bootstrap: str, count: int, timeout: float = 1800) -> dict[str, Any]:
    """Open ``count`` alerts at once; alerts per second and the API's latency meanwhile."""
    api: list[float] = []
    failures = 0
    settled = settle()
    started = time.perf_counter()
    # Produced beside the polls: a storm handled before the first poll after producing
    # used to give first == last, and alerts per second of count / 1 ms.
    producing = threading.Thread(target=lambda: asyncio.run(produce_storm(bootstrap, count)))
    producing.start()
    timeline: list[tuple[float, int]] = [(started, 0)]
    with httpx.Client(timeout=10) as client:
        while time.perf_counter() - started < timeout:
            done = answered(client, ARREARS)
            if done is not None:  # one that did not answer is no poll (it read 0 before)
                timeline.append((time.perf_counter(), done))
                if done >= count:
                    break
            asked = time.perf_counter()
            try:
                client.get(
                    f"http://127.0.0.1:{PORTS[0]}/v1/alerts",
                    params={"limit": 1},
                    headers={"Authorization": f"Bearer {BENCH_TOKEN}"},
                )
                api.append((time.perf_counter() - asked) * 1000)
            except httpx.HTTPError:
                failures += 1
            time.sleep(0.25)
    producing.join()
    first = max(t for t, done in timeline if done == 0)  # the last poll before any alert
    last = timeline[-1][0]
    return {
        "alerts": count,
        "settled_seconds": round(settled, 1),  # the heartbeat backlog drained first
        "alerts_per_second": round(count / max(last - first, 1e-3)),
        "api_ms": {
            "polls": len(api),
            "p50": round(percentile(api, 50), 1) if api else None,
            "p99": round(percentile(api, 99), 1) if api else None,
            "max": round(max(api), 1) if api else None,
            "failed": failures,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=1_000_000)
    parser.add_argument("--heartbeats", type=int, default=1_000_000)
    parser.add_argument("--probes", type=int, default=200)
    parser.add_argument("--background-rate", type=int, default=10_000)
    parser.add_argument("--storm", type=int, default=20_000, help="alerts opened at once")
    parser.add_argument("--skip-quix", action="store_true")
    parser.add_argument("--instances", type=int, default=1, help="detector instances (group)")
    parser.add_argument(
        "--port", type=int, default=PORT, help="the first detector's HTTP port (two runs at once)"
    )
    parser.add_argument("--kafka-port", type=int, default=KAFKA_PORT, help="the broker's port")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES_URL,
        default=None,
        help="PostgreSQL as the detector's store: a database of the benchmark's own, created "
        f"empty and dropped afterwards (default {POSTGRES_URL})",
    )
    parser.add_argument("--profile", default=None, help="py-spy stacks to PREFIX-drain/storm.txt")
    parser.add_argument(
        "--name", default=None, help="the results file's name (default: by database, instances)"
    )
    args = parser.parse_args()
    work = BENCH_VAR / "detector"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    database = "postgresql" if args.postgres else "sqlite"
    result: dict[str, Any] = {
        "households": args.households,
        "heartbeats": args.heartbeats,
        "instances": args.instances,
        "database": database,
    }
    url = f"sqlite:///{work / 'data' / 'detector.db'}"
    server: ServerCpu | None = None
    if args.postgres:
        url = args.postgres
        create_database(url)
        server = ServerCpu(url)
    try:
        run(args, work, url, server, result)
    finally:
        if server is not None:
            server.close()
            drop_database(url)
    report(args, result)
    name = args.name or "detector_throughput" + (
        f"_{args.instances}x" if args.instances > 1 else ""
    ) + ("" if database == "sqlite" else f"_{database}")
    print(f"results: {write_result(name, result)}")
    return 0


def run(
    args: argparse.Namespace, work: Path, url: str, server: ServerCpu | None, result: dict[str, Any]
) -> None:
    """Every phase, into ``result``."""
    print(f"seeding {args.households:,} households into the detector's state ...", flush=True)
    result["seed_seconds"] = round(seed_state(url, args.households), 1)
    with own_broker(args.kafka_port, work / "kafka") as bootstrap:
        print(f"producing {args.heartbeats:,} heartbeats ...", flush=True)
        result["produce_per_second"] = round(
            asyncio.run(produce_backlog(bootstrap, args.households, args.heartbeats))
        )
        print("raw aiokafka consumer ...", flush=True)
        result["raw_per_second"] = round(asyncio.run(raw_drain(bootstrap, args.heartbeats)))
        print(f"  {result['raw_per_second']:,}/s", flush=True)

        names = [f"detector-{n + 1}" for n in range(args.instances)]
        PORTS[:] = [args.port + n for n in range(args.instances)]
        stack = Stack(
            var_dir=work,
            ports=dict(zip(names, PORTS, strict=True)),
            instances=dict.fromkeys(names, "detector"),
            env_for={name: {"ANBU_INSTANCE_ID": name} for name in names},
            env={
                "ANBU_KAFKA_BOOTSTRAP": bootstrap,
                "ANBU_DETECTOR_DATABASE_URL": url,
                "ANBU_LOG_LEVEL": "WARNING",
                "ANBU_DETECTOR_BATCH_SIZE": "10000",
                "ANBU_SERVICE_TOKEN": BENCH_TOKEN,
            },
        )
        print("detector: first start (loads every household), then drains ...", flush=True)
        stack.start()
        watches = [MemoryWatch(stack.processes[n].popen.pid) for n in names]  # type: ignore[union-attr]
        for watch in watches:
            watch.start()
        ready: list[float] = []
        readiness = threading.Thread(target=lambda: ready.append(wait_ready()), daemon=True)
        readiness.start()  # the drain is measured from the start, readiness beside it
        pids = [w.process.pid for w in watches]
        with spying(pids[0], args.profile, "drain"):
            rate, cpu_us, server_us = detector_drain(args.heartbeats, pids, server)
        result["detector_per_second"] = round(rate)
        result["detector_cpu_us_per_heartbeat"] = round(cpu_us, 2)
        if server_us is not None:  # the PostgreSQL backends' CPU, on the same cores
            result["postgres_cpu_us_per_heartbeat"] = round(server_us, 2)
        readiness.join()
        result["detector_first_ready_seconds"] = round(ready[0], 1)
        print(f"  ready after {result['detector_first_ready_seconds']} s", flush=True)
        print(
            f"  {result['detector_per_second']:,}/s,"
            f" {result['detector_cpu_us_per_heartbeat']} µs CPU a heartbeat",
            flush=True,
        )
        print("latency under background load ...", flush=True)
        latencies = asyncio.run(
            latency_probes(bootstrap, args.households, args.probes, args.background_rate)
        )
        result["latency_ms"] = {
            "probes": args.probes,
            "answered": len(latencies),  # alerts that came within 30 s of their SOS
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
            "max": round(max(latencies), 1) if latencies else None,
        }
        print(f"alert storm: {args.storm:,} arrears signals at once ...", flush=True)
        with spying(pids[0], args.profile, "storm"):
            result["storm"] = alert_storm(bootstrap, min(args.storm, args.households))
        print(f"  {result['storm']}", flush=True)
        for watch in watches:
            watch.running = False
        result["detector_peak_rss_mb"] = round(max(w.peak for w in watches) / 1024 / 1024)
        print("detector: restart ...", flush=True)
        stack.stop()
        stack.start()
        result["detector_restart_ready_seconds"] = round(wait_ready(), 1)
        stack.stop()

        if not args.skip_quix:
            print("Quix Streams, the same rule ...", flush=True)
            quix = subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "bench" / "detector_quix.py"),
                    bootstrap,
                    str(args.heartbeats),
                    str(work / "quix-state"),
                ],
                capture_output=True,
                text=True,
                check=True,
                env=dict(os.environ),
            )
            result["quix_per_second"] = round(
                json.loads(quix.stdout.strip().splitlines()[-1])["records_per_second"]
            )


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    raw, det = result["raw_per_second"], result["detector_per_second"]
    print()
    print(f"{'':<42}{'records/s':>12}{'vs raw':>9}")
    print(f"{'raw aiokafka consumer (the ceiling)':<42}{raw:>12,}{1:>9.2f}")
    print(f"{'anbu detector':<42}{det:>12,}{det / raw:>9.2f}")
    print(f"detector CPU per heartbeat: {result['detector_cpu_us_per_heartbeat']} µs")
    if "postgres_cpu_us_per_heartbeat" in result:
        print(f"PostgreSQL CPU per heartbeat: {result['postgres_cpu_us_per_heartbeat']} µs")
    if "quix_per_second" in result:
        quix_rate = result["quix_per_second"]
        print(f"{'Quix Streams, same rule':<42}{quix_rate:>12,}{quix_rate / raw:>9.2f}")
    print(
        f"detector peak memory: {result['detector_peak_rss_mb']:,} MB"
        f" with {args.households:,} households"
    )
    print(
        f"recovery: first start {result['detector_first_ready_seconds']} s, "
        f"restart {result['detector_restart_ready_seconds']} s"
    )
    lat = result["latency_ms"]
    print(
        f"SOS → alert under {args.background_rate:,}/s: p50 {lat['p50']} ms, p99 {lat['p99']} ms "
        f"({lat['answered']} of {lat['probes']} probes answered)"
    )
    storm = result["storm"]
    print(
        f"alert storm: {storm['alerts']:,} alerts at {storm['alerts_per_second']:,}/s; "
        f"GET /v1/alerts meanwhile p50 {storm['api_ms']['p50']} ms, "
        f"max {storm['api_ms']['max']} ms, {storm['api_ms']['failed']} failed"
    )


if __name__ == "__main__":
    sys.exit(main())
