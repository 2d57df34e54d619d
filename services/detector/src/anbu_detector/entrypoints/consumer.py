"""The detector's Kafka entrypoint: one batch consumer over every topic it joins.

Signals, registry household snapshots and outreach outcomes are co-partitioned by household
id; one consumer reads them all with the range assignor, so one detector instance owns every
event of a household, its in-memory deadlines and its protocol timers. Scale-out is adding
instances to the group; a partition that moves is rebuilt from durable state.
"""

from __future__ import annotations

import asyncio
import contextlib

from anbu_contracts import HouseholdSnapshot, OutcomeEvent
from anbu_contracts.signals import AnySignal
from anbu_contracts.topics import OUTREACH_OUTCOME, REGISTRY_HOUSEHOLD, SIGNAL_TOPICS
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from .. import metrics
from ..handlers import Detector

log = get_logger(__name__)

GROUP = "detector"
TOPICS = [*SIGNAL_TOPICS.values(), REGISTRY_HOUSEHOLD, OUTREACH_OUTCOME]
SWEEP_SECONDS = 1.0


def register(
    runtime: ServiceRuntime, detector: Detector, *, max_records: int = 5000
) -> BatchConsumer:
    consumer = BatchConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=GROUP,
        topics=[t.name for t in TOPICS],
        handler=detector.handle,
        producer=runtime.producer,
        on_assigned=detector.load_partitions,
        on_revoked=detector.drop_partitions,
        max_records=max_records,
        instance_id=runtime.common.instance_id,
        flusher=detector.flush,
        commit_interval=1.0,
    )
    runtime.declare_subscription(
        TOPICS,
        AnySignal | HouseholdSnapshot | OutcomeEvent,
        title=GROUP,
        description=(
            "Every signal kind, household snapshots and outcomes, co-partitioned by household "
            "and read in batches (commit after the batch is durable)."
        ),
    )

    async def consume(stop: asyncio.Event) -> None:
        if detector.timers is not None:
            detector.timers.start()
        try:
            await consumer.run(stop)
        finally:
            if detector.timers is not None:
                detector.timers.shutdown()

    async def sweep(stop: asyncio.Event) -> None:
        """Expire inactivity windows once a second (real time), under the consumer's lock."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=SWEEP_SECONDS)
            if stop.is_set() or not consumer.partitions:
                continue
            async with consumer.lock:
                try:
                    await detector.sweep()
                except Exception:
                    log.exception("inactivity sweep failed; retrying next second")

    async def gauges(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await detector.refresh_gauges()
            with contextlib.suppress(Exception):
                counts = await detector.db.run(lambda s: metrics.overdue_steps(s, detector.clock))
                metrics.publish_overdue(counts, detector.protocols)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=15)

    runtime.add_background("consumer", consume)
    runtime.add_background("sweep", sweep)
    runtime.add_background("gauges", gauges)
    runtime.add_ready_check("consumer", consumer.ready)
    return consumer
