"""The detector's restart in one process: a seeded SQLite state loaded back into the index.

    uv run python bench/detector_restart.py seed DB --households 200000
    uv run python bench/detector_restart.py load DB [--tracemalloc] [--profile-wait S]

``seed``: the durable state ``bench/detector_throughput.py`` leaves after its heartbeat
backlog — N households, each with a consented phone channel whose clock and learned week
(a week of activity) were written by the code's own flush format (``rhythm_columns`` and
``upsert_channels``), so each tree seeds what its own detector writes.

``load``: what a restart does before it is ready (``Detector.load_partitions`` over every
partition), timed as process CPU and wall clock, with the process's RSS before and after
and its peak; ``--tracemalloc``: the allocations still held after the load, by line.
Steadier than the broker-driven script on a shared machine: no Kafka, one process, CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from _support import ROOT
from detector_throughput import household_id, partition_of, seed_state

sys.path.insert(0, str(ROOT))
from anbu_contracts.topics import HOUSEHOLD_PARTITIONS
from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.adapters.orm import metadata, rhythm_columns
from anbu_detector.adapters.repository import Repository
from anbu_detector.domain.monitor import Monitor
from anbu_detector.domain.rhythm import BLOCK_SECONDS, ChannelRhythm
from anbu_detector.handlers import Detector, Setup, repositories
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Inbox, Outbox, install
from anbu_runtime.uow import Transactions


def seed(database: Path, households: int) -> None:
    """``detector_throughput``'s enrolled state, then each clock as a flush after a week
    of activity writes it (its learned week in the code's own stored form)."""
    seed_state(database, households)
    active = (datetime.now(UTC) - timedelta(hours=1)).timestamp()
    rng = random.Random(15)
    db = Database(f"sqlite:///{database}")
    chunk = 50_000
    for start in range(0, households, chunk):
        rows = []
        for n in range(start, min(start + chunk, households)):
            rhythm = ChannelRhythm(active - 7 * 86400)
            for block in range(42):
                rhythm.hits[block] = rng.randrange(3)
            rhythm.last_block = int((active + 9 * 3600) // BLOCK_SECONDS)
            h = household_id(n)
            rows.append((h, "phone", partition_of(h), active, False, *rhythm_columns(rhythm)))
        with db.session() as session:
            Repository(session).upsert_channels(rows)
            session.commit()
    db.dispose()


def load(database: Path, trace: bool, wait: float) -> dict[str, float]:
    tables = install(metadata)
    db = Database(f"sqlite:///{database}")
    clock = ManualClock(datetime.now(UTC))
    setup = Setup(load_catalog(), load_protocols(), Monitor(), "bench")
    transactions = Transactions(
        db, Outbox(tables, "detector"), clock, repositories(setup), inbox=Inbox(tables, "detector")
    )
    detector = Detector(setup, transactions)
    process = psutil.Process()
    if wait:
        print(f"pid {process.pid}: loading in {wait} s", flush=True)
        time.sleep(wait)
    if trace:
        tracemalloc.start()
    rss_before = process.memory_info().rss
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(detector.load_partitions(set(range(HOUSEHOLD_PARTITIONS))))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    result = {
        "households": len(setup.monitor.households),
        "load_cpu_s": round(cpu, 2),
        "load_wall_s": round(wall, 2),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(process.memory_info().rss / 2**20, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if trace:
        snapshot = tracemalloc.take_snapshot()
        tracemalloc.stop()
        top = snapshot.statistics("lineno")[:15]
        total = sum(s.size for s in snapshot.statistics("filename"))
        result["traced_mb"] = round(total / 2**20, 1)
        for stat in top:
            frame = stat.traceback[0]
            print(f"{stat.size / 2**20:8.1f} MB {stat.count:9,d}  {frame.filename}:{frame.lineno}")
    db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["seed", "load"])
    parser.add_argument("database", type=Path)
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--profile-wait", type=float, default=0.0, help="sleep before loading")
    args = parser.parse_args()
    if args.action == "seed":
        args.database.unlink(missing_ok=True)
        seed(args.database, args.households)
        print(f"seeded {args.households:,} households into {args.database}")
        return
    print(json.dumps(load(args.database, args.tracemalloc, args.profile_wait)))


if __name__ == "__main__":
    main()
