"""A batch consumer for high-volume streams (the detector's signals): aiokafka, directly.

FastStream's per-record subscriber commits after every record, which caps a consumer at a
few thousand records per second. This consumer reads batches, decodes each record strictly
as its topic's contract (a bad record goes to ``<topic>.dlq``, the rest of the batch goes
on), hands the batch to one handler call, and commits the batch's offsets only after the
handler returned — the handler makes its effects durable first.

Partition assignment matters to stateful consumers: ``on_assigned`` runs before any record
of a newly assigned partition is handled (load state, rebuild indexes), ``on_revoked`` runs
after the in-flight batch finished and its offsets were committed (flush, drop state).
Loading may take long (a million households): it runs beside the rebalance, not inside it —
the new partitions are paused while they load — because the group coordinator hears no
heartbeat while a rebalance callback runs and would expel a member that loads for longer
than the session timeout, which then reloads, and so on.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import CommitFailedError
from pydantic import BaseModel, ValidationError

from .kafka import (
    OUTAGE_RETRY_S,
    DeadLetter,
    RecordDecoder,
    RecordProducer,
    is_outage,
    record_decoder,
)
from .logs import describe_error, get_logger
from .metrics import CONSUMER_LAG, DEAD_LETTERS, HANDLER_SECONDS, MESSAGES_CONSUMED
from .outbox import OutgoingRecord

log = get_logger(__name__)


@dataclass(slots=True)
class Received:
    """One decoded record with where it came from."""

    topic: str
    partition: int
    offset: int
    event: BaseModel
    timestamp_ms: int


Handler = Callable[[list[Received]], Awaitable[None]]
BATCH_ATTEMPTS = 3
PartitionHook = Callable[[set[int]], Awaitable[None]]

DECODE_SLICE = 200  # records decoded between two turns (~2 ms on a quiet machine)


async def _give_the_loop_back() -> None:
    await asyncio.sleep(0)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.owner._revoked({tp.partition for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.owner._assigned({tp.partition for tp in assigned})


class BatchConsumer:
    def __init__(
        self,
        *,
        service: str,
        bootstrap: str,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        producer: RecordProducer,
        on_assigned: PartitionHook | None = None,
        on_revoked: PartitionHook | None = None,
        max_records: int = 5000,
        instance_id: str | None = None,
        flusher: Callable[[], Awaitable[None]] | None = None,
        commit_interval: float = 1.0,
        admit: Callable[[BaseModel], BaseModel | Exception] | None = None,
        after_dead_letter: Callable[[Exception], Awaitable[None]] | None = None,
        turn: Callable[[], Awaitable[None]] = _give_the_loop_back,
    ) -> None:
        self.service = service
        # ``admit`` checks a decoded event beyond its contract (the notifier's admission): it
        # returns the event, or the reason (a ``DeadLetter`` names its own) it is refused, so
        # the record is dead-lettered from its original bytes; ``after_dead_letter`` then
        # runs with that reason (the notifier records the refused request as failed).
        self.admit = admit
        self.after_dead_letter = after_dead_letter
        # Awaited between two slices of ``DECODE_SLICE`` decoded records: a large batch
        # (the detector's 1,000 heartbeats, ~8 µs of validation each, several times that on a
        # busy machine) would otherwise hold the event loop for the whole decode — and with
        # it a consumer of its own beside it (the detector's priority lane; its ``turn``
        # also waits while the lane has a batch in flight).
        self.turn = turn
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = list(topics)
        self.handler = handler
        self.producer = producer
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.max_records = max_records
        self.instance_id = instance_id
        self.partitions: set[int] = set()
        self._lock = asyncio.Lock()
        self._consumer: AIOKafkaConsumer | None = None
        self.handled = 0
        self.running = False
        self.caught_up = False  # the last poll found nothing more to read
        # With a flusher, handlers may keep state in memory: offsets are committed only
        # after the flusher made everything handled before them durable, in the background.
        self.flusher = flusher
        self.commit_interval = commit_interval
        self._pending: dict[TopicPartition, int] = {}
        self._flushing: asyncio.Task[None] | None = None
        self._last_flush = time.monotonic()
        self._loading: set[int] = set()  # assigned, their state still loading (paused)
        self._joined = False  # the group has handed out partitions at least once
        self._loads: set[asyncio.Task[None]] = set()

    # -- rebalancing -------------------------------------------------------------------

    async def _revoked(self, partitions: set[int]) -> None:
        async with self._lock:  # wait for the in-flight batch and its commit
            await self._settle()
            self.partitions -= partitions
            if self.on_revoked and partitions:
                await self.on_revoked(partitions)
        log.info("partitions revoked", partitions=sorted(partitions))

    async def _assigned(self, partitions: set[int]) -> None:
        self.caught_up = False  # a new partition may come with a backlog
        self._joined = True
        if not (self.on_assigned and partitions):
            async with self._lock:
                self.partitions |= partitions
            log.info("partitions assigned", partitions=sorted(partitions))
            return
        consumer = self._consumer
        if consumer is not None:
            consumer.pause(*[tp for tp in consumer.assignment() if tp.partition in partitions])
        self._loading |= partitions
        task = asyncio.create_task(self._load(partitions))
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(self, assigned: set[int]) -> None:
        """Run ``on_assigned`` for newly assigned partitions, then start reading them.

        A load that fails (the database away, a bug) is retried with backoff; meanwhile the
        partitions stay paused and loading, so the instance is not ready — never reading
        nothing while it says it is.
        """
        delay = 0.5
        try:
            while True:
                try:
                    await self._load_once(assigned)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.error(
                        "loading partitions failed; retrying",
                        partitions=sorted(assigned),
                        error=describe_error(exc)[:500],
                        retry_in_s=delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            self._loading -= assigned

    async def _load_once(self, assigned: set[int]) -> None:
        async with self._lock:
            consumer = self._consumer
            owned = {tp.partition for tp in consumer.assignment()} if consumer else set()
            # a rebalance may have taken some back, or handed them over again meanwhile
            partitions = (assigned & owned) - self.partitions
            if partitions:
                assert self.on_assigned is not None
                await self.on_assigned(partitions)
                self.partitions |= partitions
            if consumer is not None:
                consumer.resume(*[tp for tp in consumer.assignment() if tp.partition in partitions])
        log.info("partitions assigned", partitions=sorted(partitions))

    # -- the loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=f"{self.service}-{self.instance_id or 'consumer'}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_poll_records=self.max_records,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
        )
        consumer.subscribe(self.topics, listener=_Listener(self))
        await consumer.start()
        self._consumer = consumer
        self.running = True
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=200, max_records=self.max_records)
                if not batches:
                    self.caught_up = bool(self.partitions) and not self._loading
                    if self._pending:
                        # Handled records wait for the commit interval; when no record
                        # follows they would stay uncommitted (a lag that never reaches 0,
                        # replayed after a restart) until the next one arrived.
                        async with self._lock:
                            await self._commit_when_durable(consumer)
                    continue
                self.caught_up = False
                async with self._lock:
                    await self._handle(consumer, batches)
        finally:
            self.running = False
            for task in list(self._loads):
                task.cancel()
            async with self._lock:
                with contextlib.suppress(Exception):
                    await self._settle()
                if self.on_revoked and self.partitions:
                    await self.on_revoked(set(self.partitions))
                self.partitions = set()
            await consumer.stop()
            self._consumer = None

    async def _handle(self, consumer: AIOKafkaConsumer, batches: dict[Any, list[Any]]) -> None:
        started = time.perf_counter()
        streams: list[list[Received]] = []
        offsets: dict[TopicPartition, int] = {}
        decoded = 0
        for tp, records in batches.items():
            if tp.partition not in self.partitions:
                if tp.partition in self._loading:  # fetched before the pause: read it again
                    consumer.seek(tp, records[0].offset)
                continue  # or revoked while the batch was being fetched
            stream: list[Received] = []
            decode = record_decoder(tp.topic)  # one partition's records: one topic
            topic, partition = tp.topic, tp.partition
            for record in records:
                decoded += 1
                if decoded % DECODE_SLICE == 0:
                    await self.turn()
                event = self._decode(decode, record)
                if isinstance(event, Exception):
                    reason = event.reason if isinstance(event, DeadLetter) else "contract"
                    await self._dead_letter(record, event, reason)
                else:
                    at = record.timestamp
                    stream.append(Received(topic, partition, record.offset, event, at))
            streams.append(stream)
            offsets[tp] = records[-1].offset + 1
        if not offsets:
            return
        if len({tp.topic for tp in offsets}) == 1:  # one topic: partitions are independent
            received = [r for stream in streams for r in stream]
        else:  # interleave the topics by record time; each partition keeps its own order
            received = list(heapq.merge(*streams, key=lambda r: r.timestamp_ms))
        if received:
            await self._handle_safely(received, batches)
        for tp, next_offset in offsets.items():
            self._pending[tp] = max(next_offset, self._pending.get(tp, 0))
        await self._commit_when_durable(consumer)
        self.handled += len(received)
        elapsed = time.perf_counter() - started
        for tp, next_offset in offsets.items():
            HANDLER_SECONDS.labels(self.service, tp.topic).observe(elapsed)
            high = consumer.highwater(tp)
            if high is not None:
                CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                    max(high - next_offset, 0)
                )
        for topic, n in Counter(r.topic for r in received).items():
            MESSAGES_CONSUMED.labels(self.service, topic, "ok").inc(n)

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            # The group rebalanced under us: another instance re-reads from the last
            # commit; handlers are idempotent, so that costs time, not correctness.
            log.warning("commit failed after a rebalance", error=str(exc))

    async def _commit_when_durable(self, consumer: AIOKafkaConsumer) -> None:
        if self.flusher is None:  # the handler made its effects durable already
            offsets, self._pending = self._pending, {}
            await self._commit(consumer, offsets)
            return
        if self._flushing is not None:
            if not self._flushing.done():
                return
            self._flushing.result()  # a failed flush stops the consumer: it restarts clean
            self._flushing = None
        if time.monotonic() - self._last_flush < self.commit_interval:
            return
        offsets, self._pending = self._pending, {}
        self._last_flush = time.monotonic()
        flusher = self.flusher

        async def flush_then_commit() -> None:
            await flusher()
            await self._commit(consumer, offsets)

        self._flushing = asyncio.create_task(flush_then_commit())

    async def _settle(self) -> None:
        """Make everything handled durable and commit it (before a revocation or a stop)."""
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
            self._flushing = None
        if self.flusher is not None:
            await self.flusher()
        if self._consumer is not None:
            offsets, self._pending = self._pending, {}
            await self._commit(self._consumer, offsets)

    async def _handle_safely(self, received: list[Received], batches: dict[Any, list[Any]]) -> None:
        """Hand the batch over; if it keeps failing, find and dead-letter the poisoned records.

        Handlers are idempotent, so retrying a batch (or its records one by one) is safe. A
        record that fails on its own goes to the dead-letter topic with the error, so one bad
        record cannot stop a partition.
        """
        attempt = 0
        while attempt < BATCH_ATTEMPTS:
            try:
                await self.handler(received)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if is_outage(exc):  # no record is at fault: wait, without limit
                    await self._wait_out(exc, len(received))
                    continue
                log.warning(
                    "batch failed; retrying",
                    attempt=attempt + 1,
                    size=len(received),
                    error=describe_error(exc)[:500],
                )
                await asyncio.sleep(0.2 * 2**attempt)
                attempt += 1
        originals = {(r.topic, r.partition, r.offset): r for rs in batches.values() for r in rs}
        for item in received:
            while True:
                try:
                    await self.handler([item])
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if is_outage(exc):
                        await self._wait_out(exc, 1)
                        continue
                    record = originals[(item.topic, item.partition, item.offset)]
                    log.error(
                        "record keeps failing; dead-lettering",
                        topic=item.topic,
                        partition=item.partition,
                        offset=item.offset,
                        error=describe_error(exc)[:500],
                    )
                    await self._dead_letter(record, exc, reason="handler_error")
                    break

    @staticmethod
    async def _wait_out(exc: Exception, size: int) -> None:
        log.warning(
            "database unavailable; retrying the batch",
            size=size,
            retry_in_s=OUTAGE_RETRY_S,
            error=describe_error(exc)[:500],
        )
        await asyncio.sleep(OUTAGE_RETRY_S)

    def decode(self, record: Any) -> BaseModel | Exception:
        """The record as its topic's contract model (admitted), or the reason it is not one."""
        return self._decode(record_decoder(record.topic), record)

    def _decode(self, decode: RecordDecoder, record: Any) -> BaseModel | Exception:
        try:
            event = decode(record.key, record.value)
        except (ValidationError, DeadLetter, ValueError) as exc:
            return exc
        return event if self.admit is None else self.admit(event)

    async def _dead_letter(self, record: Any, exc: Exception, reason: str) -> None:
        headers: dict[str, str] = {}
        for key, value in record.headers or ():
            headers[key] = value.decode(errors="replace")
        error = describe_error(exc)
        headers.update(
            {
                "dlq.reason": reason,
                "dlq.error": error,
                "dlq.topic": record.topic,
                "dlq.partition": str(record.partition),
                "dlq.offset": str(record.offset),
                "dlq.service": self.service,
                "dlq.group": self.group_id,
                "dlq.at": datetime.now(UTC).isoformat(),
            }
        )
        await self.producer.send_batch(
            [OutgoingRecord(f"{record.topic}.dlq", record.key, record.value, headers)]
        )
        DEAD_LETTERS.labels(self.service, record.topic, reason).inc()
        MESSAGES_CONSUMED.labels(self.service, record.topic, "dead_letter").inc()
        log.warning(
            "record dead-lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=reason,
            group=self.group_id,
            error=error[:300],
        )
        if self.after_dead_letter is not None:
            await self.after_dead_letter(exc)

    @property
    def lock(self) -> asyncio.Lock:
        """Held while a batch is handled: other work on the same state takes it too."""
        return self._lock

    async def ready(self) -> bool:
        """Running, given its partitions by the group, and their state loaded."""
        return self.running and self._joined and not self._loading
