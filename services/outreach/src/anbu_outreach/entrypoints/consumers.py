"""Outreach's Kafka entrypoints.

Escalations are work: one consumer group shares them between instances. They are read in
batches (a national list round lands thousands of steps at once) and dispatched through
the handler table ``ESCALATIONS`` in units of work of up to ``CHUNK`` records, each record
once (the inbox), and the batch's offsets are committed only after its transactions
committed.

The roster and the household snapshots are a cache every instance needs whole: a snapshot
follower reads the compacted topics from the beginning at every start (snapshots apply by
revision, so re-reading is harmless), and outreach is not ready until the cache is warm.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pydantic import BaseModel
from sqlmodel import Session

from anbu_contracts import EscalationChange, EscalationEvent
from anbu_contracts.topics import DETECTOR_ESCALATION, REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.snapshots import SnapshotFollower
from anbu_runtime.uow import Transactions

from ..adapters.registry_client import RegistryClient, RegistryUnavailable
from ..adapters.repository import OutreachRepository
from ..handlers import caches
from ..handlers.escalations import ESCALATIONS

GROUP = "outreach"
log = get_logger(__name__)
# A unit of work per hundred records: their tasks are created set-based (the same few
# statements for the lot), and the outbox relay, which shares the database (SQLite: its one
# writer), gets a turn between chunks to publish what the last ones staged.
CHUNK = 100


def register(
    runtime: ServiceRuntime,
    tx: Transactions[OutreachRepository],
    repositories: Callable[[Session], OutreachRepository],
    registry: RegistryClient,
) -> SnapshotFollower:
    """``tx`` (no inbox) applies snapshots; escalations get units of work with the
    consumer's inbox, over the same ``repositories``."""
    escalations = runtime.transactions(repositories, inbox=GROUP)

    async def apply_snapshots(events: list[BaseModel]) -> None:
        await caches.SNAPSHOTS.handle_batch(tx, events)  # one transaction per batch

    roster = runtime.follow_snapshots([REGISTRY_WORKER, REGISTRY_HOUSEHOLD], apply_snapshots)

    async def ensure_households(household_ids: set[str]) -> None:
        """Tasks need the household's dong and people: if a snapshot has not reached the
        cache yet (the consumers race), ask the registry directly."""
        known = await tx.read(lambda repos: repos.known_households(household_ids))
        for household_id in sorted(household_ids - known):
            try:
                snapshot = await registry.household(household_id)
            except RegistryUnavailable:
                # Go on without it: the task is created without an area, goes to the duty
                # officer, and is offered again once the snapshot arrives.
                log.warning("registry unreachable; household not cached", household_id=household_id)
                continue
            if snapshot is not None:
                await caches.SNAPSHOTS.handle(tx, snapshot)

    async def handle(received: list[Received]) -> None:
        await roster.caught_up.wait()  # never assign from a cold roster
        events = [r.event for r in received if isinstance(r.event, EscalationEvent)]
        await ensure_households(
            {e.household_id for e in events if e.change is EscalationChange.STEP_EXECUTED}
        )
        for start in range(0, len(events), CHUNK):
            # One unit of work per chunk; each event once (the inbox, checked for the chunk).
            await ESCALATIONS.handle_batch(escalations, events[start : start + CHUNK])
            await asyncio.sleep(0)  # let the relay queue its turn on the database

    consumer = BatchConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=GROUP,
        topics=[DETECTOR_ESCALATION.name],
        handler=handle,
        producer=runtime.producer,
        max_records=2000,
        instance_id=runtime.common.instance_id,
    )
    runtime.declare_subscription(
        [DETECTOR_ESCALATION],
        EscalationEvent,
        title=GROUP,
        description="Protocol steps become tasks and messages; closed protocols cancel them.",
    )

    async def consume(stop: asyncio.Event) -> None:
        await consumer.run(stop)

    runtime.add_background("escalations", consume)
    return roster
