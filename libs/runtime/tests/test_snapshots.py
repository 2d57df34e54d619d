"""The snapshot follower on the real broker: it reads everything, then says it is warm."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import BaseModel

from anbu_contracts import Role, WorkerSnapshot
from anbu_contracts.topics import REGISTRY_WORKER
from anbu_runtime.kafka import RecordProducer, Tombstone
from anbu_runtime.outbox import OutgoingRecord
from anbu_runtime.snapshots import SnapshotFollower

pytestmark = pytest.mark.integration


async def test_the_cache_is_warm_only_after_everything_published_before_start_is_applied(
    kafka_bootstrap: str,
) -> None:
    producer = RecordProducer(kafka_bootstrap, "snapshot-test")
    await producer.start()
    tag = uuid4().hex[:6].upper()
    workers = [
        WorkerSnapshot(
            occurred_at=datetime.now(UTC),
            source="registry",
            worker_id=f"W-{tag}{n:02d}",
            revision=1,
            roles=[Role.VOLUNTEER],
        )
        for n in range(20)
    ]
    for worker in workers:
        await producer.publish(REGISTRY_WORKER, worker)
    await producer.send_batch(
        [OutgoingRecord(REGISTRY_WORKER.name, f"W-{tag}00".encode(), None, {})]
    )
    await producer.send_batch([OutgoingRecord(REGISTRY_WORKER.name, b"W-BROKEN", b'{"no": 1}', {})])

    seen: list[BaseModel] = []

    async def apply(batch: list[BaseModel]) -> None:
        seen.extend(batch)

    follower = SnapshotFollower(
        "snapshot-test", kafka_bootstrap, [REGISTRY_WORKER], apply, producer
    )
    stop = asyncio.Event()
    task = asyncio.create_task(follower.run(stop))
    try:
        await asyncio.wait_for(follower.caught_up.wait(), timeout=30)
        mine = [e for e in seen if getattr(e, "worker_id", "").startswith(f"W-{tag}")]
        assert {w.worker_id for w in mine} == {w.worker_id for w in workers}
        assert any(isinstance(e, Tombstone) and e.key == f"W-{tag}00" for e in seen)
        assert await follower.ready()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await producer.stop()
