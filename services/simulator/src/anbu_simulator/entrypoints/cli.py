"""``anbu-simulator``: feed a running anbu with a simulated population.

    anbu-simulator run [--households 10000 | --seed-file deploy/seed/demo.yaml] [--seed 1]
                       [--days 30] [--speed 600] [--demo] [--field-staff]
                       [--ground-truth var/simulator/ground-truth.jsonl]
    anbu-simulator clock-start [--state var/simulator/clock.txt] [--at 13:30]

The clock: by default the shared ``ANBU_CLOCK_SPEED``/``ANBU_CLOCK_START``/
``ANBU_CLOCK_EPOCH`` (the same accelerated clock every service reads, so simulated signal
times and the services' "now" agree). ``--speed`` alone starts a private accelerated clock
at the current time (for a stack on the wall clock, only speed 1 is coherent).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from anbu_runtime.clock import Clock, clock_from
from anbu_runtime.kafka import RecordProducer
from anbu_runtime.logs import configure_logging, get_logger
from anbu_runtime.settings import CommonSettings

from ..adapters.field_staff import FieldStaff, logins_from_seed
from ..adapters.kafka_feed import KafkaFeed, play
from ..domain.population import seed_population, synthetic_population
from ..domain.simulation import SEOUL, Simulation, SimulationConfig

log = get_logger(__name__)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="anbu-simulator", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="produce a simulated population's signals to Kafka")
    run.add_argument("--households", type=int, default=10_000, help="synthetic population size")
    run.add_argument("--seed-file", type=Path, help="simulate the households of a registry seed")
    run.add_argument("--seed", default="1", help="random seed (same seed, same world)")
    run.add_argument("--days", type=float, default=30.0, help="simulated days to run")
    run.add_argument("--speed", type=float, help="private accelerated clock (see above)")
    run.add_argument("--demo", action="store_true", help="add the scripted demo crises")
    run.add_argument(
        "--field-staff",
        action="store_true",
        default=_truthy(os.environ.get("ANBU_SIMULATOR_FIELD_STAFF")),
        help="simulated staff accept tasks and record outcomes (ANBU_SIMULATOR_FIELD_STAFF=1)",
    )
    run.add_argument("--ground-truth", type=Path, help="JSONL of injected crises")
    run.add_argument("--clock-state", type=Path, help="write the simulated time reached here")
    run.add_argument("--crisis-rate", type=float, default=0.1, help="per household-year")
    start = commands.add_parser(
        "clock-start", help="print a clock start for ANBU_CLOCK_START (never behind a past run)"
    )
    start.add_argument("--state", type=Path, help="the file `run --clock-state` writes")
    start.add_argument("--at", default="13:30", help="local (Asia/Seoul) time of day to start at")
    return parser


def clock_start(state: Path | None, at: str, now: datetime | None = None) -> datetime:
    """The next local ``at`` after both now and the simulated time a previous run reached.

    Services keep state across runs (last activity per channel, timers): starting the
    shared clock behind a past run's simulated time would make new signals look old.
    """
    floor = now or datetime.now(UTC)
    if state is not None and state.exists():
        with contextlib.suppress(ValueError):
            # the state is written every few real seconds: allow for what came after it
            reached = datetime.fromisoformat(state.read_text().strip()) + timedelta(hours=3)
            floor = max(floor, reached)
    local = floor.astimezone(SEOUL)
    wanted = time.fromisoformat(at)
    candidate = datetime.combine(local.date(), wanted, SEOUL)
    if candidate <= local:
        candidate += timedelta(days=1)
    return candidate.astimezone(UTC)


def _clock(args: argparse.Namespace, common: CommonSettings) -> Clock:
    if args.speed is not None:
        return clock_from(args.speed, None, None)
    return clock_from(*common.clock_params())


async def _run(args: argparse.Namespace) -> int:
    common = CommonSettings()
    clock = _clock(args, common)
    seed_doc: dict[str, Any] = {}
    if args.seed_file:
        seed_doc = yaml.safe_load(args.seed_file.read_text(encoding="utf-8")) or {}
        population = seed_population(args.seed, seed_doc.get("households", ()))
    else:
        population = synthetic_population(args.seed, args.households)
    start = clock.now().replace(second=0, microsecond=0)
    config = SimulationConfig(
        seed=args.seed,
        start=start,
        days=args.days,
        demo=args.demo,
        crisis_rate_per_year=args.crisis_rate,
    )
    simulation = Simulation(population, config)
    truth_path = args.ground_truth or common.var_dir / "simulator" / "ground-truth.jsonl"
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    with truth_path.open("w", encoding="utf-8") as out:
        for crisis in simulation.ground_truth:
            out.write(json.dumps(crisis.to_json(), ensure_ascii=False) + "\n")
    log.info(
        "simulation planned",
        households=len(population),
        crises=len(simulation.ground_truth),
        start=start.isoformat(),
        days=args.days,
        ground_truth=str(truth_path),
    )
    producer = RecordProducer(common.kafka_bootstrap, "simulator")
    await producer.start()
    feed = KafkaFeed(producer)
    staff_task: asyncio.Task[None] | None = None
    if args.field_staff:
        staff = FieldStaff(
            registry_url=common.registry_url,
            outreach_url=common.outreach_public_url,
            logins=logins_from_seed(seed_doc),
            clock=clock,
            crisis_of=simulation.crisis_of,
            seed=args.seed,
        )
        staff_task = asyncio.create_task(staff.run())
    last_report = [datetime.now(UTC)]

    def tick(now: datetime) -> None:
        real = datetime.now(UTC)
        if real - last_report[0] < timedelta(seconds=10):
            return
        last_report[0] = real
        if args.clock_state:
            args.clock_state.parent.mkdir(parents=True, exist_ok=True)
            args.clock_state.write_text(now.isoformat())
        print(
            f"{now.astimezone(SEOUL):%Y-%m-%d %H:%M} KST  sent {sum(feed.sent.values())} "
            f"records {dict(feed.sent)}",
            flush=True,
        )

    try:
        await play(simulation.observations(), clock, feed, tick=tick)
        print(f"simulation finished: {dict(feed.sent)}", flush=True)
        if staff_task is not None:
            await staff_task  # staff keep working until stopped
    finally:
        if staff_task is not None:
            staff_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await staff_task
        await producer.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "clock-start":
        print(clock_start(args.state, args.at).isoformat())
        return 0
    common = CommonSettings()
    configure_logging("simulator", common.log_level, common.log_format)
    loop = asyncio.new_event_loop()
    task = loop.create_task(_run(args))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("simulator stopped.", file=sys.stderr)
        return 0
    finally:
        loop.close()
