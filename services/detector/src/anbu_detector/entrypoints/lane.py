"""The priority lane: life-safety kinds, consumed and decided apart from the heartbeat backlog.

An SOS used to wait behind whatever heartbeat batch was in front of it (10,000 records,
their decoding, their unit of work and the flush queued before its own). Here the topics
whose signals can mean a life at risk — SOS, people's reports (suicide risk, emergencies,
abuse: the rules make them critical by category and urgency) and utility disconnections
(a winter cut-off of heating is an emergency for a vulnerable household) — are read by a
consumer of their own: small batches, its own lock, no flusher (each batch is durable when
its unit of work commits, and its offsets are committed right after), its own path to the
alert and the protocol that calls 119/112.

The lane reads whole topics: a report's or a disconnection's urgency is a field of the
record, and splitting them would mean a second topic per kind at the gateway. Both are low
volume (people calling, utilities' notices), so routine ones riding the lane cost little.

It does not join a consumer group of its own: a second group would assign partitions
independently, and another instance could then decide a household's SOS while this one
owns its protocol timers and index. It *follows* the bulk consumer's assignment instead
(``follow`` once a partition's protocol timers are attached — the lane never reads the
index of channel clocks, so it does not wait for its rebuild —, ``release`` before the
partition's state is dropped) and
commits its offsets under its own group id, as a standalone consumer. So one instance owns
every event of a household at a time, in both lanes; within the instance, units of work
claim their households (``handlers/claims.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from anbu_contracts import DisconnectionSignal, ReportSignal, SosSignal
from anbu_contracts.signals import SignalKind
from anbu_contracts.topics import SIGNAL_TOPICS, Topic
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.logs import describe_error, get_logger

from ..handlers.priority import Priority

LANE_KINDS = (SignalKind.SOS, SignalKind.REPORT, SignalKind.DISCONNECTION)
LANE_TOPICS: list[Topic] = [SIGNAL_TOPICS[kind] for kind in LANE_KINDS]
LaneSignal = SosSignal | ReportSignal | DisconnectionSignal
GROUP = "detector-lane"
log = get_logger(__name__)
BATCH = 100  # small: a batch is one transaction, and the next SOS waits for it


class LaneConsumer(BatchConsumer):
    """A batch consumer reading the partitions it is told to, not the ones a group gives.

    While one of its batches is in flight the bulk side waits at its next slice
    (``handlers/priority.py``)."""

    def __init__(self, *, priority: Priority, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.priority = priority

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,  # for its committed offsets only: it never joins
            client_id=f"{self.service}-{self.instance_id or 'consumer'}-lane",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_records,
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        self._consumer = consumer
        self._joined = True
        self.running = True
        try:
            async with self._lock:
                await self._assign()
            while not stop.is_set():
                if self.partitions:
                    await self._poll(consumer)
                else:  # nothing assigned to follow yet
                    await asyncio.sleep(0.05)
        finally:
            self.running = False
            try:
                await self.release(set(self.partitions))
            except Exception as exc:  # its records are read again: the handlers are idempotent
                log.warning("the lane's last commit failed", error=describe_error(exc)[:300])
            await consumer.stop()
            self._consumer = None

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        batches = await consumer.getmany(timeout_ms=100, max_records=self.max_records)
        self.caught_up = not batches
        if batches:
            async with self.priority.urgent(), self._lock:
                await self._handle(consumer, batches)

    async def _assign(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return  # ``run`` assigns what it follows once it has started
        wanted = [TopicPartition(t, p) for t in self.topics for p in sorted(self.partitions)]
        if not wanted and not consumer.assignment():
            return
        # aiokafka's coordinator task reads the assignment after it has found the group's
        # coordinator; an assignment replaced while it is still looking kills that task
        # (an AssertionError in its routine), and the new partitions then never get their
        # committed positions: nothing is read again. Asking for a committed offset first
        # finds the coordinator (public API), so the task never waits there afterwards.
        await consumer.committed(TopicPartition(self.topics[0], 0))
        consumer.assign(wanted)

    async def follow(self, partitions: set[int]) -> None:
        """Start reading these partitions (the bulk consumer has loaded their state)."""
        async with self._lock:
            self.partitions |= partitions
            await self._assign()

    async def release(self, partitions: set[int]) -> None:
        """Stop reading these partitions, after the batch in flight committed its offsets."""
        async with self._lock:
            await self._settle()
            self.partitions -= partitions
            await self._assign()
