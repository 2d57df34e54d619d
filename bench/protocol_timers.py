"""Durable protocol timers at scale: open many escalations, restart the detector, count firings.

    uv run python bench/protocol_timers.py [--escalations 100000] [--speed 216]

On a broker of its own (started here), with N enrolled households in the detector's state:

1. N arrears signals open N alerts, each starting the ``welfare-check`` protocol: its first
   step runs at once, its second (``visit``, three days later) waits on a durable timer;
2. once every escalation is open the detector is stopped and started again (the timers
   must come back from its database);
3. the script waits until every ``visit`` step has been published, then reads
   ``detector.escalation.v1`` from the beginning and reports how many steps fired, how
   many fired twice (must be 0), and how late they fired (executed minus due); and the
   detector's process CPU from the first fired step to the last (``firing``: CPU per step,
   steps per CPU-second — the firing capacity on one core, which the load of a shared
   machine does not change the way it changes lateness).

The detector runs on an accelerated clock (``--speed``: 216 makes three days twenty
minutes), so lateness is reported in real seconds (what the scheduler achieved) and in
simulated minutes (what a household would see). Prints a table and writes
bench/results/protocol_timers.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import psutil
from _support import BENCH_VAR, ROOT, percentile, write_result
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(ROOT / "bench"))
from detector_throughput import ARREARS, PORTS, handled, produce_storm, seed_state

from anbu_contracts.topics import DETECTOR_ESCALATION
from anbu_runtime.processes import Stack
from tests.e2e.conftest import own_broker

PORT = 18970
KAFKA_PORT = 29596  # its KRaft controller listens on 29597
STEP = "visit"
PORTS[:] = [PORT]  # where detector_throughput.handled() reads the detector's counters


def wait_ready(timeout: float = 900) -> float:
    started = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - started < timeout:
            try:
                if client.get(f"http://127.0.0.1:{PORT}/readyz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise TimeoutError("the detector did not become ready")


def wait_opened(count: int, timeout: float = 3600) -> float:
    started = time.perf_counter()
    last = -1
    with httpx.Client(timeout=5) as client:
        while time.perf_counter() - started < timeout:
            done = handled(client, ARREARS)
            if done >= count:
                return time.perf_counter() - started
            if done // 10_000 != last // 10_000:
                print(f"  {done:,} / {count:,} escalations opened", flush=True)
            last = done
            time.sleep(1)
    raise TimeoutError(f"only {last} of {count} arrears signals handled")


async def read_steps(
    bootstrap: str, expected: int, patience: float, cpu: Callable[[], float]
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Escalation events from the beginning of the topic, until ``expected`` steps named
    STEP have fired (then five seconds more: a second firing would follow the first); and
    the detector's process CPU (``cpu``) from the first fired step read to the last."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_poll_records=5000
    )
    await consumer.start()
    tps = [
        TopicPartition(DETECTOR_ESCALATION.name, p) for p in range(DETECTOR_ESCALATION.partitions)
    ]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    events: list[dict[str, Any]] = []
    steps: set[str] = set()
    started = time.perf_counter()
    done_at: float | None = None
    reported = 0.0
    firing: dict[str, float] = {}
    while time.perf_counter() - started < patience:
        for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
            for record in records:
                event = json.loads(record.value)
                events.append(event)
                if fired([event]):
                    steps.add(event["escalation_id"])
        now = time.perf_counter()
        if steps and "cpu_first" not in firing:
            firing.update(cpu_first=cpu(), at_first=now)
        if now - reported > 20:
            print(f"  {len(steps):,} of {expected:,} '{STEP}' steps fired", flush=True)
            reported = now
        if done_at is None and len(steps) >= expected:
            done_at = now
            firing.update(cpu_last=cpu(), at_last=now)
        if done_at is not None and now - done_at > 5:
            break
    await consumer.stop()
    return events, firing


def fired(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["change"] == "step_executed" and e.get("step") and e["step"]["step_id"] == STEP
    ]


def when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--escalations", type=int, default=100_000)
    parser.add_argument("--speed", type=float, default=216.0, help="216: 3 days in 20 min")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait per phase")
    args = parser.parse_args()
    work = BENCH_VAR / "protocol_timers"
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    n = args.escalations
    result: dict[str, Any] = {"escalations": n, "clock_speed": args.speed, "step": STEP}
    print(f"seeding {n:,} households into the detector's state ...", flush=True)
    seed_state(work / "data" / "detector.db", n)
    # No monitored channel: on the accelerated clock a phone window would run out and open
    # a second protocol per household; this benchmark measures one protocol's timers.
    with sqlite3.connect(work / "data" / "detector.db") as db:
        db.execute("DELETE FROM channel_clock")
        db.execute("UPDATE household SET windows = '{}'")
    epoch = datetime.now(UTC).isoformat()
    with own_broker(KAFKA_PORT, work / "kafka") as bootstrap:
        stack = Stack(
            var_dir=work,
            ports={"detector": PORT},
            env={
                "ANBU_KAFKA_BOOTSTRAP": bootstrap,
                "ANBU_DETECTOR_DATABASE_URL": f"sqlite:///{work / 'data' / 'detector.db'}",
                "ANBU_LOG_LEVEL": "WARNING",
                "ANBU_DETECTOR_BATCH_SIZE": "2000",
                "ANBU_CLOCK_START": epoch,
                "ANBU_CLOCK_EPOCH": epoch,
                "ANBU_CLOCK_SPEED": str(args.speed),
            },
        )
        stack.start()
        wait_ready()
        print(f"opening {n:,} escalations (arrears → welfare-check) ...", flush=True)
        asyncio.run(produce_storm(bootstrap, n))
        opened = wait_opened(n, args.timeout)
        result["open_seconds"] = round(opened, 1)
        result["opened_per_second"] = round(n / opened)
        print(f"  all open after {opened:.0f} s; restarting the detector ...", flush=True)
        stack.stop()
        stopped_at = time.perf_counter()
        stack.start()
        result["restart_ready_seconds"] = round(wait_ready(), 1)
        result["downtime_seconds"] = round(time.perf_counter() - stopped_at, 1)
        print(f"  ready again after {result['restart_ready_seconds']} s", flush=True)

        print(f"waiting for every '{STEP}' step ...", flush=True)
        detector = psutil.Process(stack.processes["detector"].popen.pid)  # type: ignore[union-attr]

        def cpu() -> float:
            times = detector.cpu_times()
            return float(times.user + times.system)

        events, firing = asyncio.run(read_steps(bootstrap, n, args.timeout, cpu))
        stack.stop()
        if "cpu_last" in firing:
            # What firing costs the detector (its process CPU, every thread, from the first
            # fired step read to the last): steps per CPU-second is its capacity on one core,
            # whatever else the shared machine runs.
            spent = firing["cpu_last"] - firing["cpu_first"]
            result["firing"] = {
                "seconds_first_to_last": round(firing["at_last"] - firing["at_first"], 1),
                "detector_cpu_seconds": round(spent, 1),
                "cpu_ms_per_step": round(spent / n * 1000, 3),
                "steps_per_cpu_second": round(n / spent) if spent else None,
            }

    steps = fired(events)
    per = Counter(e["escalation_id"] for e in steps)
    started_count = sum(1 for e in events if e["change"] == "started")
    late_sim = [
        (when(e["step"]["executed_at"]) - when(e["step"]["due_at"])).total_seconds() for e in steps
    ]
    late_real = [s / args.speed for s in late_sim]
    result.update(
        {
            "escalations_started": started_count,
            "steps_fired": len(per),
            "steps_missing": n - len(per),
            "steps_fired_twice": sum(1 for c in per.values() if c > 1),
            "lateness_real_seconds": {
                "p50": round(percentile(late_real, 50), 2),
                "p99": round(percentile(late_real, 99), 2),
                "max": round(max(late_real), 2) if late_real else None,
            },
            "lateness_simulated_minutes": {
                "p50": round(percentile(late_sim, 50) / 60, 1),
                "p99": round(percentile(late_sim, 99) / 60, 1),
                "max": round(max(late_sim) / 60, 1) if late_sim else None,
            },
        }
    )
    print()
    print(f"escalations opened          {started_count:>10,}  ({result['opened_per_second']}/s)")
    print(f"'{STEP}' steps fired          {len(per):>10,}")
    print(f"fired twice                 {result['steps_fired_twice']:>10,}")
    print(f"missing                     {result['steps_missing']:>10,}")
    lr, ls = result["lateness_real_seconds"], result["lateness_simulated_minutes"]
    print(f"lateness (real s)           p50 {lr['p50']}  p99 {lr['p99']}  max {lr['max']}")
    print(f"lateness (simulated min)    p50 {ls['p50']}  p99 {ls['p99']}  max {ls['max']}")
    if "firing" in result:
        f = result["firing"]
        print(
            f"firing (detector CPU)       {f['cpu_ms_per_step']} ms a step, "
            f"{f['steps_per_cpu_second'] or '-'} steps per CPU-second"
        )
    print(f"results: {write_result('protocol_timers', result)}")
    return 0 if result["steps_fired_twice"] == 0 and result["steps_missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
