"""CPU per alert of an alert storm, in-process (no broker, no HTTP).

Drives ``Detector.handle`` as the consumer does: N households enrolled, then N arrears
signals (one per household) in batches of ``--batch``, each opening an alert, starting its
protocol (an escalation, its first step, a task) with a durable APScheduler timer and three
events. Prints the process CPU time (every thread: the unit of work runs in a worker thread,
the timers' writes in another) per alert — on a shared machine a steadier figure than
alerts per second. Run it with the sources of two checkouts to compare them, e.g.

    uv run python bench/storm_cpu.py --alerts 5000
    PYTHONPATH=/path/to/other/services/detector/src:/path/to/other/libs/runtime/src \
        uv run python bench/storm_cpu.py --alerts 5000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from anbu_contracts import ArrearsSignal, ChannelEnrolment, HouseholdSnapshot
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.adapters.orm import AlertRow, metadata
from anbu_detector.adapters.timers import StepTimers, timers_engine
from anbu_detector.domain.calendar import is_working_day
from anbu_detector.domain.monitor import Monitor
from anbu_detector.handlers import Detector, Setup, repositories
from anbu_runtime.batch import Received
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.logs import configure_logging
from anbu_runtime.outbox import Inbox, Outbox, install
from anbu_runtime.uow import Transactions

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 in Seoul, a working day
PARTITIONS = 12


def household_id(n: int) -> str:
    return f"HH-CPU{n:07d}"


def snapshot(n: int) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=T0,
        source="registry",
        household_id=household_id(n),
        revision=1,
        district_code="11110",
        dong_code="1111051500",
        tier="high_risk",  # type: ignore[arg-type]
        channels=[ChannelEnrolment(channel="phone", consent=True)],  # type: ignore[arg-type]
        quiet_hours={"start": "00:00", "end": "00:00"},  # type: ignore[arg-type]
    )


def arrears(n: int) -> ArrearsSignal:
    return ArrearsSignal(
        occurred_at=T0,
        source="lh",
        household_id=household_id(n),
        partner_id="lh",
        partner_event_id=f"a-{n}",
        arrears_type="electricity",  # type: ignore[arg-type]
        months_overdue=4,
        amount_krw=1_200_000,
        as_of=T0.date(),
    )


def received(topic: str, events: list[Any], offset: int) -> list[Received]:
    ms = int(T0.timestamp() * 1000)
    return [
        Received(topic, int(e.household_id[-4:]) % PARTITIONS, offset + i, e, ms)
        for i, e in enumerate(events)
    ]


# What GET /v1/alerts would want (not in the migrations yet): its filter and its order.
ALERTS_INDEX = "CREATE INDEX ix_alert_status_opened_at ON alert (status, opened_at)"


async def run(
    alerts: int, batch: int, timers: bool, url: str, pause: float, index: bool = False
) -> dict[str, Any]:
    tables = install(metadata)
    db = Database(url)
    db.create_all(metadata)
    if index:
        with db.engine.begin() as connection:
            connection.execute(text(ALERTS_INDEX))
    clock = ManualClock(T0)
    setup = Setup(load_catalog(), load_protocols(), Monitor(), "cpu")
    is_working_day(T0.date())  # the holidays calendar loads at start, as bootstrap does
    tx = Transactions(
        db, Outbox(tables, "detector"), clock, repositories(setup), inbox=Inbox(tables, "d")
    )
    detector = Detector(setup, tx)
    step_timers = None
    if timers:

        async def fire(escalation_id: str) -> None:  # due in days: never in this run
            raise AssertionError(escalation_id)

        step_timers = StepTimers(timers_engine(url), clock, fire)
        step_timers.start()
        detector.timers = step_timers
    # As the consumer's assignment does: the index loaded, the timers' stores added, the
    # collector's heap frozen (then the registry's snapshots arrive).
    await detector.load_partitions(set(range(PARTITIONS)))
    snapshots = [snapshot(n) for n in range(alerts)]
    for start in range(0, alerts, 5000):
        await detector.handle(
            received(REGISTRY_HOUSEHOLD.name, snapshots[start : start + 5000], start)
        )
    signals = [arrears(n) for n in range(alerts)]
    if pause:
        print(f"pid {os.getpid()}: attach a profiler now ({pause} s)", file=sys.stderr)
        await asyncio.sleep(pause)
    cpu, wall = time.process_time(), time.perf_counter()
    probing = asyncio.create_task(probe(db))
    for start in range(0, alerts, batch):
        await detector.handle(received("signals", signals[start : start + batch], 10**6 + start))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    probing.cancel()
    latencies = sorted(LATENCIES)
    with db.session() as s:
        opened = s.execute(select(func.count()).select_from(AlertRow)).scalar()
    if step_timers is not None:
        step_timers.shutdown()
    db.dispose()
    assert opened == alerts, (opened, alerts)
    return {
        "alerts": alerts,
        "batch": batch,
        "timers": timers,
        "alerts_index": index,
        "cpu_ms_per_alert": round(cpu * 1000 / alerts, 3),
        "wall_alerts_per_second": round(alerts / wall),
        # what an HTTP read meanwhile waits for: the loop, then a reader thread's query
        "probe_ms": {
            "n": len(latencies),
            "p50": round(latencies[len(latencies) // 2], 1) if latencies else None,
            "p99": round(latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
            "max": round(latencies[-1], 1) if latencies else None,
        },
    }


LATENCIES: list[float] = []


async def probe(db: Database) -> None:
    """Every 50 ms, what ``GET /v1/alerts`` does on the detector's loop: a read of the
    newest open alert on the database's reader threads, awaited there."""
    query = select(AlertRow.alert_id).where(AlertRow.status == "open")
    newest = query.order_by(AlertRow.opened_at.desc()).limit(1)  # type: ignore[attr-defined]
    LATENCIES.clear()
    while True:
        await asyncio.sleep(0.05)
        asked = time.perf_counter()
        await db.read(lambda s: s.execute(newest).all())
        LATENCIES.append((time.perf_counter() - asked) * 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--no-timers", action="store_true")
    parser.add_argument("--url", help="a database URL (default: a new SQLite file)")
    parser.add_argument("--pause", type=float, default=0, help="seconds to attach py-spy")
    parser.add_argument("--index", action="store_true", help=f"first: {ALERTS_INDEX}")
    parser.add_argument("--log-level", default="INFO", help="as the service runs (INFO)")
    args = parser.parse_args()
    configure_logging("detector", args.log_level)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'detector.db'}"
        result = asyncio.run(
            run(args.alerts, args.batch, not args.no_timers, url, args.pause, args.index)
        )
    print(json.dumps(result), file=sys.stderr)  # stdout has the service's log lines


if __name__ == "__main__":
    main()
