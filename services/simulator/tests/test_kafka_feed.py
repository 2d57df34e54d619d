"""Producing to the real broker: records land on their signal topics and read back valid."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from anbu_contracts.signals import any_signal_adapter
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.clock import ManualClock
from anbu_runtime.kafka import RecordProducer
from anbu_simulator.adapters.kafka_feed import KafkaFeed, play
from anbu_simulator.domain.population import synthetic_population
from anbu_simulator.domain.simulation import SEOUL, Flaw, Simulation, SimulationConfig

pytestmark = pytest.mark.integration


async def test_simulated_records_reach_their_topics_and_read_back(kafka_bootstrap):
    # A one-off seed: the records are told apart from other runs by their event ids.
    seed = uuid4().hex
    start = datetime(2026, 3, 2, 6, tzinfo=SEOUL)
    config = SimulationConfig(seed=seed, start=start, days=0.25, malformed_rate=0.01)
    observations = list(Simulation(synthetic_population(seed, 40), config).observations())
    assert observations
    clock = ManualClock(start + timedelta(days=1))  # everything is due: sent at once
    producer = RecordProducer(kafka_bootstrap, "simulator-test")
    await producer.start()
    try:
        feed = KafkaFeed(producer)
        await play(observations, clock, feed)
    finally:
        await producer.stop()
    assert sum(feed.sent.values()) == len(observations)

    wanted = {o.event_id for o in observations if o.flaw is not Flaw.MALFORMED}
    topics = sorted({SIGNAL_TOPICS[o.kind].name for o in observations})
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=kafka_bootstrap, auto_offset_reset="latest", group_id=None
    )
    # Read from the end offsets minus what we wrote: cheap and independent of other runs.
    await consumer.start()
    try:
        await consumer.seek_to_end()
        partitions = consumer.assignment()
        ends = {tp: await consumer.position(tp) for tp in partitions}
        for tp, end in ends.items():
            consumer.seek(tp, max(0, end - len(observations)))
        seen = set()
        deadline = asyncio.get_running_loop().time() + 20
        while wanted - seen and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        signal = any_signal_adapter.validate_json(record.value)
                    except ValueError:
                        continue
                    if signal.event_id in wanted:
                        assert record.key == signal.household_id.encode()
                        seen.add(signal.event_id)
        assert wanted <= seen
    finally:
        await consumer.stop()
