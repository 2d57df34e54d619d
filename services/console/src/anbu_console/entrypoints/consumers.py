"""The console's Kafka entrypoint: every topic operators watch, into the read model.

One batch consumer reads the operational topics and every signal topic (for the partner
feeds); each batch is folded in one unit of work through the handler table
(``handlers.project_batch``; the projections are idempotent, so no inbox is needed) and the
changes are announced to the open pages afterwards.
"""

from __future__ import annotations

from anbu_contracts import (
    AlertEvent,
    AnySignal,
    CaseEvent,
    EscalationEvent,
    HouseholdSnapshot,
    JobProgress,
    NotificationStatusEvent,
    OutcomeEvent,
    TaskEvent,
)
from anbu_contracts.topics import (
    DETECTOR_ALERT,
    DETECTOR_ESCALATION,
    NOTIFY_STATUS,
    OPS_JOB,
    OUTREACH_OUTCOME,
    OUTREACH_TASK,
    REGISTRY_CASE,
    REGISTRY_HOUSEHOLD,
    SIGNAL_TOPICS,
)
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.kafka import Tombstone
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.uow import Transactions

from ..adapters.repository import ReadModel
from ..handlers import fold, stamp
from .live import Hub

INPUT_TOPICS = (
    REGISTRY_HOUSEHOLD,
    REGISTRY_CASE,
    DETECTOR_ALERT,
    DETECTOR_ESCALATION,
    OUTREACH_TASK,
    OUTREACH_OUTCOME,
    NOTIFY_STATUS,
    OPS_JOB,
    *SIGNAL_TOPICS.values(),
)


def register(
    runtime: ServiceRuntime, tx: Transactions[ReadModel], hub: Hub, group: str
) -> BatchConsumer:
    async def handle(received: list[Received]) -> None:
        events = [
            stamp(r.event, r.timestamp_ms) for r in received if not isinstance(r.event, Tombstone)
        ]
        changes = await fold(tx, events)
        hub.publish(changes)

    consumer = BatchConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=group,
        topics=[t.name for t in INPUT_TOPICS],
        handler=handle,
        producer=runtime.producer,
        max_records=2000,
        instance_id=runtime.common.instance_id,
    )
    runtime.declare_subscription(
        INPUT_TOPICS,
        HouseholdSnapshot
        | CaseEvent
        | AlertEvent
        | EscalationEvent
        | TaskEvent
        | OutcomeEvent
        | NotificationStatusEvent
        | JobProgress
        | AnySignal,
        title=group,
        description="Everything operators watch, folded into the console's read model.",
    )
    runtime.add_background("consumer", consumer.run)
    runtime.add_ready_check("consumer", consumer.ready)
    return consumer
