"""The registry's Kafka entrypoint: outcomes, protocol steps and tasks, by household."""

from __future__ import annotations

from anbu_contracts import EscalationEvent, OutcomeEvent, TaskEvent
from anbu_contracts.topics import DETECTOR_ESCALATION, OUTREACH_OUTCOME, OUTREACH_TASK
from anbu_runtime.kafka import message_id, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..handlers import events
from ..handlers.common import Context

GROUP = "registry"


def register(runtime: ServiceRuntime, ctx: Context) -> None:
    inbox = runtime.inbox(GROUP)

    @runtime.broker.subscriber(
        OUTREACH_OUTCOME.name,
        DETECTOR_ESCALATION.name,
        OUTREACH_TASK.name,
        **subscriber_options(
            GROUP,
            title="registry",
            description="Outcomes and protocol steps into the consultation log; task grants.",
        ),
    )
    async def on_event(event: OutcomeEvent | EscalationEvent | TaskEvent) -> None:
        if isinstance(event, OutcomeEvent):
            outcome = event
            await runtime.apply_once(
                inbox, message_id(outcome), lambda s: events.on_outcome(ctx, s, outcome)
            )
        elif isinstance(event, EscalationEvent):
            escalation = event
            await runtime.apply_once(
                inbox, message_id(escalation), lambda s: events.on_escalation(ctx, s, escalation)
            )
        else:
            task = event
            await runtime.apply_once(
                inbox, message_id(task), lambda s: events.on_task(ctx, s, task)
            )
