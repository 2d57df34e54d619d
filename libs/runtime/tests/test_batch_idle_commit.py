"""The batch consumer commits what it handled even when no further record arrives."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from anbu_contracts import SafetyCallSignal
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.kafka import RecordProducer

from .test_dead_letters import TOPIC, valid_signal

pytestmark = pytest.mark.integration


async def committed(bootstrap: str, group: str, tp: TopicPartition) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(tp)  # type: ignore[no-any-return]
    finally:
        await consumer.stop()


async def test_the_last_batch_before_an_idle_stream_is_committed(kafka_bootstrap: str) -> None:
    """Two batches within one commit interval, then silence: the second batch's offsets are
    committed anyway (they stayed pending until a next record, so the group's lag never
    reached 0 on an idle stream and a restart replayed them)."""
    household = f"HH-IC{uuid4().hex[:10].upper()}"
    group = f"idle-commit-{uuid4().hex[:8]}"
    handled: list[Received] = []
    arrived = asyncio.Event()

    async def handle(batch: list[Received]) -> None:
        mine = [
            r
            for r in batch
            if isinstance(r.event, SafetyCallSignal) and r.event.household_id == household
        ]
        handled.extend(mine)
        if mine:
            arrived.set()

    async def flush() -> None:
        return None

    producer = RecordProducer(kafka_bootstrap, group)  # dead letters of others' bad records
    await producer.start()
    consumer = BatchConsumer(
        service=group,
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=[TOPIC.name],
        handler=handle,
        producer=producer,
        flusher=flush,
        commit_interval=1.0,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    try:
        async with asyncio.timeout(90):  # joined the group and read what is there already
            while not consumer.caught_up:  # noqa: ASYNC110 (a flag of the consumer, no event)
                await asyncio.sleep(0.1)
        for _ in range(2):
            arrived.clear()
            sent = await raw.send_and_wait(
                TOPIC.name,
                valid_signal(household).model_dump_json().encode(),
                key=household.encode(),
            )
            await asyncio.wait_for(arrived.wait(), timeout=30)
        tp = TopicPartition(TOPIC.name, sent.partition)
        await asyncio.sleep(3.0)  # silence: nothing else for this group to read
        assert (await committed(kafka_bootstrap, group, tp) or 0) >= sent.offset + 1
    finally:
        stop.set()
        await running
        await raw.stop()
        await producer.stop()


async def test_a_partition_load_that_fails_is_retried_and_the_consumer_is_not_ready_meanwhile(
    kafka_bootstrap: str,
) -> None:
    """A failing ``on_assigned`` used to leave its partitions paused for good while the
    instance answered ready: records on them were never read until a restart."""
    household = f"HH-LF{uuid4().hex[:10].upper()}"
    group = f"load-fails-{uuid4().hex[:8]}"
    handled: list[Received] = []
    arrived = asyncio.Event()
    attempts = 0
    readiness_while_failing: list[bool] = []

    async def handle(batch: list[Received]) -> None:
        mine = [r for r in batch if getattr(r.event, "household_id", None) == household]
        handled.extend(mine)
        if mine:
            arrived.set()

    async def load(partitions: set[int]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts <= 2:
            readiness_while_failing.append(await consumer.ready())
            raise RuntimeError("database away")

    producer = RecordProducer(kafka_bootstrap, group)
    await producer.start()
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    await raw.send_and_wait(
        TOPIC.name, valid_signal(household).model_dump_json().encode(), key=household.encode()
    )
    consumer = BatchConsumer(
        service=group,
        bootstrap=kafka_bootstrap,
        group_id=group,
        topics=[TOPIC.name],
        handler=handle,
        producer=producer,
        on_assigned=load,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await asyncio.wait_for(arrived.wait(), timeout=90)
        assert attempts == 3
        assert readiness_while_failing == [False, False]
        assert await consumer.ready()
        assert len(handled) == 1
    finally:
        stop.set()
        await running
        await raw.stop()
        await producer.stop()
