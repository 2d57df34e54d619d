"""The registry's Kafka entrypoint: outcomes, protocol steps and tasks, by household."""

from __future__ import annotations

from anbu_contracts import EscalationEvent, OutcomeEvent, TaskEvent
from anbu_contracts.topics import DETECTOR_ESCALATION, OUTREACH_OUTCOME, OUTREACH_TASK
from anbu_runtime.kafka import message_id, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..adapters.repository import Repositories
from ..handlers.common import Context
from ..handlers.events import HANDLERS

GROUP = "registry"


def register(runtime: ServiceRuntime, ctx: Context) -> None:
    tx = runtime.transactions(lambda session: Repositories(session, ctx), inbox=GROUP)

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
        await HANDLERS.handle(tx, event, message_id=message_id(event))
