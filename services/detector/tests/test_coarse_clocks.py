"""Channel clocks are made durable coarsely: a flush writes only a clock that moved by the
resolution (a minute), so a crash between flushes can make a deadline come at most that
much earlier, never later, and loses none; a partition let go is written exactly.

Under a heartbeat backlog every heartbeat of a household moved its clock by milliseconds and
each was an upsert: the flush was the largest share of the detector's CPU per heartbeat.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlmodel import select

from anbu_contracts import MonitoringChannel
from anbu_detector.adapters.orm import ChannelStateRow
from anbu_detector.domain.monitor import CLOCK_RESOLUTION, Monitor

from .test_absence import config
from .test_detector_service import FIXED_WINDOWS, HH, T0, World, beat, household
from .test_detector_service import world as world  # the fixture

PHONE = MonitoringChannel.PHONE


def stored(world: World) -> datetime:
    with world.db.session() as s:
        [row] = s.exec(select(ChannelStateRow)).all()
    return datetime.fromtimestamp(row.last_active, tz=UTC)


def after(seconds: float) -> float:
    """Hours past T0 of ``seconds`` past T0 + 1 h (``beat`` takes hours)."""
    return 1 + seconds / 3600


async def test_a_flush_writes_only_a_clock_that_moved_by_the_resolution(world: World) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    await world.detector.flush()
    assert stored(world) == T0 + timedelta(hours=1)
    await world.send(beat(after(30)))  # half the resolution: the durable copy stays
    await world.detector.flush()
    assert stored(world) == T0 + timedelta(hours=1)
    await world.send(beat(after(CLOCK_RESOLUTION)))  # the resolution since the last write
    await world.detector.flush()
    assert stored(world) == T0 + timedelta(hours=1, seconds=CLOCK_RESOLUTION)
    assert world.detector.monitor.settle_lagging() == 0  # nothing behind its copy


async def test_a_crash_between_flushes_makes_a_deadline_earlier_by_at_most_the_resolution(
    world: World, database_url: str
) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    await world.detector.flush()
    await world.send(beat(after(CLOCK_RESOLUTION - 1)))
    await world.detector.flush()  # offsets are committed after this: the heartbeat is gone
    true = world.detector.monitor.deadline_of(HH, PHONE)
    assert true == T0 + timedelta(hours=25, seconds=CLOCK_RESOLUTION - 1)
    restarted = World(database_url)  # the process died: nothing else was written
    try:
        await restarted.detector.load_partitions({3})
        recovered = restarted.detector.monitor.deadline_of(HH, PHONE)
        assert recovered is not None  # never lost
        assert true - timedelta(seconds=CLOCK_RESOLUTION) <= recovered <= true
        assert recovered == T0 + timedelta(hours=25)  # the last write's: earlier, not later
    finally:
        restarted.db.dispose()


async def test_a_partition_let_go_writes_its_clocks_exactly(world: World) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    await world.detector.flush()
    await world.send(beat(after(5)))
    await world.detector.flush()
    assert stored(world) == T0 + timedelta(hours=1)
    assert world.detector.monitor.settle_lagging() == 1
    await world.detector.drop_partitions({3})  # a rebalance, or a clean stop
    assert stored(world) == T0 + timedelta(hours=1, seconds=5)


def test_a_clock_that_falls_silent_or_comes_back_is_written_whatever_it_moved() -> None:
    monitor = Monitor()
    monitor.configure(HH, 0, config(phone=24), T0)
    assert [h for h, _, _ in monitor.take_dirty()] == [HH]  # a new clock: no copy yet
    end = T0 + timedelta(hours=24)
    for household_id, channel in monitor.due(end):
        assert monitor.expire(household_id, channel, end) is not None
    [(_, _, clock)] = monitor.take_dirty()  # silent now: moved by nothing, written
    assert clock.silent
    back = T0 + timedelta(seconds=CLOCK_RESOLUTION / 2)  # activity seen late, just after T0
    assert monitor.heartbeat(HH, 0, PHONE, back, uuid4(), "telco") is not None
    [(_, _, clock)] = monitor.take_dirty()  # active again, only 30 s on: written
    assert not clock.silent
    monitor.heartbeat(HH, 0, PHONE, back + timedelta(seconds=1), uuid4(), "telco")
    assert monitor.take_dirty() == []
