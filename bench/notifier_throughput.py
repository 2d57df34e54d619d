"""Notifier throughput: sustained sends per second to a local SMS gateway, 1 % of calls failing.

    uv run python bench/notifier_throughput.py [--messages 2000] [--failure-rate 0.01]
        [--intake kafka|direct|both] [--postgres [URL]] [--bootstrap HOST:PORT]

What runs: the notifier as its bootstrap wires it (FastStream consumer, SQLite or
PostgreSQL, the dispatcher, the outbox relay publishing ``notify.status.v1``, the receipt
endpoint served by uvicorn) in this process; the gateway of the tests
(services/notifier/tests/notifier_fakes/provider.py) as a separate process, failing
``--failure-rate`` of its calls with a 500 and posting a signed delivery receipt for every
message it accepts. Two scenarios: ``kafka`` produces the requests to
``notify.request.v1`` up front and the notifier consumes them (under a consumer group of
its own that starts at the end of the topic); ``direct`` hands them to the notifier's
accept function, measuring the send pipeline alone. Unless ``--bootstrap`` names one, the
benchmark starts a private broker (deploy/kafka.sh, port 19794, a temporary directory) and
stops it afterwards, so its requests never sit on a shared broker for other consumer
groups to read.

One stand-in: recipients are resolved by an in-memory directory instead of the registry
(its audited HTTP look-up is the registry's cost, not the notifier's).

Reported per scenario: sends per second (overall, and over the steady middle 10-90 % of
the run), injected failures, provider calls, replays (re-sends the gateway de-duplicated by
key) and duplicates (the same text accepted twice for the same phone: must be 0),
deliveries by state from the notifier's own records, and queueing latency (accepted →
sent). Results go to bench/results/notifier_throughput.json; the exit status is 1 if any
duplicate was counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, func, select, text

from anbu_contracts import NotificationRequest, RecipientKind, RecipientRef, Urgency
from anbu_contracts.topics import NOTIFY_REQUEST
from anbu_notifier.adapters.orm import DeliveryRow, NotificationRow
from anbu_notifier.bootstrap import NotifierSettings, build
from anbu_notifier.domain.model import Recipient
from anbu_runtime.logs import configure_logging
from anbu_runtime.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FAKES = ROOT / "services" / "notifier" / "tests" / "notifier_fakes"
sys.path.insert(0, str(FAKES.parent))

from notifier_fakes.directory import FakeDirectory  # noqa: E402

API_KEY = "bench-key"
FEED_BATCH = 500  # direct intake: requests per accept call (the consumer's batches)
RECEIPT_SECRET = "bench-receipt-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def start_group_at_the_end(bootstrap: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(NOTIFY_REQUEST.name, p) for p in range(NOTIFY_REQUEST.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        await consumer.commit(
            {tp: OffsetAndMetadata(await consumer.position(tp), "") for tp in tps}
        )
    finally:
        await consumer.stop()


def households(count: int) -> tuple[FakeDirectory, list[str]]:
    directory = FakeDirectory()
    ids = []
    for n in range(count):
        household = f"HH-BENCH{n:07d}"
        directory.add(
            household,
            RecipientKind.RESIDENT,
            Recipient(
                person_ref=f"P-B{n:07d}",
                name="시험가구",
                phone=f"010-{n // 10000:04d}-{n % 10000:04d}",
                quiet_start=wall_time(23, 0),
                quiet_end=wall_time(7, 0),
            ),
        )
        ids.append(household)
    return directory, ids


def request_for(household: str, run: str) -> NotificationRequest:
    now = datetime.now(UTC)
    return NotificationRequest(
        occurred_at=now,
        produced_at=now,
        source="bench",
        request_id=uuid4(),
        request_key=f"bench:{run}:{household}",
        recipient=RecipientRef(kind=RecipientKind.RESIDENT, household_id=household),
        template="safety_check.day1_text",
        urgency=Urgency.HIGH,
        household_id=household,
    )


async def produce(bootstrap: str, requests: list[NotificationRequest]) -> float:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    try:
        for request in requests:
            await producer.send(
                NOTIFY_REQUEST.name,
                key=request.request_key.encode(),
                value=request.model_dump_json().encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()
    return time.perf_counter() - started


PRIVATE_BROKER_PORT = 19794  # and 19795 for its controller


def private_broker() -> tuple[str, Path, dict[str, str]]:
    """A broker of the benchmark's own (deploy/kafka.sh on its own port and directory), so
    benchmark requests never sit on a shared broker's notify.request.v1 for other consumer
    groups (an end-to-end run's notifier) to read."""
    directory = Path(tempfile.mkdtemp(prefix="notifier-bench-kafka-"))
    env = dict(
        os.environ,
        ANBU_KAFKA_PORT=str(PRIVATE_BROKER_PORT),
        ANBU_KAFKA_DIR=str(directory),
        ANBU_KAFKA_HEAP="512m",
    )
    subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "start"], env=env, check=True)
    bootstrap = f"127.0.0.1:{PRIVATE_BROKER_PORT}"
    subprocess.run(
        [sys.executable, "-m", "anbu_runtime.topic_admin", "create", "--bootstrap", bootstrap],
        check=True,
    )
    return bootstrap, directory, env


def stop_private_broker(directory: Path, env: dict[str, str]) -> None:
    subprocess.run([str(ROOT / "deploy" / "kafka.sh"), "stop"], env=env, check=False)
    shutil.rmtree(directory, ignore_errors=True)


def start_provider(port: int, notifier_port: int, failure_rate: float) -> subprocess.Popen[bytes]:
    """The tests' gateway as a process of its own, posting receipts to the notifier."""
    return subprocess.Popen(
        [
            sys.executable,
            str(FAKES / "provider.py"),
            "--port",
            str(port),
            "--api-key",
            API_KEY,
            "--failure-rate",
            str(failure_rate),
            "--receipt-url",
            f"http://127.0.0.1:{notifier_port}/v1/receipts/sms",
            "--receipt-secret",
            RECEIPT_SECRET,
        ]
    )


async def run(
    args: argparse.Namespace, intake: str, provider_port: int, notifier_port: int
) -> dict[str, Any]:
    """One scenario: ``kafka`` (requests produced to the topic and consumed) or ``direct``
    (requests handed to the notifier's accept function: the send pipeline alone)."""
    var_dir = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    provider_url = f"http://127.0.0.1:{provider_port}"
    run_id = uuid4().hex[:8]
    group = f"notifier-bench-{run_id}"
    await start_group_at_the_end(args.bootstrap, group)
    directory, ids = households(args.messages)
    common = CommonSettings(
        env="dev", var_dir=var_dir, kafka_bootstrap=args.bootstrap, instance_id=f"bench-{run_id}"
    )
    settings = NotifierSettings(
        http_port=notifier_port,
        database_url=args.database_url,
        enabled_channels=["sms"],
        default_channel="sms",
        sms={
            "base_url": provider_url,
            "api_key": API_KEY,
            "sender": "0212345678",
            "receipt_secret": RECEIPT_SECRET,
        },
        consumer_group=group,
        concurrency=args.concurrency,
    )
    # The service's log lines (INFO, JSON, two per message) go to a file, as in production.
    configure_logging("notifier", "INFO", "json")
    log_path = var_dir / "notifier.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().handlers[:] = [handler]

    service = build(common, settings, None, directory)
    server = uvicorn.Server(
        uvicorn.Config(
            service.app, host="127.0.0.1", port=notifier_port, log_config=None, lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(timeout=10.0) as client:
        for _ in range(300):
            try:
                ready = (await client.get(f"http://127.0.0.1:{notifier_port}/readyz")).status_code
                stats = (await client.get(f"{provider_url}/_stats")).status_code
                if ready == stats == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the notifier or the gateway did not become ready")

        requests = [request_for(h, run_id) for h in ids]
        print(f"{intake}: {len(requests):,} requests ...", flush=True)
        started = time.perf_counter()
        cpu_started = time.process_time()
        if intake == "kafka":
            produce_s = await produce(args.bootstrap, requests)
            feeding: asyncio.Task[None] | None = None
        else:
            produce_s = 0.0

            async def feed() -> None:
                accept_many = getattr(service.notifier, "accept_many", None)
                if accept_many is None:  # a notifier from before batched intake
                    for request in requests:
                        await service.notifier.accept(request)
                    return
                for start in range(0, len(requests), FEED_BATCH):  # as the consumer does
                    await accept_many(requests[start : start + FEED_BATCH])

            feeding = asyncio.create_task(feed())
        progress: list[tuple[float, int]] = []
        stats: dict[str, Any] = {}
        deadline = started + args.max_seconds
        while time.perf_counter() < deadline:
            stats = (await client.get(f"{provider_url}/_stats")).json()
            progress.append((time.perf_counter() - started, stats["accepted"]))
            if stats["accepted"] >= len(requests):
                break
            await asyncio.sleep(0.25)
        sent_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_started
        if feeding is not None:
            await feeding
        # Let the receipts and statuses settle: every receipt posted (or 30 s), then a moment
        # for the last ones' transactions.
        settle_by = time.perf_counter() + 30.0
        while time.perf_counter() < settle_by:
            stats = (await client.get(f"{provider_url}/_stats")).json()
            if stats["receipts_posted"] >= stats["accepted"]:
                break
            await asyncio.sleep(0.25)
        await asyncio.sleep(1.0)
        stats = (await client.get(f"{provider_url}/_stats")).json()

    def tally(session: Any) -> dict[str, Any]:
        states = dict(
            session.execute(
                select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
            ).all()
        )
        latencies = [
            (sent - created).total_seconds()
            for sent, created in session.execute(
                select(DeliveryRow.sent_at, NotificationRow.created_at).join(
                    NotificationRow, NotificationRow.request_key == DeliveryRow.request_key
                )
            ).all()
            if sent is not None
        ]
        return {"states": states, "latencies": latencies}

    counts = await service.runtime.db.run(tally)
    handled = REGISTRY.get_sample_value(
        "anbu_handler_seconds_sum", {"service": "notifier", "topic": NOTIFY_REQUEST.name}
    )
    handled_n = REGISTRY.get_sample_value(
        "anbu_handler_seconds_count", {"service": "notifier", "topic": NOTIFY_REQUEST.name}
    )
    server.should_exit = True
    await serving
    shutil.rmtree(var_dir, ignore_errors=True)

    total = len(requests)
    lo = next((t for t, n in progress if n >= total * 0.1), 0.0)
    hi = next((t for t, n in progress if n >= total * 0.9), sent_s)
    steady = (total * 0.8) / (hi - lo) if hi > lo else float("nan")
    latencies = counts["latencies"]
    return {
        "intake": intake,
        "messages": total,
        "seconds_to_send_all": round(sent_s, 2),
        "produce_seconds": round(produce_s, 2),
        "consumer_handler_ms_avg": (
            round(1000 * handled / handled_n, 2) if intake == "kafka" and handled_n else None
        ),
        "sends_per_second": round(stats["accepted"] / sent_s, 1),
        # CPU time of this process (the notifier, its consumer and relay; not the gateway)
        # per message sent: the cost itself, less blurred by what else the machine runs.
        "notifier_cpu_ms_per_send": round(1000 * cpu_s / max(stats["accepted"], 1), 2),
        "steady_sends_per_second_10_90": round(steady, 1),
        "provider": stats,
        "duplicates": stats["duplicates"],
        "injected_failures": stats["injected_failures"],
        "deliveries_by_state": counts["states"],
        "accepted_to_sent_seconds": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies, default=float("nan")), 3),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--failure-rate", type=float, default=0.01)
    parser.add_argument(
        "--bootstrap",
        default=None,
        help="an existing broker to use; default: a private one started for the run. "
        "Records stay on notify.request.v1 and other consumer groups will read them.",
    )
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=os.environ.get(
            "ANBU_TEST_POSTGRES_URL", "postgresql+psycopg://anbu@127.0.0.1:55432/anbu_test"
        ),
        help="a running PostgreSQL (default: the test cluster); a fresh schema is used",
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--max-seconds", type=float, default=180.0)
    parser.add_argument("--intake", choices=["kafka", "direct", "both"], default="both")
    parser.add_argument("--out", type=Path, default=RESULTS / "notifier_throughput.json")
    args = parser.parse_args()
    schema = None
    if args.postgres:
        schema = f"notifier_bench_{uuid4().hex[:8]}"
        engine = create_engine(args.postgres)
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        args.database_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    load_at_start = os.getloadavg()
    intakes = ["kafka", "direct"] if args.intake == "both" else [args.intake]
    broker: tuple[Path, dict[str, str]] | None = None
    if args.bootstrap is None:
        args.bootstrap, directory, env = private_broker()
        broker = (directory, env)
    try:
        scenarios = []
        for intake in intakes:
            provider_port, notifier_port = free_port(), free_port()
            provider = start_provider(provider_port, notifier_port, args.failure_rate)
            try:
                scenarios.append(asyncio.run(run(args, intake, provider_port, notifier_port)))
            finally:
                provider.terminate()
                provider.wait(timeout=10)
    finally:
        if broker is not None:
            stop_private_broker(*broker)
        if schema is not None:
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            engine.dispose()
    result = {
        "setup": {
            "messages_per_scenario": args.messages,
            "failure_rate": args.failure_rate,
            "database": "postgresql" if args.postgres else "sqlite (embedded default)",
            "dispatcher_concurrency": args.concurrency,
            "channel": "sms: the tests' HTTP gateway on localhost, as a separate process",
            "kafka": "a private single-node broker (deploy/kafka.sh)"
            if broker is not None
            else args.bootstrap,
            "directory": "in-memory (the registry's audited look-up is not measured)",
        },
        "scenarios": scenarios,
        "duplicates": sum(s["duplicates"] for s in scenarios),
    }
    document = {
        "benchmark": "notifier_throughput",
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            # Other work on the machine (the broker, other test runs) shares these CPUs.
            "load_average_1_5_15_at_start": [round(x, 2) for x in load_at_start],
            "load_average_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"results: {args.out}")
    return 0 if result["duplicates"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
