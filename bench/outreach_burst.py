"""Outreach burst: a national list round lands at once.

    uv run python bench/outreach_burst.py [--tasks 10000] [--dongs 424] [--staff 5000]
        [--postgres [URL]] [--profile FILE]

What runs: outreach as its own process (``python -m anbu_outreach``, SQLite by default or
PostgreSQL) against a private broker (deploy/kafka.sh on port 29692). The roster (5,000
staff with weekly office-hours shifts, over 424 dongs in Seoul's 25 real districts; dong
codes are synthetic within them) and 10,000 household snapshots are published to the
registry's compacted topics first; outreach starts and warms its cache; then 10,000
escalation steps — one blind-spot investigation visit each, as a national list round
creates them — are produced at once to ``detector.escalation.v1``. The clock is a
Wednesday 10:00 in Seoul (office hours), so shifts decide who is reachable.

Reported: how long until every task had been offered (first ``outreach.task.v1`` event of
each task, from the moment the burst started), per-task latency percentiles, tasks offered
and tasks handed to the duty officer, and the spread of load — open tasks per person, max
and mean, over the officials who could take them and over everyone — with the largest
load against each person's maximum. Results go to bench/results/outreach_burst.json
(``outreach_burst_postgresql.json`` with ``--postgres``).

``--profile FILE`` samples the outreach process with py-spy during the burst (collapsed
stacks; run as ``uv run --with py-spy python bench/outreach_burst.py --profile ...``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

from _support import BENCH_VAR, ROOT, percentile, postgres, write_result
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(ROOT))
from anbu_contracts import (
    EscalationChange,
    EscalationEvent,
    EscalationStatus,
    HouseholdSnapshot,
    Role,
    StepRecord,
    TaskAction,
    TaskType,
    Tier,
    WeeklyShift,
    WorkerSnapshot,
)
from anbu_contracts.topics import (
    DETECTOR_ESCALATION,
    OUTREACH_TASK,
    REGISTRY_HOUSEHOLD,
    REGISTRY_WORKER,
    Topic,
)
from anbu_runtime.processes import Stack
from tests.e2e.conftest import own_broker

KAFKA_PORT = 29692
PORT = 18970
SCHEMA = "outreach_burst"
SEOUL = ZoneInfo("Asia/Seoul")
CLOCK_START = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)  # a Wednesday, office hours
# Seoul's 25 districts (real 시군구 codes); dongs are numbered within them.
DISTRICTS = [
    "11110", "11140", "11170", "11200", "11215", "11230", "11260", "11290", "11305",
    "11320", "11350", "11380", "11410", "11440", "11470", "11500", "11530", "11545",
    "11560", "11590", "11620", "11650", "11680", "11710", "11740",
]  # fmt: skip
OFFICE_HOURS = [WeeklyShift(weekday=d, start=dtime(9), end=dtime(18)) for d in range(5)]
# Per dong, before the remainder is spread: officials take the list-round visits.
PER_DONG = [
    (Role.OFFICIAL, 5),
    (Role.LIFE_SUPPORT_WORKER, 2),
    (Role.BLOCK_LEADER, 2),
    (Role.VOLUNTEER, 2),
]


def dong_codes(count: int) -> list[str]:
    return [
        f"{DISTRICTS[i % len(DISTRICTS)]}{510 + 10 * (i // len(DISTRICTS)):03d}00"
        for i in range(count)
    ]


def roster(dongs: list[str], staff: int, rng: random.Random) -> list[WorkerSnapshot]:
    people: list[tuple[Role, str]] = [
        (role, dong) for dong in dongs for role, n in PER_DONG for _ in range(n)
    ]
    extra = [Role.OFFICIAL, Role.NURSE, Role.CASE_MANAGER]
    while len(people) < staff:
        people.append((extra[len(people) % len(extra)], dongs[len(people) % len(dongs)]))
    at = CLOCK_START - timedelta(days=30)
    return [
        WorkerSnapshot(
            occurred_at=at,
            source="bench",
            worker_id=f"W-B{n:05d}",
            revision=1,
            roles=[role],
            dong_codes=[dong],
            shifts=OFFICE_HOURS,
            max_open_tasks=rng.choice((8, 10, 12)),
        )
        for n, (role, dong) in enumerate(people[:staff])
    ]


def households(
    dongs: list[str], count: int, workers: list[WorkerSnapshot], rng: random.Random
) -> list[HouseholdSnapshot]:
    officials: dict[str, list[str]] = defaultdict(list)
    for w in workers:
        if Role.OFFICIAL in w.roles:
            officials[w.dong_codes[0]].append(w.worker_id)
    at = CLOCK_START - timedelta(days=30)
    out = []
    for n in range(count):
        dong = dongs[n % len(dongs)]
        out.append(
            HouseholdSnapshot(
                occurred_at=at,
                source="bench",
                household_id=f"HH-BURST{n:06d}",
                revision=1,
                district_code=dong[:5],
                dong_code=dong,
                tier=Tier.WATCH,
                violence_risk=rng.random() < 0.03,
                responsible_worker_id=(
                    rng.choice(officials[dong]) if officials[dong] and rng.random() < 0.6 else None
                ),
            )
        )
    return out


def list_round_steps(homes: list[HouseholdSnapshot]) -> list[EscalationEvent]:
    now = CLOCK_START
    deadline = now + timedelta(days=14)
    return [
        EscalationEvent(
            occurred_at=now,
            produced_at=now,
            source="bench",
            correlation_id=f"round-2026-6:{h.household_id}",
            escalation_id=uuid4(),
            alert_id=uuid4(),
            household_id=h.household_id,
            protocol_id="welfare-check",
            protocol_version="1",
            change=EscalationChange.STEP_EXECUTED,
            status=EscalationStatus.RUNNING,
            triggered_at=now,
            step=StepRecord(
                step_id="visit",
                title="blind-spot investigation",
                due_at=now,
                executed_at=now,
                actions=[
                    TaskAction(
                        action_id="investigate",
                        task_type=TaskType.INVESTIGATION,
                        team=[Role.OFFICIAL],
                        deadline=deadline,
                    )
                ],
            ),
        )
        for h in homes
    ]


async def produce(bootstrap: str, topic: Topic, events: list[Any]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=262144
    )
    await producer.start()
    started = time.perf_counter()
    try:
        futures = [
            await producer.send(topic.name, key=topic.key_of(e), value=e.model_dump_json().encode())
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def burst(bootstrap: str, steps: list[EscalationEvent]) -> dict[str, Any]:
    """Produce the steps at once; follow outreach.task.v1 until every task has appeared."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(OUTREACH_TASK.name, p) for p in range(OUTREACH_TASK.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)
    expected = {str(s.escalation_id) for s in steps}
    first: dict[str, float] = {}
    latest: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    produce_task = asyncio.create_task(produce(bootstrap, DETECTOR_ESCALATION, steps))
    deadline = started + 600
    try:
        while len(first) < len(expected) and time.perf_counter() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                arrived = time.perf_counter() - started
                for record in records:
                    event = json.loads(record.value)
                    escalation = event.get("escalation_id")
                    if escalation not in expected:
                        continue
                    first.setdefault(escalation, arrived)
                    latest[escalation] = event
        produce_seconds = await produce_task
    finally:
        await consumer.stop()
    return {"first": first, "latest": latest, "produce_seconds": produce_seconds}


def load_spread(latest: dict[str, dict[str, Any]], workers: list[WorkerSnapshot]) -> dict[str, Any]:
    load: Counter[str] = Counter()
    for event in latest.values():
        if event["status"] in ("offered", "accepted", "unassigned", "started"):
            load.update(event["assignees"])
    officials = [w for w in workers if Role.OFFICIAL in w.roles]
    maximum = {w.worker_id: w.max_open_tasks for w in workers}

    def spread(people: list[WorkerSnapshot]) -> dict[str, float]:
        values = [load.get(w.worker_id, 0) for w in people]
        mean = sum(values) / len(values) if values else 0.0
        return {
            "people": len(values),
            "max": max(values, default=0),
            "mean": round(mean, 2),
            "max_over_mean": round(max(values, default=0) / mean, 2) if mean else 0.0,
            "with_no_task": sum(1 for v in values if v == 0),
        }

    worst = max(load, key=lambda w: load[w] / maximum[w], default=None)
    return {
        "officials": spread(officials),
        "all_staff": spread(workers),
        "over_their_maximum": sum(1 for w, n in load.items() if n > maximum[w]),
        "highest_share_of_maximum": round(load[worst] / maximum[worst], 2) if worst else 0.0,
    }


def profiler(stack: Stack, path: str) -> subprocess.Popen[bytes]:
    popen = stack.processes["outreach"].popen
    assert popen is not None
    spy = [shutil.which("py-spy") or "py-spy", "record", "--pid", str(popen.pid)]
    options = ["--rate", "50", "--format", "raw", "--threads", "--idle", "-o", path]
    return subprocess.Popen([*spy, *options])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--dongs", type=int, default=424)
    parser.add_argument("--staff", type=int, default=5_000)
    parser.add_argument("--postgres", nargs="?", const="", default=None, help="PostgreSQL URL")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--profile", default=None, help="py-spy collapsed stacks to this file")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = BENCH_VAR / "outreach"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    database = "sqlite"
    env: dict[str, str] = {}
    if args.postgres is not None:
        url = args.postgres or postgres()
        database = "postgresql"
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:  # a fresh schema of the benchmark's own
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        engine.dispose()
        separator = "&" if "?" in url else "?"
        env["ANBU_OUTREACH_DATABASE_URL"] = f"{url}{separator}options=-csearch_path%3D{SCHEMA}"

    dongs = dong_codes(args.dongs)
    workers = roster(dongs, args.staff, rng)
    homes = households(dongs, args.tasks, workers, rng)
    steps = list_round_steps(homes)
    result: dict[str, Any] = {
        "tasks": args.tasks,
        "dongs": args.dongs,
        "staff": args.staff,
        "officials": sum(1 for w in workers if Role.OFFICIAL in w.roles),
        "violence_flagged_households": sum(1 for h in homes if h.violence_risk),
        "database": database,
        "task": "investigation visit, team [official] (doubled for a violence flag), 14 days",
    }
    with own_broker(KAFKA_PORT, work / "kafka") as bootstrap:
        print(f"publishing {len(workers):,} workers and {len(homes):,} households ...", flush=True)
        asyncio.run(produce(bootstrap, REGISTRY_WORKER, workers))
        asyncio.run(produce(bootstrap, REGISTRY_HOUSEHOLD, homes))
        stack = Stack(
            var_dir=work,
            ports={"outreach": PORT},
            env={
                "ANBU_KAFKA_BOOTSTRAP": bootstrap,
                "ANBU_CLOCK_START": CLOCK_START.isoformat(),
                "ANBU_CLOCK_EPOCH": datetime.now(UTC).isoformat(),
                "ANBU_LOG_LEVEL": "WARNING",
                **env,
            },
        )
        stack.start(["outreach"])
        try:
            started = time.perf_counter()
            stack.wait_ready(["outreach"], timeout=180)
            result["ready_with_warm_cache_seconds"] = round(time.perf_counter() - started, 1)
            print(f"burst: {len(steps):,} escalation steps at once ...", flush=True)
            spy = profiler(stack, args.profile) if args.profile else None
            try:
                seen = asyncio.run(burst(bootstrap, steps))
            finally:
                if spy is not None:  # py-spy writes its file when interrupted
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=60)
        finally:
            stack.stop()
    first: dict[str, float] = seen["first"]
    latencies = list(first.values())
    statuses = Counter(e["status"] for e in seen["latest"].values())
    result.update(
        {
            "tasks_seen": len(first),
            "produce_seconds": round(seen["produce_seconds"], 2),
            "seconds_until_every_task_offered": round(max(latencies, default=float("nan")), 2),
            "tasks_per_second": round(len(first) / max(latencies), 1) if latencies else 0.0,
            "latency_seconds": {
                "p50": round(percentile(latencies, 50), 2),
                "p95": round(percentile(latencies, 95), 2),
                "p99": round(percentile(latencies, 99), 2),
            },
            "statuses": dict(statuses),
            "load": load_spread(seen["latest"], workers),
        }
    )
    name = "outreach_burst" if database == "sqlite" else f"outreach_burst_{database}"
    path = write_result(name, result)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written to {path}")
    return 0 if len(first) == args.tasks else 1


if __name__ == "__main__":
    raise SystemExit(main())
