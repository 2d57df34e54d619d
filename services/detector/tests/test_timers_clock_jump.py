"""Durable timers across a jump of the shared clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

from anbu_detector.adapters.timers import StepTimers, timers_engine
from anbu_runtime.clock import AcceleratedClock

START = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
EPOCH = datetime(2026, 12, 4, 2, 0, 30, tzinfo=UTC)


async def _nothing(escalation_ids: list[str]) -> None:
    return None


async def test_timers_stored_under_another_clock_are_dropped_for_the_reconciliation_to_re_arm(
    tmp_path: Path,
) -> None:
    """A job holds a wall-clock run time mapped with the clock that stored it: after the
    shared clock jumps 30 h ahead it would fire 30 h late, so it is dropped (the partition's
    reconciliation re-arms it from the escalation's durable due time); under the same clock
    it is kept."""
    engine = timers_engine(f"sqlite:///{tmp_path / 'detector.db'}")
    escalation = uuid4()
    first = StepTimers(engine, AcceleratedClock(START, EPOCH, 1.0), _nothing)
    first.start()
    first.add_partitions({3})
    first.set(escalation, 3, START + timedelta(hours=20))
    assert first.scheduled(3) == {str(escalation)}
    first.shutdown()

    same = StepTimers(engine, AcceleratedClock(START, EPOCH, 1.0), _nothing)
    same.add_partitions({3})
    assert same.scheduled(3) == {str(escalation)}

    jumped = StepTimers(engine, AcceleratedClock(START + timedelta(hours=30), EPOCH, 1.0), _nothing)
    jumped.add_partitions({3})
    assert jumped.scheduled(3) == set()
