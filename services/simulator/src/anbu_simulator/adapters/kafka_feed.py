"""Producing simulated partner records to the real signal topics, paced on a clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.clock import Clock
from anbu_runtime.kafka import RecordProducer
from anbu_runtime.outbox import OutgoingRecord

from ..domain.simulation import Flaw, Observation


def record_of(obs: Observation) -> OutgoingRecord:
    """The Kafka record a partner producing straight to ``signals.<kind>.v1`` would write."""
    headers = {"source": obs.partner_id}
    if obs.flaw is not Flaw.MALFORMED:
        headers |= {"type": f"signal.{obs.kind.value}", "event_id": str(obs.event_id)}
    return OutgoingRecord(
        SIGNAL_TOPICS[obs.kind].name, obs.household_id.encode(), obs.value(), headers
    )


class KafkaFeed:
    """Sends observations as records through the runtime's idempotent producer."""

    def __init__(self, producer: RecordProducer) -> None:
        self.producer = producer
        self.sent: Counter[str] = Counter()

    async def send(self, batch: list[Observation]) -> None:
        await self.producer.send_batch([record_of(o) for o in batch])
        for obs in batch:
            self.sent[obs.flaw.value if obs.flaw else obs.kind.value] += 1


async def play(
    observations: Iterable[Observation],
    clock: Clock,
    feed: KafkaFeed,
    *,
    batch_max: int = 500,
    tick: Callable[[datetime], None] | None = None,
) -> None:
    """Send each observation when ``clock`` reaches its delivery time (in batches).

    Observations already due (the clock ahead of the simulation) go at once.
    """
    pending: list[Observation] = []
    for obs in observations:
        while obs.deliver_at > clock.now():
            if pending:
                await feed.send(pending)
                pending = []
            now = clock.now()
            if tick is not None:
                tick(now)
            # wake at least once a real second (progress reports)
            await clock.sleep_until(min(obs.deliver_at, now + _one_real_second(clock)))
        pending.append(obs)
        if len(pending) >= batch_max:
            await feed.send(pending)
            pending = []
    if pending:
        await feed.send(pending)


def _one_real_second(clock: Clock) -> timedelta:
    """How much simulated time passes in one real second on ``clock``."""
    return timedelta(seconds=1 / max(clock.real_seconds(timedelta(seconds=1)), 1e-6))
