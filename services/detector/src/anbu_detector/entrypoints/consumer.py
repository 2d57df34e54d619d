"""The detector's Kafka entrypoints: the bulk batch consumer and the priority lane.

Signals, registry household snapshots and outreach outcomes are co-partitioned by household
id; one consumer reads them all with the range assignor, so one detector instance owns every
event of a household, its in-memory deadlines and its protocol timers. Scale-out is adding
instances to the group; a partition that moves is rebuilt from durable state. Each record
goes to its handler by contract type (``handlers/intake.py``'s ``HANDLERS``). The
life-safety kinds are read by the priority lane instead (``lane.py``), which follows this
consumer's assignment: it starts reading a partition as soon as its protocol timers are
attached (before the index is rebuilt) and lets it go before the state is dropped.
"""

from __future__ import annotations

import asyncio

from anbu_contracts import HouseholdSnapshot, OutcomeEvent
from anbu_contracts.signals import AnySignal
from anbu_contracts.topics import OUTREACH_OUTCOME, REGISTRY_HOUSEHOLD, SIGNAL_TOPICS
from anbu_runtime.batch import BatchConsumer
from anbu_runtime.service import ServiceRuntime

from ..handlers import Detector
from . import lane

FETCH_SLICE = 1000  # records one poll hands over at most


def bulk_batch(max_records: int) -> int:
    """Records a bulk poll takes: aiokafka builds a poll's records in one synchronous
    stretch no slice can split (~28 % of the loop's samples under a 10,000-record batch),
    so the configured size is a ceiling and a poll takes at most ``FETCH_SLICE``."""
    return min(max_records, FETCH_SLICE)


GROUP = "detector"
BULK_SIGNALS = [t for t in SIGNAL_TOPICS.values() if t not in lane.LANE_TOPICS]
TOPICS = [*BULK_SIGNALS, REGISTRY_HOUSEHOLD, OUTREACH_OUTCOME]


def register(
    runtime: ServiceRuntime, detector: Detector, *, max_records: int = 5000
) -> BatchConsumer:
    urgent = lane.LaneConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=lane.GROUP,
        topics=[t.name for t in lane.LANE_TOPICS],
        handler=detector.handle_urgent,
        producer=runtime.producer,
        max_records=lane.BATCH,
        instance_id=runtime.common.instance_id,
        priority=detector.priority,
    )

    async def assigned(partitions: set[int]) -> None:
        # The lane needs no index (it never reads channel clocks), only the partitions'
        # protocol timers, so it starts before the index is rebuilt (seconds at a million
        # households): its timers land in the job stores and the reconciliation after the
        # load finds them there.
        if detector.timers is not None:
            detector.timers.add_partitions(partitions)
        await urgent.follow(partitions)
        await detector.load_partitions(partitions)

    async def revoked(partitions: set[int]) -> None:
        await urgent.release(partitions)
        await detector.drop_partitions(partitions)

    consumer = BatchConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=GROUP,
        topics=[t.name for t in TOPICS],
        handler=detector.handle,
        producer=runtime.producer,
        on_assigned=assigned,
        on_revoked=revoked,
        max_records=bulk_batch(max_records),
        instance_id=runtime.common.instance_id,
        flusher=detector.flush,
        commit_interval=1.0,
        turn=detector.priority.turn,  # between decode slices: the lane goes first
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
    runtime.declare_subscription(
        lane.LANE_TOPICS,
        lane.LaneSignal,
        title=lane.GROUP,
        description=(
            "The priority lane: SOS, reports and disconnections, read apart from the "
            "heartbeat backlog in small batches on the partitions the bulk consumer owns."
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
    runtime.add_background("lane", urgent.run)
    runtime.add_ready_check("consumer", consumer.ready)
    runtime.add_ready_check("lane", urgent.ready)
    return consumer
