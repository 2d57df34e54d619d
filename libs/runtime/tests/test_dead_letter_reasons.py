"""Dead letters on the real broker: why each record left the stream, who sent it there, and
never a value of the record in the error text or the logs."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from anbu_contracts import SafetyCallSignal, SignalKind
from anbu_contracts.topics import REGISTRY_HOUSEHOLD, SIGNAL_TOPICS, Topic
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.kafka import RecordProducer, Tombstone, build_broker, subscriber_options
from anbu_runtime.logs import configure_logging

pytestmark = pytest.mark.integration

TOPIC = SIGNAL_TOPICS[SignalKind.SAFETY_CALL]
NAME, PHONE, RRN, EMAIL = "김민수", "010-1234-5678", "900101-1234567", "minsu.kim@example.org"
PERSONAL = (NAME, PHONE, RRN, EMAIL)


def signal(household: str) -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=datetime.now(UTC),
        source="p1",
        household_id=household,
        partner_id="p1",
        partner_event_id=str(uuid4()),
        outcome="unanswered",
    )


def personal_record(household: str) -> bytes:
    """A safety call whose wrong-typed fields hold a name, a phone, an RRN and an e-mail."""
    return json.dumps(
        {
            "kind": "safety_call",
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "p1",
            "household_id": household,
            "partner_id": NAME,
            "partner_event_id": "e-1",
            "outcome": PHONE,
            "caller": RRN,
            "concerns": [EMAIL],
            "full_name": NAME,
        },
        ensure_ascii=False,
    ).encode()


async def dlq_end(bootstrap: str, topic: Topic) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic.dlq_name, 0)
        consumer.assign([tp])
        await consumer.seek_to_end(tp)
        return int(await consumer.position(tp))
    finally:
        await consumer.stop()


async def dead_letters(
    bootstrap: str, topic: Topic, start: int, household: str, expected: int
) -> list[dict[str, Any]]:
    """Dead letters of ``topic`` written after ``start`` of the records sent for ``household``."""
    keys = {household.encode(), other_key(household)}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tp = TopicPartition(topic.dlq_name, 0)
    consumer.assign([tp])
    consumer.seek(tp, start)
    found: list[dict[str, Any]] = []
    deadline = asyncio.get_running_loop().time() + 30
    try:
        while len(found) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=500)
            for record in batch.get(tp, []):
                headers = {k: v.decode() for k, v in record.headers}
                if record.key in keys:
                    found.append({"key": record.key, "value": record.value, **headers})
        await asyncio.sleep(1.0)  # and nothing more arrives (no second copy)
        for record in (await consumer.getmany(tp, timeout_ms=500)).get(tp, []):
            headers = {k: v.decode() for k, v in record.headers}
            if record.key in keys:
                found.append({"key": record.key, "value": record.value, **headers})
    finally:
        await consumer.stop()
    return found


def other_key(household: str) -> bytes:
    return f"{household}-ELSEWHERE".encode()


async def send_bad_records(bootstrap: str, household: str) -> None:
    """A record with personal data, an empty record and a record under another key."""
    raw = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await raw.start()
    try:
        key = household.encode()
        await raw.send_and_wait(TOPIC.name, personal_record(household), key=key)
        await raw.send_and_wait(TOPIC.name, None, key=key)
        other = signal(household).model_dump_json().encode()
        await raw.send_and_wait(TOPIC.name, other, key=other_key(household))
        await raw.send_and_wait(REGISTRY_HOUSEHOLD.name, None, key=key)  # compacted: a deletion
        await raw.send_and_wait(TOPIC.name, signal(household).model_dump_json().encode(), key=key)
    finally:
        await raw.stop()


def assert_redacted_contract_error(error: str) -> None:
    for value in PERSONAL:
        assert value not in error
    assert "input_value" not in error
    for field in ("partner_id", "outcome", "caller", "concerns.0", "full_name"):
        assert field in error
    for kind in ("string_pattern_mismatch", "enum", "extra_forbidden"):
        assert kind in error


def assert_logs_hold_no_personal_data(captured: str) -> list[dict[str, Any]]:
    for value in PERSONAL:
        assert value not in captured
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == "record dead-lettered"]


async def test_the_faststream_consumer_dead_letters_by_reason_without_personal_data(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("dlq-test", "INFO", "json")
    service = f"dlq-fs-{uuid4().hex[:8]}"
    household = f"HH-FS{uuid4().hex[:10].upper()}"
    producer = RecordProducer(kafka_bootstrap, service)
    await producer.start()
    broker = build_broker(kafka_bootstrap, service, producer)
    handled: list[SafetyCallSignal] = []
    seen = asyncio.Event()

    @broker.subscriber(TOPIC.name, **subscriber_options(service, title="t", description="t"))
    async def on_signal(event: SafetyCallSignal) -> None:
        if event.household_id == household:
            handled.append(event)
            seen.set()

    start = await dlq_end(kafka_bootstrap, TOPIC)
    try:
        await broker.start()
        await send_bad_records(kafka_bootstrap, household)
        await asyncio.wait_for(seen.wait(), timeout=30)
        dead = await dead_letters(kafka_bootstrap, TOPIC, start, household, 3)
    finally:
        await broker.stop()
        await producer.stop()

    assert len(handled) == 1
    by_reason = {d["dlq.reason"]: d for d in dead}
    assert sorted(by_reason) == ["contract", "empty", "key"] and len(dead) == 3
    assert_redacted_contract_error(by_reason["contract"]["dlq.error"])
    assert json.loads(by_reason["contract"]["value"])["full_name"] == NAME  # the record as sent
    assert by_reason["empty"]["value"] is None
    assert by_reason["key"]["key"] == other_key(household)
    assert {d["dlq.service"] for d in dead} == {d["dlq.group"] for d in dead} == {service}
    logged = assert_logs_hold_no_personal_data(capsys.readouterr().out)
    # the line about this test's record: a new group reads the topic from its start, so the
    # broker's older malformed records (other tests') are dead-lettered and logged too
    where = (by_reason["contract"]["dlq.partition"], by_reason["contract"]["dlq.offset"])
    contract_lines = [
        line
        for line in logged
        if line.get("reason") == "contract"
        and (str(line.get("partition")), str(line.get("offset"))) == where
    ]
    assert contract_lines and "full_name" in contract_lines[0]["error"]


async def test_the_batch_consumer_dead_letters_by_reason_once_per_group_without_personal_data(
    kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("dlq-test", "INFO", "json")
    tag = uuid4().hex[:8]
    household = f"HH-BC{uuid4().hex[:10].upper()}"
    producer = RecordProducer(kafka_bootstrap, f"dlq-batch-{tag}")
    await producer.start()
    received: dict[str, list[Received]] = {"detector": [], "console": []}
    done = {name: asyncio.Event() for name in received}

    def consumer_for(name: str) -> BatchConsumer:
        async def handle(batch: list[Received]) -> None:
            for item in batch:
                if getattr(item.event, "household_id", None) == household or (
                    isinstance(item.event, Tombstone) and item.event.key == household
                ):
                    received[name].append(item)
            if len(received[name]) == 2:
                done[name].set()

        return BatchConsumer(
            service=f"{name}-{tag}",
            bootstrap=kafka_bootstrap,
            group_id=f"{name}-group-{tag}",
            topics=[TOPIC.name, REGISTRY_HOUSEHOLD.name],
            handler=handle,
            producer=producer,
        )

    consumers = [consumer_for(name) for name in received]
    stop = asyncio.Event()
    start = await dlq_end(kafka_bootstrap, TOPIC)
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    try:
        await send_bad_records(kafka_bootstrap, household)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in done.values())), timeout=60)
        groups = {c.group_id for c in consumers}
        dead = await dead_letters(kafka_bootstrap, TOPIC, start, household, 6)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()

    for items in received.values():  # the signal and the deletion, nothing else
        assert sorted(type(i.event).__name__ for i in items) == ["SafetyCallSignal", "Tombstone"]
    # each group dead-letters each bad record once, and says so
    assert Counter((d["dlq.group"], d["dlq.reason"]) for d in dead) == {
        (group, reason): 1 for group in groups for reason in ("contract", "empty", "key")
    }
    for d in dead:
        assert d["dlq.service"] == d["dlq.group"].replace("-group", "")
    for d in dead:
        if d["dlq.reason"] == "contract":
            assert_redacted_contract_error(d["dlq.error"])
    logged = assert_logs_hold_no_personal_data(capsys.readouterr().out)
    assert {(line["group"], line["reason"]) for line in logged} >= {
        (group, reason) for group in groups for reason in ("contract", "empty", "key")
    }
