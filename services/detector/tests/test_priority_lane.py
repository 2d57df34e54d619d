"""The priority lane: life-safety kinds decided apart from the bulk, one household at a time.

The lane and the bulk consumer run side by side in one process and may touch one
household's alerts and protocols; a unit of work claims its households, so a lane's SOS
waits for a unit in flight on the same household (never two interleaved read-decide-write
transactions) and for nothing else.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from anbu_contracts import AlertEvent, SosSignal
from anbu_contracts.signals import SignalKind
from anbu_contracts.topics import HOUSEHOLD_PARTITIONS, SIGNAL_TOPICS
from anbu_detector.entrypoints import consumer, lane
from anbu_detector.handlers.claims import EVERY, Claims
from anbu_runtime.batch import Received

from .test_detector_service import HH, T0, World, household, of
from .test_http_access import sos

SOS_TOPIC = SIGNAL_TOPICS[SignalKind.SOS].name


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url)
    yield w
    w.db.dispose()


def received(signal: SosSignal) -> Received:
    return Received(SOS_TOPIC, 3, 1, signal, int(T0.timestamp() * 1000))


class InFlight:
    """A unit of work of the bulk side, holding ``households`` until released."""

    def __init__(self, world: World, households: set[str]) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

        def hold(uow: object) -> None:
            self.entered.set()
            self.released.wait(20)

        self.task = asyncio.create_task(world.detector.run(hold, households))

    async def started(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 20)

    async def finish(self) -> None:
        self.released.set()
        await self.task


async def test_the_lane_waits_for_a_unit_in_flight_on_its_household(world: World) -> None:
    await world.send(household())
    world.events()
    bulk = InFlight(world, {HH})
    await bulk.started()
    urgent = asyncio.create_task(world.detector.handle_urgent([received(sos(HH))]))
    await asyncio.sleep(1.0)
    assert not urgent.done(), "the lane's unit interleaved with one on the same household"
    await bulk.finish()
    await asyncio.wait_for(urgent, 20)
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert opened.reason == "sos" and opened.household_id == HH


async def test_the_lane_does_not_wait_for_a_unit_on_other_households(
    world: World, database_url: str
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: every transaction queues behind the one in flight")
    await world.send(household())
    world.events()
    bulk = InFlight(world, {"HH-SOMEONEELSE"})
    await bulk.started()
    await asyncio.wait_for(world.detector.handle_urgent([received(sos(HH))]), 10)
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert opened.reason == "sos"
    assert not bulk.task.done()
    await bulk.finish()


async def test_a_claim_on_every_household_waits_for_units_in_flight_and_goes_first() -> None:
    claims = Claims()
    order: list[str] = []
    first = asyncio.Event()

    async def unit(name: str, households: set[str] | None, hold: float) -> None:
        async with claims.hold(households):
            order.append(name)
            first.set()
            await asyncio.sleep(hold)

    a = asyncio.create_task(unit("lane A", {"A"}, 0.3))
    await first.wait()
    b = asyncio.create_task(unit("bulk B", {"B"}, 0.0))  # disjoint: runs beside A
    await asyncio.sleep(0.05)
    assert order == ["lane A", "bulk B"]
    timer = asyncio.create_task(unit("timer", EVERY, 0.1))
    await asyncio.sleep(0.05)
    later = asyncio.create_task(unit("lane C", {"C"}, 0.0))  # queued behind the timer
    await asyncio.gather(a, b, timer, later)
    assert order == ["lane A", "bulk B", "timer", "lane C"]
    assert claims.held == set()


def test_every_signal_topic_is_read_by_exactly_one_of_the_two_consumers() -> None:
    lane_names = {t.name for t in lane.LANE_TOPICS}
    bulk_names = {t.name for t in consumer.TOPICS}
    assert lane_names == {
        SIGNAL_TOPICS[k].name for k in (SignalKind.SOS, SignalKind.REPORT, SignalKind.DISCONNECTION)
    }
    assert not lane_names & bulk_names
    assert {t.name for t in SIGNAL_TOPICS.values()} <= lane_names | bulk_names


async def test_the_lane_reads_only_the_partitions_it_follows_and_commits_before_release(
    world: World, kafka_bootstrap: str
) -> None:
    group = f"detector-lane-test-{uuid4().hex[:8]}"
    tps = [TopicPartition(SOS_TOPIC, p) for p in range(HOUSEHOLD_PARTITIONS)]
    start = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
    await start.start()
    start.assign(tps)
    await start.seek_to_end(*tps)
    await start.commit({tp: await start.position(tp) for tp in tps})  # skip others' records
    await start.stop()
    await world.send(household())
    world.events()
    urgent = lane.LaneConsumer(
        service="detector",
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=[SOS_TOPIC],
        handler=world.detector.handle_urgent,
        producer=None,  # type: ignore[arg-type]  # dead letters only: none expected
        max_records=lane.BATCH,
        priority=world.detector.priority,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(urgent.run(stop))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        signal = sos(HH)
        sent = await producer.send_and_wait(
            SOS_TOPIC, signal.model_dump_json().encode(), key=HH.encode()
        )
        mine = sent.partition
        await urgent.follow(set(range(HOUSEHOLD_PARTITIONS)) - {mine})
        await asyncio.sleep(2)
        assert of(world.events(), AlertEvent, change="opened") == []  # not followed yet
        await urgent.follow({mine})
        opened: list[AlertEvent] = []
        for _ in range(100):
            opened = of(world.events(), AlertEvent, change="opened")
            if opened:
                break
            await asyncio.sleep(0.1)
        assert [a.household_id for a in opened] == [HH]
        await urgent.release({mine})
        check = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group)
        await check.start()
        try:
            assert await check.committed(TopicPartition(SOS_TOPIC, mine)) == sent.offset + 1
        finally:
            await check.stop()
    finally:
        stop.set()
        await running
        await producer.stop()
