"""Kafka for anbu services: the FastStream broker, a batch producer, and dead letters.

Consumers commit an offset only after the handler returned (the handler commits its
database transaction first), so a crash redelivers rather than loses. A record that cannot
be decoded or violates its contract goes to ``<topic>.dlq`` with the error, the original
bytes and headers, and consumption goes on. A handler that keeps failing for another reason
is retried with backoff, then dead-lettered too, so one poisoned record cannot stall a
partition forever; dead letters can be replayed once the cause is fixed.

A dead letter's ``dlq.reason`` says why: ``contract`` (undecodable, or not the topic's
model), ``empty`` (no value on a topic that is not compacted), ``key`` (the record key is not
the body's household id on a household-keyed topic) or ``handler_error``. Its ``dlq.error``
names fields and error types but never a value of the record (see
:func:`~anbu_runtime.logs.describe_error`); ``dlq.service`` and ``dlq.group`` say which
consumer wrote it — every consumer group that reads a bad record dead-letters it once.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import TopicPartition
from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from pydantic import BaseModel, ValidationError

from anbu_contracts.topics import TOPICS_BY_NAME, Topic

from .logs import bind_correlation, describe_error, get_logger
from .metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EVENTS_PUBLISHED,
    HANDLER_SECONDS,
    MESSAGES_CONSUMED,
)
from .outbox import OutgoingRecord, event_headers

log = get_logger(__name__)

# (topic, key, value, headers): a record as Kafka takes it, without an OutgoingRecord around it
RawRecord = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]
# (key, every partition, the available ones) → partition, as aiokafka's partitioners are called
Partitioner = Callable[[bytes | None, list[int], list[int]], int]


class DeadLetter(Exception):
    """A record that must leave the stream; ``reason`` becomes its ``dlq.reason`` header.

    Raised by the decoder (an empty record, a key that is not the body's household id) and
    by handlers for a record that is well-formed but violates the contract. The message goes
    into the dead letter and the logs: it must not quote the record's values.
    """

    def __init__(self, message: str, reason: str = "contract") -> None:
        super().__init__(message)
        self.reason = reason


_CONTRACT_ERRORS = (ValidationError, DeadLetter, json.JSONDecodeError, UnicodeDecodeError)
MAX_ATTEMPTS = 6
# How long a consumer waits between tries while its database is unreachable.
OUTAGE_RETRY_S = 2.0


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` says the service's database is unreachable (refused, lost, locked,
    full), not that the record is bad.

    Such a record is not poisoned: dead-lettering it would drop a good record for an outage
    (every record of a 30 s PostgreSQL restart went to the dead-letter topic, and the
    alerts they carried were lost), so consumers keep retrying it, uncommitted, instead.
    """
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OperationalError | InterfaceError) or (
            isinstance(seen, DBAPIError) and seen.connection_invalidated
        ):
            return True
        if type(seen).__module__.startswith("psycopg") and type(seen).__name__ in (
            "OperationalError",
            "InterfaceError",
        ):
            return True
        seen = seen.__cause__
    return False


class RecordProducer:
    """An idempotent producer (acks=all) that sends batches in order and awaits every ack."""

    def __init__(self, bootstrap: str, client_id: str, *, linger_ms: int = 5) -> None:
        # the one partitioner both ``send`` (inside aiokafka) and ``send_raw`` use
        self._partitioner = DefaultPartitioner()
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "client_id": client_id,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
            "max_batch_size": 256 * 1024,
            "request_timeout_ms": 30_000,
            "partitioner": self._partitioner,
        }
        self._producer_or_none: AIOKafkaProducer | None = None
        self.service = client_id
        self.started = False

    @property
    def _producer(self) -> AIOKafkaProducer:
        if self._producer_or_none is None:
            raise RuntimeError("the producer is not started")
        return self._producer_or_none

    async def start(self) -> None:
        """Connect (the producer is created here because aiokafka needs a running loop)."""
        producer = AIOKafkaProducer(**self._options)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer_or_none = producer
        self.started = True

    async def stop(self) -> None:
        if self.started:
            await self._producer.stop()
            self.started = False

    async def send_batch(self, records: Sequence[OutgoingRecord]) -> None:
        """Send ``records`` in order and return once every one is acknowledged (acks=all)."""
        await self.send_raw(
            (r.topic, r.key, r.value, [(k, v.encode()) for k, v in r.headers.items()])
            for r in records
        )

    async def send_raw(
        self, records: Iterable[RawRecord], partitioner: Partitioner | None = None
    ) -> None:
        """Send ``(topic, key, value, headers)`` records, one aiokafka batch per partition.

        ``producer.send`` per record costs a coroutine, a future and a metadata lookup each:
        at tens of thousands of records a second that was a fifth of the gateway's CPU
        (docs/performance.md). Here records are appended to a ``BatchBuilder`` per partition
        and each full builder goes to the accumulator with ``send_batch``. The guarantees
        are the producer's own — idempotent, ``acks=all``, in order within a partition —
        and the call returns only after every batch was acknowledged (an error raises).
        The partition is the default partitioner's choice on the key, as ``send`` makes it;
        a caller that hashed the keys ahead (elsewhere) may pass a ``partitioner`` that makes
        the same choice.
        """
        kafka = self._producer
        builders: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        partitions: dict[str, tuple[list[int], list[int]]] = {}
        counts: Counter[str] = Counter()
        for topic, key, value, headers in records:
            known = partitions.get(topic)
            if known is None:
                every = sorted(await kafka.partitions_for(topic))
                available = kafka.client.cluster.available_partitions_for_topic(topic)
                known = partitions[topic] = (every, list(available or ()))
            partition = (partitioner or self._partitioner)(key, known[0], known[1])
            builder = builders.get((topic, partition))
            if builder is None:
                builder = builders[(topic, partition)] = kafka.create_batch()
            if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                futures.append(await kafka.send_batch(builder, topic, partition=partition))
                builder = builders[(topic, partition)] = kafka.create_batch()
                if builder.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError("a record is larger than the producer's batch size")
            counts[topic] += 1
        for (topic, partition), builder in builders.items():
            if builder.record_count():
                futures.append(await kafka.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*futures)
        for topic, n in counts.items():
            EVENTS_PUBLISHED.labels(self.service, topic).inc(n)

    async def publish(self, topic: Topic, event: BaseModel) -> None:
        """Publish one event now and wait for the acknowledgement (no outbox)."""
        await self.send_batch(
            [
                OutgoingRecord(
                    topic.name,
                    topic.key_of(event),
                    event.model_dump_json().encode(),
                    event_headers(event),
                )
            ]
        )

    async def ping(self) -> bool:
        try:
            await self._producer.client.fetch_all_metadata()
            return True
        except Exception:
            return False


def _header_dict(raw_headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw_headers or ():
        try:
            out[key] = value.decode()
        except UnicodeDecodeError:
            out[key] = value.hex()
    return out


def _correlation_from(body: bytes, headers: dict[str, str]) -> tuple[str | None, str | None]:
    if "correlation_id" in headers or "event_id" in headers:
        return headers.get("correlation_id") or headers.get("event_id"), headers.get("event_id")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    event_id = doc.get("event_id")
    return doc.get("correlation_id") or event_id, event_id


def dead_letter_middleware(
    service: str, producer: RecordProducer, *, max_attempts: int = MAX_ATTEMPTS
) -> type[BaseMiddleware]:
    """A FastStream middleware class: metrics, correlation ids, retries and dead letters."""

    class DeadLetterMiddleware(BaseMiddleware):
        async def consume_scope(
            self, call_next: Callable[..., Any], msg: StreamMessage[Any]
        ) -> Any:
            record = msg.raw_message
            topic = getattr(record, "topic", "?")
            headers = _header_dict(getattr(record, "headers", None))
            correlation, causation = _correlation_from(msg.body, headers)
            bind_correlation(correlation, causation)
            started = time.perf_counter()
            attempt = 0
            try:
                while True:
                    attempt += 1
                    try:
                        result = await call_next(msg)
                        MESSAGES_CONSUMED.labels(service, topic, "ok").inc()
                        return result
                    except _CONTRACT_ERRORS as exc:
                        reason = exc.reason if isinstance(exc, DeadLetter) else "contract"
                        await self._dead_letter(msg, headers, reason, exc)
                        return None
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        if is_outage(exc):
                            attempt -= 1  # not the record's fault: wait, without limit
                            log.warning(
                                "database unavailable; retrying the record",
                                topic=topic,
                                retry_in_s=OUTAGE_RETRY_S,
                                error=describe_error(exc),
                            )
                            await asyncio.sleep(OUTAGE_RETRY_S)
                            continue
                        if attempt >= max_attempts:
                            log.error(
                                "handler failed; dead-lettering",
                                topic=topic,
                                attempts=attempt,
                                error=describe_error(exc),
                            )
                            await self._dead_letter(msg, headers, "handler_error", exc)
                            return None
                        MESSAGES_CONSUMED.labels(service, topic, "retried").inc()
                        delay = min(0.2 * 2 ** (attempt - 1), 5.0)
                        log.warning(
                            "handler failed; retrying",
                            topic=topic,
                            attempt=attempt,
                            delay_s=delay,
                            error=describe_error(exc),
                        )
                        await asyncio.sleep(delay)
            finally:
                HANDLER_SECONDS.labels(service, topic).observe(time.perf_counter() - started)
                self._record_lag(msg, record)
                bind_correlation(None, None)

        async def _dead_letter(
            self, msg: StreamMessage[Any], headers: dict[str, str], reason: str, exc: BaseException
        ) -> None:
            record = msg.raw_message
            topic = getattr(record, "topic", "unknown")
            error = describe_error(exc)
            # The consumer that read the record knows its group (the in-memory test broker's
            # stand-in does not); FastStream does not hand the subscriber's options here.
            group = getattr(getattr(msg, "consumer", None), "_group_id", None) or ""
            dlq_headers = {
                **headers,
                "dlq.reason": reason,
                "dlq.error": error,
                "dlq.topic": topic,
                "dlq.partition": str(getattr(record, "partition", "")),
                "dlq.offset": str(getattr(record, "offset", "")),
                "dlq.service": service,
                "dlq.group": group,
                "dlq.at": datetime.now(UTC).isoformat(),
            }
            await producer.send_batch(
                [
                    OutgoingRecord(
                        f"{topic}.dlq", getattr(record, "key", None), record.value, dlq_headers
                    )
                ]
            )
            DEAD_LETTERS.labels(service, topic, reason).inc()
            MESSAGES_CONSUMED.labels(service, topic, "dead_letter").inc()
            log.warning(
                "record dead-lettered",
                topic=topic,
                partition=dlq_headers["dlq.partition"],
                offset=dlq_headers["dlq.offset"],
                reason=reason,
                group=group,
                error=error,
            )

        @staticmethod
        def _record_lag(msg: StreamMessage[Any], record: Any) -> None:
            consumer = getattr(msg, "consumer", None)
            if consumer is None or not hasattr(record, "partition"):
                return
            try:
                high = consumer.highwater(TopicPartition(record.topic, record.partition))
            except Exception:
                return
            if high is not None:
                CONSUMER_LAG.labels(service, record.topic, str(record.partition)).set(
                    max(high - record.offset - 1, 0)
                )

    return DeadLetterMiddleware


def build_broker(bootstrap: str, service: str, producer: RecordProducer) -> KafkaBroker:
    """The service's FastStream broker with the dead-letter middleware installed.

    ``bootstrap`` may list several brokers, comma-separated, as every Kafka client accepts:
    FastStream takes one string for one server, so the list is split here.
    """
    return KafkaBroker(
        [server.strip() for server in bootstrap.split(",") if server.strip()],
        client_id=service,
        acks="all",
        enable_idempotence=True,
        middlewares=[dead_letter_middleware(service, producer)],
        logger=None,
    )


def subscriber_options(group_id: str, *, title: str, description: str) -> dict[str, Any]:
    """Options every anbu subscriber uses.

    Offsets are committed after the handler returns; a new group reads from the start;
    records are decoded strictly per topic; the range assignor gives one consumer the same
    partition numbers of every topic it reads, which keeps co-partitioned topics together.
    """
    return {
        "group_id": group_id,
        "auto_offset_reset": "earliest",
        "ack_policy": AckPolicy.NACK_ON_ERROR,
        "decoder": decode_by_topic,
        "partition_assignment_strategy": (RangePartitionAssignor,),
        "title": title,
        "description": description,
    }


class Tombstone(BaseModel):
    """A record with a key and no value on a compacted topic: the keyed entity is gone."""

    topic: str
    key: str


def message_id(event: BaseModel) -> str:
    """The id a consumer's inbox remembers for ``event``.

    Signals are identified by partner and partner event id, so that a partner resending an
    observation under a new envelope id is still applied once.
    """
    partner_event_id = getattr(event, "partner_event_id", None)
    if partner_event_id is not None:
        return f"{event.partner_id}:{partner_event_id}"  # type: ignore[attr-defined]
    if isinstance(event, Tombstone):
        return f"tombstone:{event.topic}:{event.key}"
    return str(event.event_id)  # type: ignore[attr-defined]


def decode_record(topic_name: str, key: bytes | None, value: bytes | None) -> BaseModel:
    """The record as its topic's contract model, or a :class:`Tombstone` on a compacted topic.

    Raises ``ValidationError`` for a body that is not the topic's model, and
    :class:`DeadLetter` for a record of an unregistered topic, an empty record (no value) on a
    topic that is not compacted (reason ``empty``: only compacted snapshot topics use
    tombstones), or a household-keyed record whose key is not its body's ``household_id``
    (reason ``key``: it sits on another household's partition, where the detector that owns
    the household never sees it).
    """
    return record_decoder(topic_name)(key, value)


RecordDecoder = Callable[[bytes | None, bytes | None], BaseModel]


@functools.lru_cache(maxsize=256)
def record_decoder(topic_name: str) -> RecordDecoder:
    """:func:`decode_record` for one topic, its lookups done once: a batch consumer decodes
    a poll's records of a partition with it (the detector's heartbeats, tens of thousands a
    second: the topic lookup, ``model_validate_json``'s wrapper and the key's field lookup
    were a fifth of the decode). The model's own validator runs unchanged."""
    topic = TOPICS_BY_NAME.get(topic_name)
    if topic is None:

        def unregistered(key: bytes | None, value: bytes | None) -> BaseModel:
            raise DeadLetter(f"no contract registered for topic {topic_name}")

        return unregistered
    validate = topic.model.__pydantic_validator__.validate_json
    compacted = topic.cleanup_policy == "compact"
    key_of = topic.key_of if topic.key_field == "household_id" else None

    def decode(key: bytes | None, value: bytes | None) -> BaseModel:
        if value is None:
            if compacted:
                return Tombstone(topic=topic_name, key=(key or b"").decode(errors="replace"))
            raise DeadLetter("the record has no value on a topic that is not compacted", "empty")
        event: BaseModel = validate(value)
        if key_of is not None and key != key_of(event):
            raise DeadLetter("the record key is not the household_id of its body", "key")
        return event

    return decode


async def decode_by_topic(msg: StreamMessage[Any], original: Callable[..., Any]) -> Any:
    """Decode a record strictly as its topic's contract model (a FastStream decoder).

    A subscriber over several topics annotates its handler with the union of their models;
    this decoder picks the one model each topic carries, so a record valid for another
    topic's contract is still refused.
    """
    record = msg.raw_message
    return decode_record(record.topic, record.key, record.value)
