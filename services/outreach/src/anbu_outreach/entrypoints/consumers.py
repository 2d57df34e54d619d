"""Outreach's Kafka entrypoints.

Escalations are work: one consumer group shares them between instances. The roster and the
household snapshots are a cache every instance needs whole, so that subscriber has no group
and reads the compacted topics from the beginning at every start (snapshots apply by
revision, so re-reading is harmless).
"""

from __future__ import annotations

from faststream.middlewares import AckPolicy

from anbu_contracts import EscalationEvent, HouseholdSnapshot, WorkerSnapshot
from anbu_contracts.topics import DETECTOR_ESCALATION, REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.kafka import Tombstone, decode_by_topic, message_id, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..handlers import Outreach

GROUP = "outreach"


def register(runtime: ServiceRuntime, outreach: Outreach) -> None:
    inbox = runtime.inbox(GROUP)

    @runtime.broker.subscriber(
        DETECTOR_ESCALATION.name,
        **subscriber_options(
            GROUP, title="outreach", description="Protocol steps become tasks and messages."
        ),
    )
    async def on_escalation(event: EscalationEvent) -> None:
        await runtime.apply_once(
            inbox, message_id(event), lambda s: outreach.on_escalation(s, event)
        )

    @runtime.broker.subscriber(
        REGISTRY_WORKER.name,
        REGISTRY_HOUSEHOLD.name,
        group_id=None,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=decode_by_topic,
        title="outreach-cache",
        description="Roster and household snapshots, read whole by every instance.",
    )
    async def on_snapshot(event: WorkerSnapshot | HouseholdSnapshot | Tombstone) -> None:
        if isinstance(event, Tombstone):
            return
        if isinstance(event, WorkerSnapshot):
            worker = event
            await runtime.db.run(lambda s: outreach.on_worker(s, worker))
        else:
            household = event
            await runtime.db.run(lambda s: outreach.on_household(s, household))
