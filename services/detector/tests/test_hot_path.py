"""The bulk side gives the event loop back: a heartbeat batch never holds it in one piece.

The priority lane runs in the same process and event loop as the bulk consumer; whatever
the bulk does on the loop without an ``await`` (decoding 10,000 records, applying them to
the index, building the flush's rows) is time the lane's SOS cannot be fetched, decided or
published. These tests count the turns other tasks get while the bulk works.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from sqlmodel import select

from anbu_contracts import HeartbeatSignal
from anbu_contracts.signals import SignalKind
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_detector.adapters.orm import ChannelStateRow
from anbu_detector.entrypoints.consumer import FETCH_SLICE, bulk_batch
from anbu_detector.handlers import absence
from anbu_detector.handlers.priority import Priority
from anbu_detector.handlers.service import SLICE
from anbu_runtime.batch import DECODE_SLICE, BatchConsumer, Received

from .test_detector_service import HH, T0, World, beat, household

HEARTBEATS = SIGNAL_TOPICS[SignalKind.HEARTBEAT].name
RECORDS = 4 * DECODE_SLICE


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url)
    yield w
    w.db.dispose()


class Turns:
    """Counts how often other tasks ran while the code under test worked."""

    def __init__(self) -> None:
        self.count = 0
        self.task = asyncio.create_task(self._spin())

    async def _spin(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    async def during(self, work: Callable[[], Awaitable[Any]]) -> int:
        await asyncio.sleep(0)  # the spinner has started
        before = self.count
        await work()
        self.task.cancel()
        return self.count - before


class Broker:
    """What ``BatchConsumer._handle`` asks of the aiokafka consumer after a batch."""

    def __init__(self) -> None:
        self.committed: dict[TopicPartition, int] = {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.update(offsets)

    def highwater(self, tp: TopicPartition) -> int | None:
        return None


def record(offset: int) -> ConsumerRecord[bytes, bytes]:
    signal = beat(offset / 3600)
    return ConsumerRecord(
        HEARTBEATS,
        3,
        offset,
        int(T0.timestamp() * 1000),
        0,
        HH.encode(),
        signal.model_dump_json().encode(),
        None,
        len(HH),
        0,
        [],
    )


async def test_the_bulk_batch_is_decoded_in_slices_that_give_the_loop_back() -> None:
    handed: list[tuple[int, list[Received]]] = []
    turns = Turns()

    async def handler(batch: list[Received]) -> None:
        handed.append((turns.count, batch))

    consumer = BatchConsumer(  # as the detector builds its bulk consumer
        service="detector",
        bootstrap="unused",
        group_id="detector",
        topics=[HEARTBEATS],
        handler=handler,
        producer=None,  # type: ignore[arg-type]  # dead letters only: none expected
        turn=Priority().turn,
    )
    consumer.partitions = {3}
    broker = Broker()
    tp = TopicPartition(HEARTBEATS, 3)
    started = turns.count + 1
    ran = await turns.during(
        lambda: consumer._handle(broker, {tp: [record(n) for n in range(RECORDS)]})  # type: ignore[arg-type]
    )
    [(at_handler, batch)] = handed
    # A whole batch decoded in one go gives no task a turn before the handler is called.
    assert at_handler - started >= RECORDS // DECODE_SLICE - 1, ran
    assert [r.offset for r in batch] == list(range(RECORDS))
    assert all(isinstance(r.event, HeartbeatSignal) for r in batch)
    assert broker.committed == {tp: RECORDS}


def test_a_poll_hands_over_at_most_a_fetch_slice() -> None:
    # aiokafka builds a poll's records in one stretch: 10,000 of them held the loop
    assert bulk_batch(10_000) == FETCH_SLICE
    assert bulk_batch(100) == 100


async def test_a_heartbeat_batch_is_applied_to_the_index_in_slices(world: World) -> None:
    await world.send(household())
    beats = [beat(n / 3600) for n in range(4 * SLICE)]
    items = [Received("signals", 3, n, b, int(T0.timestamp() * 1000)) for n, b in enumerate(beats)]
    ran = await Turns().during(lambda: world.detector.handle(items))
    assert ran >= 3  # one batch in one go: no turn at all (no durable work, no await)
    assert world.detector.monitor.last_activity(HH) == T0 + timedelta(seconds=len(beats) - 1)


async def test_the_bulk_waits_at_its_next_slice_while_the_lane_has_a_batch_in_flight(
    world: World,
) -> None:
    await world.send(household())
    beats = [beat(n / 3600) for n in range(4 * SLICE)]
    items = [Received("signals", 3, n, b, int(T0.timestamp() * 1000)) for n, b in enumerate(beats)]
    monitor, priority = world.detector.monitor, world.detector.priority
    async with priority.urgent(), priority.urgent():  # two lane batches overlapping
        bulk = asyncio.create_task(world.detector.handle(items))
        await asyncio.sleep(0.3)
        assert not bulk.done()
        assert monitor.last_activity(HH) == T0 + timedelta(seconds=SLICE - 1)  # one slice
    await asyncio.wait_for(bulk, 10)
    assert monitor.last_activity(HH) == T0 + timedelta(seconds=len(beats) - 1)
    assert not priority.busy


async def test_the_sweep_leaves_other_clocks_to_a_sliced_flush_that_steps_aside(
    world: World,
) -> None:
    await world.send(household())
    await world.send(beat(1))
    monitor, priority = world.detector.monitor, world.detector.priority
    assert monitor.dirty  # a moved clock, nothing due: the sweep used to write it in one unit
    async with priority.urgent():
        sweep = asyncio.create_task(world.detector.sweep())
        await asyncio.sleep(0.3)
        assert not sweep.done()  # waits at the flush's turn while the lane works
    assert await asyncio.wait_for(sweep, 10) == 0
    assert not monitor.dirty
    with world.db.session() as s:
        [row] = s.exec(select(ChannelStateRow)).all()
    assert row.last_active == (T0 + timedelta(hours=1)).timestamp()


async def test_a_loaded_index_is_left_out_of_the_collector(world: World) -> None:
    await world.send(household())
    gc.unfreeze()
    try:
        await world.detector.load_partitions({3})
        # a full collection walked the whole index: a loop stall of 50 ms a 100,000
        # households on a quiet core, about every five seconds under a heartbeat load
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


async def test_the_flush_rows_are_built_one_slice_at_a_time(world: World) -> None:
    homes = [f"HH-SLICE{n}" for n in range(5)]
    await world.send(*[household().model_copy(update={"household_id": h}) for h in homes])
    await world.send(*[beat(1).model_copy(update={"household_id": h}) for h in homes])
    monitor = world.detector.monitor
    assert len(monitor.dirty) == len(homes)
    slices = absence.dirty_slices(monitor, 2)
    first = next(slices)
    assert len(first) == 2 and not monitor.dirty  # every dirty clock taken at once
    monitor.forget_partitions({3})  # households forgotten meanwhile are not written
    assert list(slices) == [[], []]
