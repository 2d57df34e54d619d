"""The detector's Kafka entrypoint: one batch consumer over every topic it joins.

Signals, registry household snapshots and outreach outcomes are co-partitioned by household
id; one consumer reads them all with the range assignor, so one detector instance owns every
event of a household, its in-memory deadlines and its protocol timers. Scale-out is adding
instances to the group; a partition that moves is rebuilt from durable state. Each record
goes to its handler by contract type (``handlers/intake.py``'s ``HANDLERS``).
"""

from __future__ import annotations

import asyncio

from anbu_contracts import HouseholdSnapshot, OutcomeEvent
from anbu_contracts.signals import AnySignal
from anbu_contracts.topics import OUTREACH_OUTCOME, REGISTRY_HOUSEHOLD, SIGNAL_TOPICS
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.service import ServiceRuntime

from ..handlers import Detector

GROUP = "detector"
TOPICS = [*SIGNAL_TOPICS.values(), REGISTRY_HOUSEHOLD, OUTREACH_OUTCOME]


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

    runtime.add_background("consumer", consume)
    runtime.add_ready_check("consumer", consumer.ready)
    return consumer
