"""Faults under a steady load: nothing lost, nothing twice, every service back.

Each case registers a cohort of households, streams their signals, injects its fault
mid-stream, then counts alerts, day-1 escalation steps, tasks and messages end to end
against what the cohort must cause (see load.py), and how long the city took to be ready
again with every consumer group's lag back to 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from .city import INSTANCES, SERVICES, City
from .load import (
    HEADER,
    Figures,
    Load,
    day2_counts,
    day2_tasks,
    out_of_order,
    protocol_steps,
    settle,
)

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.timeout(600)]

COHORT = 12
STREAM_S = 6.0
FAULT_AFTER_S = 2.0
PG_OUTAGE_S = 30.0


async def run_case(
    name: str,
    city: City,
    load: Load,
    fault: Callable[[], None] | None,
    *,
    cohort: int = COHORT,
    stream_s: float = STREAM_S,
    settle_s: float = 120.0,
) -> Figures:
    households = await load.households(cohort)
    sent_before = load.signals_sent
    stream = asyncio.create_task(load.stream(households, stream_s))
    await asyncio.sleep(FAULT_AFTER_S)
    fault_at = time.monotonic()
    if fault is not None:
        await asyncio.to_thread(fault)
    await stream
    figures = await settle(city, households, fault_at, settle_s)
    figures.case, figures.signals = name, load.signals_sent - sent_before
    print(f"\n{name}: {figures.signals} signals, gateway retries so far {load.gateway_retries}")
    print(HEADER)
    print("\n".join(figures.rows()))
    return figures


def assert_whole(figures: Figures) -> None:
    assert figures.lost == 0 and figures.duplicated == 0, "\n".join([HEADER, *figures.rows()])
    assert figures.recovery_s < 120, f"{figures.recovery_s} s; {figures.unrecovered}"


async def test_two_instances_of_every_service_take_the_load(
    city: City, load: Load, record: list[Figures]
) -> None:
    figures = await run_case("baseline (2 instances each)", city, load, None)
    record.append(figures)
    assert_whole(figures)


async def test_each_service_killed_in_turn_mid_stream_is_restarted_and_loses_nothing(
    city: City, load: Load, record: list[Figures]
) -> None:
    restarts_before = {name: _restarts(city, name) for name in city.stack.processes}

    def kill_each_in_turn() -> None:
        for service in SERVICES:  # registry, gateway, detector, outreach, notifier, console
            city.kill(f"{service}-1")
            time.sleep(1.5)

    figures = await run_case(
        "kill -9 each service in turn", city, load, kill_each_in_turn, cohort=24, stream_s=12.0
    )
    record.append(figures)
    assert_whole(figures)
    for service in SERVICES:  # the supervisor brought every killed instance back
        assert _restarts(city, f"{service}-1") == restarts_before[f"{service}-1"] + 1


def _restarts(city: City, name: str) -> int:
    """The supervisor's restart counter for one instance (its Prometheus text file)."""
    metrics = (city.var_dir / "supervisor.prom").read_text()
    for line in metrics.splitlines():
        if line.startswith(f'anbu_supervisor_restarts_total{{service="{name}"}}'):
            return int(float(line.split()[-1]))
    return 0


async def test_a_broker_killed_and_brought_back_loses_nothing(
    city: City, load: Load, record: list[Figures]
) -> None:
    def kill_a_broker_and_bring_it_back() -> None:
        city.kafka.kill(2)
        time.sleep(5.0)
        city.kafka.start(node=2)

    figures = await run_case(
        "kill -9 one of three brokers", city, load, kill_a_broker_and_bring_it_back
    )
    record.append(figures)
    assert_whole(figures)


async def test_postgresql_stopped_for_30_s_loses_nothing(
    city: City, load: Load, record: list[Figures]
) -> None:
    def stop_postgres_for_a_while() -> None:
        city.postgres.stop()
        time.sleep(PG_OUTAGE_S)
        city.postgres.start()

    figures = await run_case(
        f"PostgreSQL down {PG_OUTAGE_S:.0f} s", city, load, stop_postgres_for_a_while
    )
    record.append(figures)
    assert_whole(figures)


async def test_the_detector_restarted_hours_later_fires_each_due_step_once_in_order(
    city: City, load: Load, record: list[Figures]
) -> None:
    """Every escalation of the suite so far is on day 1; the detector comes back with its
    clock past day 2's last step: each due step is decided once, in the protocol's order."""
    households = list(load.registered)
    before = await protocol_steps(city, households)
    assert len(before.sequence) == len(households)
    jump_to = max(before.next_due.values()) + timedelta(hours=6)  # past day 2, 14:00
    hours = (jump_to - datetime.now(UTC)).total_seconds() / 3600

    def restart_the_detector_later() -> None:
        for number in INSTANCES:
            city.jump_clock(f"detector-{number}", jump_to)
        city.stack.stop([f"detector-{number}" for number in INSTANCES])  # the supervisor restarts

    figures = await run_case(
        f"detector back {hours:.0f} h later", city, load, restart_the_detector_later
    )
    for _ in range(60):  # the day-2 steps of every earlier escalation, now due
        after = await protocol_steps(city, households)
        day2 = day2_counts(after, await day2_tasks(city, households))
        if not any(c.lost for c in day2):
            break
        await asyncio.sleep(2.0)
    await asyncio.sleep(3.0)  # late doubles
    after = await protocol_steps(city, households)
    figures.counts += day2_counts(after, await day2_tasks(city, households))
    print("\n".join(figures.rows()[-2:]))
    record.append(figures)
    assert_whole(figures)
    assert not out_of_order(after), out_of_order(after)
