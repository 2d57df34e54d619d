"""The console's Kafka entrypoint: every topic operators watch, into the read model."""

from __future__ import annotations

from anbu_contracts import (
    AlertEvent,
    EscalationEvent,
    HouseholdSnapshot,
    NotificationStatusEvent,
    OutcomeEvent,
    TaskEvent,
)
from anbu_contracts.topics import (
    DETECTOR_ALERT,
    DETECTOR_ESCALATION,
    NOTIFY_STATUS,
    OUTREACH_OUTCOME,
    OUTREACH_TASK,
    REGISTRY_HOUSEHOLD,
)
from anbu_runtime.kafka import Tombstone, message_id, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..projections import project

GROUP = "console"
INPUT_TOPICS = (
    REGISTRY_HOUSEHOLD.name,
    DETECTOR_ALERT.name,
    DETECTOR_ESCALATION.name,
    OUTREACH_TASK.name,
    OUTREACH_OUTCOME.name,
    NOTIFY_STATUS.name,
)

ConsoleInput = (
    HouseholdSnapshot
    | AlertEvent
    | EscalationEvent
    | TaskEvent
    | OutcomeEvent
    | NotificationStatusEvent
    | Tombstone
)


def register(runtime: ServiceRuntime) -> None:
    inbox = runtime.inbox(GROUP)

    @runtime.broker.subscriber(
        *INPUT_TOPICS,
        **subscriber_options(
            GROUP, title="console", description="Everything operators watch, as a read model."
        ),
    )
    async def on_event(event: ConsoleInput) -> None:
        if isinstance(event, Tombstone):
            return
        await runtime.apply_once(inbox, message_id(event), lambda s: project(s, event) and None)
