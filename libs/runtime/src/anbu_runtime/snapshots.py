"""Follow compacted snapshot topics into a local cache, and know when the cache is warm.

A cache that every instance needs whole (a roster, household snapshots) is read without a
consumer group: every partition, from the beginning, at every start. The follower records
the end offsets when it starts and reports itself caught up once it has applied everything
up to them, so a service can refuse to be "ready" (and to make decisions) on a cold cache.
Records are applied in batches, one transaction per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ValidationError

from anbu_contracts.topics import Topic

from .kafka import RecordProducer, Tombstone
from .logs import describe_error, get_logger
from .metrics import DEAD_LETTERS, MESSAGES_CONSUMED
from .outbox import OutgoingRecord

log = get_logger(__name__)

ApplyBatch = Callable[[list[BaseModel]], Awaitable[None]]


class SnapshotFollower:
    def __init__(
        self,
        service: str,
        bootstrap: str,
        topics: Sequence[Topic],
        apply: ApplyBatch,
        producer: RecordProducer,
        *,
        batch_size: int = 2000,
    ) -> None:
        self.service = service
        self.bootstrap = bootstrap
        self.topics = {t.name: t for t in topics}
        self.apply = apply
        self.producer = producer
        self.batch_size = batch_size
        self.caught_up = asyncio.Event()

    async def ready(self) -> bool:
        return self.caught_up.is_set()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=f"{self.service}-snapshots",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
        )
        await consumer.start()
        try:
            partitions = [
                TopicPartition(name, p)
                for name, topic in self.topics.items()
                for p in range(topic.partitions)
            ]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            targets: dict[Any, int] = await consumer.end_offsets(partitions)
            applied = 0
            while not stop.is_set():
                if not self.caught_up.is_set() and await self._reached(consumer, targets):
                    self.caught_up.set()
                    log.info("snapshot cache warm", topics=sorted(self.topics), records=applied)
                batches = await consumer.getmany(timeout_ms=500, max_records=self.batch_size)
                records = [r for batch in batches.values() for r in batch]
                if records:
                    applied += await self._apply(records)
        finally:
            await consumer.stop()

    @staticmethod
    async def _reached(consumer: AIOKafkaConsumer, targets: dict[Any, int]) -> bool:
        for tp, end in targets.items():
            if await consumer.position(tp) < end:
                return False
        return True

    async def _apply(self, records: list[Any]) -> int:
        decoded: list[BaseModel] = []
        for record in records:
            topic = self.topics[record.topic]
            if record.value is None:
                decoded.append(Tombstone(topic=record.topic, key=(record.key or b"").decode()))
                continue
            try:
                decoded.append(topic.model.model_validate_json(record.value))
            except ValidationError as exc:
                await self._dead_letter(record, exc)
        if decoded:
            await self.apply(decoded)
        for name in {r.topic for r in records}:
            MESSAGES_CONSUMED.labels(self.service, name, "ok").inc(
                sum(1 for r in records if r.topic == name)
            )
        return len(decoded)

    async def _dead_letter(self, record: Any, exc: ValidationError) -> None:
        headers = {k: v.decode(errors="replace") for k, v in record.headers or ()}
        headers.update(
            {
                "dlq.reason": "contract",
                "dlq.error": describe_error(exc),
                "dlq.topic": record.topic,
                "dlq.partition": str(record.partition),
                "dlq.offset": str(record.offset),
                "dlq.service": self.service,
            }
        )
        await self.producer.send_batch(
            [OutgoingRecord(f"{record.topic}.dlq", record.key, record.value, headers)]
        )
        DEAD_LETTERS.labels(self.service, record.topic, "contract").inc()
        log.warning("snapshot dead-lettered", topic=record.topic, offset=record.offset)
