"""Requests onto the real broker for the tests and the benchmark: a request to a household's
resident, a consumer group that starts at the end of ``notify.request.v1``, and a producer
of requests."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from anbu_contracts import NotificationRequest, RecipientKind, RecipientRef, Urgency
from anbu_contracts.topics import NOTIFY_REQUEST


def resident_request(
    household: str,
    request_key: str,
    *,
    source: str,
    template: str = "safety_check.day1_text",
    at: datetime | None = None,
) -> NotificationRequest:
    """An urgent request to reach ``household``'s resident (urgent: no quiet hours)."""
    at = at or datetime.now(UTC)
    return NotificationRequest(
        occurred_at=at,
        produced_at=at,
        source=source,
        request_id=uuid4(),
        request_key=request_key,
        recipient=RecipientRef(kind=RecipientKind.RESIDENT, household_id=household),
        template=template,
        urgency=Urgency.HIGH,
        household_id=household,
    )


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
