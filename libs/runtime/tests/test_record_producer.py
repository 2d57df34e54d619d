"""The runtime producer's batched path on the real broker: where Kafka puts a key, in order."""

from __future__ import annotations

from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from anbu_runtime.kafka import RecordProducer
from anbu_runtime.outbox import OutgoingRecord

pytestmark = pytest.mark.integration


async def test_send_raw_puts_each_key_where_kafka_would_in_the_order_sent(
    kafka_bootstrap: str,
) -> None:
    topic = f"test.raw.{uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    keys = [f"H-{n:03d}".encode() for n in range(40)]

    # where a plain producer's ``send`` puts each key: the partitioning send_raw must keep
    plain = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await plain.start()
    try:
        expected = {
            key: (await plain.send_and_wait(topic, b"probe", key=key)).partition for key in keys
        }
    finally:
        await plain.stop()
    assert len(set(expected.values())) > 1, "the keys should spread over several partitions"

    producer = RecordProducer(kafka_bootstrap, "raw-test")
    await producer.start()
    try:
        await producer.send_raw(
            (topic, key, f"{n}".encode(), [("event_id", f"E-{n}".encode())])
            for n in range(3000)
            for key in [keys[n % len(keys)]]
        )
        await producer.send_batch([OutgoingRecord(topic, keys[0], b"last", {"event_id": "E-last"})])
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got = []
    try:
        while len(got) < len(keys) + 3001:
            batches = await consumer.getmany(timeout_ms=5000)
            assert batches, f"only {len(got)} records arrived"
            for records in batches.values():
                got.extend(records)
    finally:
        await consumer.stop()

    sent = [r for r in got if r.value != b"probe"]
    assert len(sent) == 3001
    for record in sent:
        assert record.partition == expected[record.key]
    by_key: dict[bytes, list[int]] = {}
    for record in sorted(sent, key=lambda r: (r.partition, r.offset)):
        if record.value != b"last":
            by_key.setdefault(record.key, []).append(int(record.value))
            assert dict(record.headers) == {"event_id": f"E-{int(record.value)}".encode()}
    assert all(values == sorted(values) for values in by_key.values())
    assert sum(len(v) for v in by_key.values()) == 3000
    assert [dict(r.headers) for r in sent if r.value == b"last"] == [{"event_id": b"E-last"}]
