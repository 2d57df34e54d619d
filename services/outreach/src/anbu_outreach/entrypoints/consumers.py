"""Outreach's Kafka entrypoints.

Escalations are work: one consumer group shares them between instances. The roster and the
household snapshots are a cache every instance needs whole: a snapshot follower reads the
compacted topics from the beginning at every start (snapshots apply by revision, so
re-reading is harmless), and outreach is not ready until the cache is warm.
"""

from __future__ import annotations

from pydantic import BaseModel

from anbu_contracts import EscalationEvent
from anbu_contracts.topics import DETECTOR_ESCALATION, REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.kafka import message_id, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..adapters.registry_client import RegistryClient
from ..handlers import Outreach

GROUP = "outreach"


def register(runtime: ServiceRuntime, outreach: Outreach, registry: RegistryClient) -> None:
    inbox = runtime.inbox(GROUP)

    async def apply_snapshots(events: list[BaseModel]) -> None:
        await runtime.db.run(lambda s: outreach.on_snapshots(s, events))

    roster = runtime.follow_snapshots([REGISTRY_WORKER, REGISTRY_HOUSEHOLD], apply_snapshots)

    async def ensure_household(household_id: str) -> None:
        """Tasks need the household's dong and people: if the snapshot has not reached the
        cache yet (the two consumers race), ask the registry directly."""
        if await runtime.db.run(lambda s: outreach.knows_household(s, household_id)):
            return
        snapshot = await registry.household(household_id)
        if snapshot is not None:
            await runtime.db.run(lambda s: outreach.on_household(s, snapshot))

    @runtime.broker.subscriber(
        DETECTOR_ESCALATION.name,
        **subscriber_options(
            GROUP, title="outreach", description="Protocol steps become tasks and messages."
        ),
    )
    async def on_escalation(event: EscalationEvent) -> None:
        await roster.caught_up.wait()  # never assign from a cold roster
        if event.change == "step_executed":
            await ensure_household(event.household_id)
        await runtime.apply_once(
            inbox, message_id(event), lambda s: outreach.on_escalation(s, event)
        )
