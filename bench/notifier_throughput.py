"""Notifier throughput: sustained sends per second to a local SMS gateway, 1 % of calls
failing.

    uv run python bench/notifier_throughput.py [--messages 2000] [--failure-rate 0.01]
        [--intake kafka|direct|both] [--instances 1,2,3] [--postgres [URL]]
        [--bootstrap HOST:PORT]

What runs: the notifier as its bootstrap wires it (the batch consumer, SQLite or
PostgreSQL, the dispatcher, the outbox relay publishing ``notify.status.v1``, the receipt
endpoint served by uvicorn); the gateway of the tests
(services/notifier/tests/notifier_fakes/provider.py) as a separate process, failing
``--failure-rate`` of its calls with a 500 and posting a signed delivery receipt for every
message it accepts (spread over the instances' receipt endpoints, as a load balancer
would). Two scenarios: ``kafka`` produces the requests to ``notify.request.v1`` up front
and N notifier processes (``--instances``, each count in turn: one consumer group, one
database, instance ids of their own) consume them; ``direct`` hands them to the accept
function of a notifier in this process, measuring the send pipeline alone. Several
instances share the work through the topic's partitions and the claims (leases) on due
requests; the gateway counts every message it accepted, so duplicates and losses are
counted across all instances. On SQLite the instances share one database file (and its one
writer); PostgreSQL (``--postgres``) is the store meant for several instances. Unless
``--bootstrap`` names one, the benchmark starts a private broker (deploy/kafka.sh, port
19794, a temporary directory) and stops it afterwards, so its requests never sit on a
shared broker for other consumer groups to read.

One stand-in: recipients are resolved by an in-memory directory instead of the registry
(its audited HTTP look-up is the registry's cost, not the notifier's).

Reported per scenario: the number of instances, sends per second (overall, and over the
steady middle 10-90 % of the run), injected failures, provider calls, replays (re-sends
the gateway de-duplicated by key) and duplicates (the same text accepted twice for the
same phone: must be 0), deliveries by state from the notifier's own records, and queueing
latency (accepted → sent), lost messages (requested, never accepted by the gateway), and
CPU seconds per process (each notifier, the gateway, the broker when its process is on
this machine, this script) per message and as cores used. Results go to
bench/results/notifier_throughput.json; the exit status is 1 if any duplicate or lost
message was counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as wall_time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select, text

from anbu_contracts import NotificationRequest, RecipientKind
from anbu_contracts.topics import NOTIFY_REQUEST
from anbu_notifier.adapters.orm import DeliveryRow, NotificationRow
from anbu_notifier.bootstrap import NotifierSettings, Service, build
from anbu_notifier.domain.model import Recipient
from anbu_runtime.logs import configure_logging
from anbu_runtime.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
FAKES = ROOT / "services" / "notifier" / "tests" / "notifier_fakes"
sys.path.insert(0, str(FAKES.parent))

from notifier_fakes.directory import FakeDirectory  # noqa: E402
from notifier_fakes.kafka import produce as produce_requests  # noqa: E402
from notifier_fakes.kafka import resident_request, start_group_at_the_end  # noqa: E402

API_KEY = "bench-key"
FEED_BATCH = 500  # direct intake: requests per accept call (the consumer's batches)
RECEIPT_SECRET = "bench-receipt-secret"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds of a process so far (from /proc), None if unknown."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def listener_pid(bootstrap: str) -> int | None:
    """The process listening on the broker's port, when it runs on this machine."""
    port = bootstrap.rpartition(":")[2]
    try:
        out = subprocess.run(
            ["ss", "-Htlnp", f"sport = :{port}"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    _, found, rest = out.partition("pid=")
    return int(rest.split(",")[0]) if found else None


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
    return resident_request(household, f"bench:{run}:{household}", source="bench")


async def produce(bootstrap: str, requests: list[NotificationRequest]) -> float:
    started = time.perf_counter()
    await produce_requests(bootstrap, requests, linger_ms=5)
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


def start_provider(
    port: int, notifier_ports: list[int], failure_rate: float, receipt_batch: int
) -> subprocess.Popen[bytes]:
    """The tests' gateway as a process of its own, posting receipts to the notifiers."""
    receipts = []
    for notifier_port in notifier_ports:
        receipts += ["--receipt-url", f"http://127.0.0.1:{notifier_port}/v1/receipts/sms"]
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
            *receipts,
            "--receipt-secret",
            RECEIPT_SECRET,
            "--receipt-batch",
            str(receipt_batch),
        ]
    )


def notifier_service(
    args: argparse.Namespace,
    *,
    var_dir: Path,
    database_url: str | None,
    provider_url: str,
    notifier_port: int,
    group: str,
    instance: str,
) -> Service:
    """The notifier as its bootstrap wires it, logging to a file (INFO, JSON, two lines per
    message, as in production), with the in-memory directory."""
    directory, _ = households(args.messages)
    common = CommonSettings(
        env="dev", var_dir=var_dir, kafka_bootstrap=args.bootstrap, instance_id=instance
    )
    settings = NotifierSettings(
        http_port=notifier_port,
        database_url=database_url,
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
    configure_logging("notifier", "INFO", "json")
    handler = logging.FileHandler(var_dir / f"{instance}.log", encoding="utf-8")
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    logging.getLogger().handlers[:] = [handler]
    return build(common, settings, None, directory)


def uvicorn_server(service: Service, port: int) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            service.app,
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
    )


def child(args: argparse.Namespace) -> int:
    """One notifier instance as a process of its own (``--child``; started by the kafka
    scenario, which reads its CPU time from /proc and its metrics from /metrics)."""
    service = notifier_service(
        args,
        var_dir=Path(args.var_dir),
        database_url=args.database_url,
        provider_url=args.provider_url,
        notifier_port=args.notifier_port,
        group=args.group,
        instance=args.instance_id,
    )
    uvicorn_server(service, args.notifier_port).run()
    return 0


async def wait_ready(client: httpx.AsyncClient, urls: list[str]) -> None:
    for _ in range(600):
        try:
            codes = [(await client.get(url)).status_code for url in urls]
            if set(codes) == {200}:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the notifier or the gateway did not become ready")


async def watch_sends(
    client: httpx.AsyncClient, provider_url: str, total: int, started: float, max_s: float
) -> tuple[list[tuple[float, int]], float]:
    """Poll the gateway until it accepted ``total`` messages (or ``max_s`` passed): the
    progress curve and the seconds it took."""
    progress: list[tuple[float, int]] = []
    while time.perf_counter() < started + max_s:
        stats = (await client.get(f"{provider_url}/_stats")).json()
        progress.append((time.perf_counter() - started, stats["accepted"]))
        if stats["accepted"] >= total:
            break
        await asyncio.sleep(0.25)
    return progress, time.perf_counter() - started


async def settle(client: httpx.AsyncClient, provider_url: str) -> dict[str, Any]:
    """Let the receipts and statuses settle: every receipt posted (or 30 s), then a moment
    for the last ones' transactions; the gateway's final counts."""
    settle_by = time.perf_counter() + 30.0
    while time.perf_counter() < settle_by:
        stats = (await client.get(f"{provider_url}/_stats")).json()
        if stats["receipts_posted"] >= stats["accepted"]:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(1.0)
    stats: dict[str, Any] = (await client.get(f"{provider_url}/_stats")).json()
    return stats


def read(engine: Any, fn: Any) -> Any:
    with engine.connect() as session:
        return fn(session)


async def settled(count: Any, seconds: float = 15.0) -> dict[str, Any]:
    """The tally once no delivery is ``sent`` any more (every receipt applied; one that
    passed its send's commit waits for the notifier's sweep), or after ``seconds``."""
    deadline = time.perf_counter() + seconds
    while True:
        counts: dict[str, Any] = await count()
        if not counts["states"].get("sent") or time.perf_counter() > deadline:
            return counts
        await asyncio.sleep(0.5)


def tally(session: Any) -> dict[str, Any]:
    """Deliveries by state and accepted → sent latencies, from the notifier's records."""
    states = dict(
        session.execute(select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)).all()
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


def summary(
    *,
    intake: str,
    instances: int,
    total: int,
    progress: list[tuple[float, int]],
    sent_s: float,
    produce_s: float,
    handler_ms: float | None,
    cpu: dict[str, Any],
    stats: dict[str, Any],
    counts: dict[str, Any],
    sends_by_instance: list[int] | None = None,
) -> dict[str, Any]:
    lo = next((t for t, n in progress if n >= total * 0.1), 0.0)
    hi = next((t for t, n in progress if n >= total * 0.9), sent_s)
    steady = (total * 0.8) / (hi - lo) if hi > lo else float("nan")
    latencies = counts["latencies"]
    sent = max(stats["accepted"], 1)
    notifier_cpu = sum(c for c in cpu["notifiers"] if c is not None)

    def per_send(seconds: float | None) -> float | None:
        return None if seconds is None else round(1000 * seconds / sent, 2)

    def cores(seconds: float | None) -> float | None:
        return None if seconds is None else round(seconds / sent_s, 2)

    return {
        "intake": intake,
        "instances": instances,
        "messages": total,
        "seconds_to_send_all": round(sent_s, 2),
        "produce_seconds": round(produce_s, 2),
        "consumer_handler_ms_avg": handler_ms,
        "sends_per_second": round(stats["accepted"] / sent_s, 1),
        # CPU time of the notifier processes (consumer, dispatcher, relay, receipt route;
        # not the gateway) per message sent: the cost itself, less blurred by what else the
        # machine runs.
        "notifier_cpu_ms_per_send": per_send(notifier_cpu),
        "steady_sends_per_second_10_90": round(steady, 1),
        "provider": stats,
        "duplicates": stats["duplicates"],
        "lost": total - stats["accepted"],
        "injected_failures": stats["injected_failures"],
        "deliveries_by_state": counts["states"],
        "sends_by_instance": sends_by_instance,
        # Every process's CPU over the send phase, per message and as cores busy: the
        # gateway stand-in and the broker share the machine's 2 cores with the notifiers.
        "cpu_ms_per_send": {
            "notifiers": [per_send(c) for c in cpu["notifiers"]],
            "gateway": per_send(cpu["gateway"]),
            "broker": per_send(cpu["broker"]),
            "bench": per_send(cpu["bench"]),
        },
        "cores_used": {
            "notifiers": cores(notifier_cpu),
            "gateway": cores(cpu["gateway"]),
            "broker": cores(cpu["broker"]),
            "bench": cores(cpu["bench"]),
        },
        "accepted_to_sent_seconds": {
            "p50": round(percentile(latencies, 50), 3),
            "p95": round(percentile(latencies, 95), 3),
            "p99": round(percentile(latencies, 99), 3),
            "max": round(max(latencies, default=float("nan")), 3),
        },
    }


class CpuMeter:
    """CPU seconds of a set of processes between :meth:`start` and :meth:`stop`."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = pids
        self.at_start: dict[str, float | None] = {}

    def start(self) -> None:
        self.at_start = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> dict[str, float | None]:
        used: dict[str, float | None] = {}
        for name, pid in self.pids.items():
            now, then = cpu_seconds(pid), self.at_start.get(name)
            used[name] = None if now is None or then is None else now - then
        return used


def scrape(text_: str) -> dict[str, float]:
    """The request consumer's handler time and the gateway calls that succeeded."""
    found = {"handled_s": 0.0, "handled_n": 0.0, "sent": 0.0}
    for family in text_string_to_metric_families(text_):
        for sample in family.samples:
            if sample.labels.get("topic") == NOTIFY_REQUEST.name:
                if sample.name == "anbu_handler_seconds_sum":
                    found["handled_s"] += sample.value
                elif sample.name == "anbu_handler_seconds_count":
                    found["handled_n"] += sample.value
            if (
                sample.name == "anbu_notifier_send_seconds_count"
                and sample.labels.get("result") == "ok"
            ):
                found["sent"] += sample.value
    return found


@dataclass
class Instances:
    """Notifier processes of one kafka scenario: one consumer group, one database."""

    run_id: str
    var_dir: Path
    database_url: str
    processes: list[subprocess.Popen[bytes]]
    urls: list[str]

    def stop(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def start_instances(
    args: argparse.Namespace, provider_url: str, notifier_ports: list[int]
) -> Instances:
    var_dir = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    database_url = args.database_url or f"sqlite:///{var_dir / 'notifier.db'}"
    run_id = uuid4().hex[:8]
    group = f"notifier-bench-{run_id}"
    asyncio.run(start_group_at_the_end(args.bootstrap, group))
    processes = []
    for n, port in enumerate(notifier_ports):
        command = [
            sys.executable,
            __file__,
            "--child",
            "--var-dir",
            str(var_dir),
            "--database-url",
            database_url,
            "--provider-url",
            provider_url,
            "--notifier-port",
            str(port),
            "--group",
            group,
            "--instance-id",
            f"bench-{run_id}-{n}",
            "--messages",
            str(args.messages),
            "--bootstrap",
            args.bootstrap,
            "--concurrency",
            str(args.concurrency),
        ]
        processes.append(subprocess.Popen(command))
    urls = [f"http://127.0.0.1:{p}" for p in notifier_ports]
    return Instances(run_id, var_dir, database_url, processes, urls)


async def run_instances(
    args: argparse.Namespace, notifiers: Instances, provider_url: str
) -> dict[str, Any]:
    """The kafka scenario: the requests produced at once, consumed and sent by the
    notifier processes."""
    instances, urls, run_id = len(notifiers.urls), notifiers.urls, notifiers.run_id
    children = notifiers.processes
    async with httpx.AsyncClient(timeout=10.0) as client:
        await wait_ready(client, [f"{u}/readyz" for u in urls] + [f"{provider_url}/_stats"])
        await asyncio.sleep(3.0)  # the group settles: every instance holds partitions
        _, ids = households(args.messages)
        requests = [request_for(h, run_id) for h in ids]
        print(f"kafka × {instances}: {len(requests):,} requests ...", flush=True)
        meter = CpuMeter(
            {
                **{f"notifier-{n}": c.pid for n, c in enumerate(children)},
                "gateway": args.provider_pid,
                "broker": args.broker_pid,
                "bench": os.getpid(),
            }
        )
        meter.start()
        started = time.perf_counter()
        produce_s = await produce(args.bootstrap, requests)
        progress, sent_s = await watch_sends(
            client, provider_url, len(requests), started, args.max_seconds
        )
        used = meter.stop()
        stats = await settle(client, provider_url)
        scraped = [scrape((await client.get(f"{u}/metrics")).text) for u in urls]
    engine = create_engine(notifiers.database_url)
    try:
        counts = await settled(lambda: asyncio.to_thread(read, engine, tally))
    finally:
        engine.dispose()
    handled_s = sum(s["handled_s"] for s in scraped)
    handled_n = sum(s["handled_n"] for s in scraped)
    return summary(
        intake="kafka",
        instances=instances,
        total=len(requests),
        progress=progress,
        sent_s=sent_s,
        produce_s=produce_s,
        handler_ms=round(1000 * handled_s / handled_n, 2) if handled_n else None,
        cpu={
            "notifiers": [used[f"notifier-{n}"] for n in range(instances)],
            "gateway": used["gateway"],
            "broker": used["broker"],
            "bench": used["bench"],
        },
        stats=stats,
        counts=counts,
        sends_by_instance=[int(s["sent"]) for s in scraped],
    )


async def run_direct(
    args: argparse.Namespace, provider_port: int, notifier_port: int
) -> dict[str, Any]:
    """The direct scenario: one notifier in this process, the requests handed to its
    accept function (the send pipeline alone)."""
    var_dir = Path(tempfile.mkdtemp(prefix="notifier-bench-"))
    provider_url = f"http://127.0.0.1:{provider_port}"
    run_id = uuid4().hex[:8]
    group = f"notifier-bench-{run_id}"
    await start_group_at_the_end(args.bootstrap, group)
    service = notifier_service(
        args,
        var_dir=var_dir,
        database_url=args.database_url,
        provider_url=provider_url,
        notifier_port=notifier_port,
        group=group,
        instance=f"bench-{run_id}",
    )
    server = uvicorn_server(service, notifier_port)
    serving = asyncio.create_task(server.serve())
    async with httpx.AsyncClient(timeout=10.0) as client:
        await wait_ready(
            client, [f"http://127.0.0.1:{notifier_port}/readyz", f"{provider_url}/_stats"]
        )
        _, ids = households(args.messages)
        requests = [request_for(h, run_id) for h in ids]
        print(f"direct: {len(requests):,} requests ...", flush=True)
        meter = CpuMeter(
            {"notifier": os.getpid(), "gateway": args.provider_pid, "broker": args.broker_pid}
        )
        meter.start()
        started = time.perf_counter()

        async def feed() -> None:
            for start in range(0, len(requests), FEED_BATCH):  # as the consumer does
                await service.notifier.accept_many(requests[start : start + FEED_BATCH])

        feeding = asyncio.create_task(feed())
        progress, sent_s = await watch_sends(
            client, provider_url, len(requests), started, args.max_seconds
        )
        used = meter.stop()
        await feeding
        stats = await settle(client, provider_url)

    counts = await settled(lambda: service.runtime.db.run(tally))
    server.should_exit = True
    await serving
    shutil.rmtree(var_dir, ignore_errors=True)
    return summary(
        intake="direct",
        instances=1,
        total=len(requests),
        progress=progress,
        sent_s=sent_s,
        produce_s=0.0,
        handler_ms=None,
        # The notifier is this process here (its CPU includes this script's polling).
        cpu={
            "notifiers": [used["notifier"]],
            "gateway": used["gateway"],
            "broker": used["broker"],
            "bench": None,
        },
        stats=stats,
        counts=counts,
    )


def scenario(args: argparse.Namespace, intake: str, instances: int) -> dict[str, Any]:
    provider_port = free_port()
    notifier_ports = [free_port() for _ in range(instances)]
    provider_url = f"http://127.0.0.1:{provider_port}"
    provider = start_provider(provider_port, notifier_ports, args.failure_rate, args.receipt_batch)
    args.provider_pid = provider.pid
    try:
        if intake == "direct":
            return asyncio.run(run_direct(args, provider_port, notifier_ports[0]))
        notifiers = start_instances(args, provider_url, notifier_ports)
        try:
            return asyncio.run(run_instances(args, notifiers, provider_url))
        finally:
            notifiers.stop()
            shutil.rmtree(notifiers.var_dir, ignore_errors=True)
    finally:
        provider.terminate()
        provider.wait(timeout=10)


def scaling(scenarios: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Kafka scenarios side by side: sends/s and CPU per send against one instance."""
    runs = [s for s in scenarios if s["intake"] == "kafka"]
    base = next((s for s in runs if s["instances"] == 1), None)
    if base is None or len(runs) < 2:
        return None
    return {
        str(s["instances"]): {
            "sends_per_second": s["sends_per_second"],
            "ratio_to_one_instance": round(s["sends_per_second"] / base["sends_per_second"], 2),
            "notifier_cpu_ms_per_send": s["notifier_cpu_ms_per_send"],
            "p99_accepted_to_sent_s": s["accepted_to_sent_seconds"]["p99"],
        }
        for s in runs
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
    parser.add_argument(
        "--instances",
        default="1",
        help="notifier processes for the kafka scenario, one count or several run in turn "
        "(e.g. 1,2,3)",
    )
    parser.add_argument(
        "--receipt-batch",
        type=int,
        default=100,
        help="receipts the gateway posts together to /v1/receipts/sms/batch (1: one per post)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "notifier_throughput.json")
    # One notifier instance as a child process (the kafka scenario starts these).
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for name in ("--var-dir", "--provider-url", "--group", "--instance-id"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--notifier-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    counts = [int(n) for n in args.instances.split(",")]
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
    args.broker_pid = listener_pid(args.bootstrap)
    try:
        scenarios = []
        for intake in intakes:
            for instances in counts if intake == "kafka" else [1]:
                if schema is not None:  # each scenario on empty tables
                    with engine.begin() as conn:
                        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        conn.execute(text(f"CREATE SCHEMA {schema}"))
                scenarios.append(scenario(args, intake, instances))
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
            "instances": counts,
            "channel": "sms: the tests' HTTP gateway on localhost, as a separate process",
            "receipts_per_post": args.receipt_batch,
            "kafka": "a private single-node broker (deploy/kafka.sh)"
            if broker is not None
            else f"{args.bootstrap} (shared: its CPU includes other clients' work)",
            "directory": "in-memory (the registry's audited look-up is not measured)",
        },
        "scenarios": scenarios,
        "scaling": scaling(scenarios),
        "duplicates": sum(s["duplicates"] for s in scenarios),
        "lost": sum(s["lost"] for s in scenarios),
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
    return 0 if result["duplicates"] == 0 and result["lost"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
