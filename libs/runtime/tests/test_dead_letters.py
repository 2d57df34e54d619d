"""Dead letters: bad records leave the stream with their reason; good ones keep flowing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker

from anbu_contracts import SafetyCallSignal, SignalKind
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.kafka import (
    DeadLetter,
    RecordProducer,
    build_broker,
    dead_letter_middleware,
    subscriber_options,
)
from anbu_runtime.outbox import OutgoingRecord

TOPIC = SIGNAL_TOPICS[SignalKind.SAFETY_CALL]


def valid_signal(household: str = "HH-AAAAAA") -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=datetime.now(UTC),
        source="p1",
        household_id=household,
        partner_id="p1",
        partner_event_id=str(uuid4()),
        outcome="unanswered",
    )


class CapturingProducer:
    """Stands in for the real producer in the in-memory handler tests below."""

    def __init__(self) -> None:
        self.records: list[OutgoingRecord] = []

    async def send_batch(self, records: list[OutgoingRecord]) -> None:
        self.records.extend(records)


async def test_an_undecodable_record_goes_to_the_dead_letter_topic_and_the_next_is_handled() -> (
    None
):
    producer = CapturingProducer()
    broker = KafkaBroker(middlewares=[dead_letter_middleware("t", producer)])  # type: ignore[arg-type]
    handled: list[SafetyCallSignal] = []

    @broker.subscriber(TOPIC.name, **subscriber_options("g", title="t", description="t"))
    async def on_signal(signal: SafetyCallSignal) -> None:
        handled.append(signal)

    good = valid_signal()
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{not json", TOPIC.name, key=b"HH-AAAAAA")
        await test_broker.publish(good.model_dump(mode="json"), TOPIC.name, key=b"HH-AAAAAA")
    assert [s.event_id for s in handled] == [good.event_id]
    [dead] = producer.records
    assert dead.topic == "signals.safety-call.v1.dlq"
    assert dead.value == b"{not json"
    assert dead.headers["dlq.reason"] == "contract"
    assert "json_invalid" in dead.headers["dlq.error"]


async def test_a_contract_violation_raised_by_a_handler_is_dead_lettered_at_once() -> None:
    producer = CapturingProducer()
    broker = KafkaBroker(middlewares=[dead_letter_middleware("t", producer)])  # type: ignore[arg-type]
    calls = 0

    @broker.subscriber(TOPIC.name, **subscriber_options("g", title="t", description="t"))
    async def on_signal(signal: SafetyCallSignal) -> None:
        nonlocal calls
        calls += 1
        raise DeadLetter("household is not enrolled")

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            valid_signal().model_dump(mode="json"), TOPIC.name, key=b"HH-AAAAAA"
        )
    assert calls == 1
    assert producer.records[0].headers["dlq.error"] == "DeadLetter: household is not enrolled"


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered() -> None:
    producer = CapturingProducer()
    broker = KafkaBroker(middlewares=[dead_letter_middleware("t", producer, max_attempts=3)])  # type: ignore[arg-type]
    calls = 0

    @broker.subscriber(TOPIC.name, **subscriber_options("g", title="t", description="t"))
    async def on_signal(signal: SafetyCallSignal) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("database is down")

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            valid_signal().model_dump(mode="json"), TOPIC.name, key=b"HH-AAAAAA"
        )
    assert calls == 3
    assert producer.records[0].headers["dlq.reason"] == "handler_error"


@pytest.mark.integration
async def test_on_the_real_broker_a_malformed_record_lands_on_the_dlq_with_its_error(
    kafka_bootstrap: str,
) -> None:
    service = f"dlq-test-{uuid4().hex[:8]}"
    producer = RecordProducer(kafka_bootstrap, service)
    await producer.start()
    broker = build_broker(kafka_bootstrap, service, producer)
    handled: list[SafetyCallSignal] = []
    seen = asyncio.Event()
    household = f"HH-DLQ{uuid4().hex[:10].upper()}"  # a new group reads from the beginning
    good = valid_signal(household)

    @broker.subscriber(TOPIC.name, **subscriber_options(service, title="t", description="t"))
    async def on_signal(signal: SafetyCallSignal) -> None:
        if signal.household_id == household:
            handled.append(signal)
            seen.set()

    # Note where the DLQ ends now, so only this test's dead letters are read back.
    dlq = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await dlq.start()
    dlq_tp = TopicPartition(TOPIC.dlq_name, 0)
    dlq.assign([dlq_tp])
    await dlq.seek_to_end(dlq_tp)
    start = await dlq.position(dlq_tp)

    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await raw.start()
    try:
        await broker.start()
        await raw.send_and_wait(
            TOPIC.name,
            b'{"kind": "safety_call", "outcome": "maybe"}',
            key=household.encode(),
            headers=[("trace", b"abc")],
        )
        await raw.send_and_wait(TOPIC.name, good.model_dump_json().encode(), key=household.encode())
        await asyncio.wait_for(seen.wait(), timeout=30)
        dead: list[Any] = []
        dlq.seek(dlq_tp, start)
        deadline = asyncio.get_running_loop().time() + 20
        while not dead and asyncio.get_running_loop().time() < deadline:
            batch = await dlq.getmany(dlq_tp, timeout_ms=1000)
            dead += [
                r
                for r in batch.get(dlq_tp, [])
                if dict(r.headers).get("dlq.service") == service.encode()
                and r.key == household.encode()
            ]
        assert handled == [good]
        [record] = dead
        headers = {k: v.decode() for k, v in record.headers}
        assert json.loads(record.value)["outcome"] == "maybe"
        assert headers["trace"] == "abc"
        assert headers["dlq.topic"] == TOPIC.name
        assert headers["dlq.reason"] == "contract"
        assert "outcome" in headers["dlq.error"] and "household_id" in headers["dlq.error"]
    finally:
        await broker.stop()
        await raw.stop()
        await dlq.stop()
        await producer.stop()


def _database_refused() -> Exception:
    """What SQLAlchemy raises when PostgreSQL is down (connection refused)."""
    from sqlalchemy.exc import OperationalError

    return OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


async def test_a_record_failing_because_the_database_is_down_waits_instead_of_dead_lettering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An outage is not the record's fault: it is retried past max_attempts until the
    database is back, and handled, never dead-lettered (a PostgreSQL restart had sent every
    record of its 30 s to the dead-letter topic, and their alerts were lost)."""
    monkeypatch.setattr("anbu_runtime.kafka.OUTAGE_RETRY_S", 0.01)
    producer = CapturingProducer()
    broker = KafkaBroker(middlewares=[dead_letter_middleware("t", producer, max_attempts=3)])  # type: ignore[arg-type]
    calls = 0

    @broker.subscriber(TOPIC.name, **subscriber_options("g", title="t", description="t"))
    async def on_signal(signal: SafetyCallSignal) -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:  # more failures than max_attempts allows
            raise _database_refused()

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            valid_signal().model_dump(mode="json"), TOPIC.name, key=b"HH-AAAAAA"
        )
    assert calls == 6
    assert producer.records == []


async def test_the_batch_consumer_waits_out_a_database_outage_instead_of_dead_lettering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from anbu_runtime.batch import BATCH_ATTEMPTS, BatchConsumer, Received

    monkeypatch.setattr("anbu_runtime.batch.OUTAGE_RETRY_S", 0.01)
    producer = CapturingProducer()
    calls = 0

    async def handle(batch: list[Received]) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2 * BATCH_ATTEMPTS + 1:  # the batch and then its records would give up
            raise _database_refused()

    consumer = BatchConsumer(
        service="t",
        bootstrap="127.0.0.1:1",
        group_id="g",
        topics=[TOPIC.name],
        handler=handle,
        producer=producer,  # type: ignore[arg-type]
    )
    signal = valid_signal()
    item = Received(TOPIC.name, 0, 7, signal, 0)
    await consumer._handle_safely([item], {})
    assert calls == 2 * BATCH_ATTEMPTS + 2
    assert producer.records == []
