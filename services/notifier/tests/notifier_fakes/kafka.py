"""Requests onto the real broker for the tests and the benchmark: a consumer group that
starts at the end of ``notify.request.v1``, and a producer of requests."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from anbu_contracts import NotificationRequest
from anbu_contracts.topics import NOTIFY_REQUEST


async def start_group_at_the_end(bootstrap: str, group: str) -> None:
    """The notifier's consumer group for this run reads only what this run produces."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition(NOTIFY_REQUEST.name, p) for p in range(NOTIFY_REQUEST.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        await consumer.commit(
            {tp: OffsetAndMetadata(await consumer.position(tp), "") for tp in tps}
        )
    finally:
        await consumer.stop()


async def produce(bootstrap: str, requests: list[NotificationRequest], linger_ms: int = 0) -> None:
    """Produce ``requests`` keyed by request key, acknowledged by every replica."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=linger_ms)
    await producer.start()
    try:
        for request in requests:
            await producer.send(
                NOTIFY_REQUEST.name,
                key=request.request_key.encode(),
                value=request.model_dump_json().encode(),
            )
        await producer.flush()
    finally:
        await producer.stop()
