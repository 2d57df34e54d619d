"""Sending many records with one aiokafka batch per partition instead of one future each.

``RecordProducer.send_batch`` awaits ``producer.send`` for every record: at tens of
thousands of records a second that per-record coroutine, future and metadata lookup was a
fifth of the gateway's CPU (docs/performance.md). Here records are appended to aiokafka
``BatchBuilder``s, one per partition, and each full builder is handed to the accumulator
with ``send_batch``. The guarantees are the same producer's: idempotent, ``acks=all``, and
the call returns only after every batch was acknowledged (an error raises). Partitions are
chosen by the producer's own partitioner on the key, so a household's records land on the
partition ``send`` would have chosen.

This reaches into the runtime's producer (``RecordProducer._producer``); the runtime may
offer it as ``RecordProducer.send_many`` later.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from anbu_runtime.kafka import RecordProducer
from anbu_runtime.metrics import EVENTS_PUBLISHED

from ..domain.prepared import Prepared


async def send_prepared(
    producer: RecordProducer, topic_of: dict[str, str], records: Sequence[Prepared]
) -> None:
    """Send ``records`` (``topic_of`` maps a record's kind to its topic) and await every ack."""
    if not records:
        return
    kafka: Any = producer._producer
    builders: dict[tuple[str, int], Any] = {}
    futures: list[asyncio.Future[Any]] = []
    partitions: dict[str, tuple[list[int], list[int]]] = {}
    counts: Counter[str] = Counter()
    for record in records:
        topic = topic_of[record.kind]
        known = partitions.get(topic)
        if known is None:
            await kafka.client._wait_on_metadata(topic)
            metadata = kafka._metadata
            known = (
                list(metadata.partitions_for_topic(topic)),
                list(metadata.available_partitions_for_topic(topic)),
            )
            partitions[topic] = known
        key = record.key
        partition = kafka._partitioner(key, known[0], known[1])
        headers = record.headers()
        builder = builders.get((topic, partition))
        if builder is None:
            builder = builders[(topic, partition)] = kafka.create_batch()
        if builder.append(key=key, value=record.value, timestamp=None, headers=headers) is None:
            futures.append(await kafka.send_batch(builder, topic, partition=partition))
            builder = builders[(topic, partition)] = kafka.create_batch()
            if builder.append(key=key, value=record.value, timestamp=None, headers=headers) is None:
                raise ValueError("a record is larger than the producer's batch size")
        counts[topic] += 1
    for (topic, partition), builder in builders.items():
        if builder.record_count():
            futures.append(await kafka.send_batch(builder, topic, partition=partition))
    await asyncio.gather(*futures)
    for topic, n in counts.items():
        EVENTS_PUBLISHED.labels(producer.service, topic).inc(n)
