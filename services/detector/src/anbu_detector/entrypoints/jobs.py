"""The detector's periodic and timer-driven work (registered by bootstrap).

- ``sweep``: expire inactivity windows once a second, under the consumer's lock;
- ``figures``: refresh the gauges every few seconds (a failure is logged and counted by
  ``runtime.every``, never swallowed);
- :class:`StepFiring`: what protocol timers call; the timers a lookup claimed run together,
  a transaction per chunk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from anbu_runtime.batch import BatchConsumer
from anbu_runtime.logs import get_logger

from .. import metrics
from ..handlers import Detector, Stores

log = get_logger(__name__)

SWEEP_SECONDS = 1.0
FIGURES_SECONDS = 15.0


def sweep(detector: Detector, consumer: BatchConsumer) -> Callable[[], Awaitable[int]]:
    async def run() -> int:
        if not consumer.partitions:
            return 0
        async with consumer.lock:  # one writer of the index at a time
            return await detector.sweep()

    return run


def figures(detector: Detector) -> Callable[[], Awaitable[None]]:
    protocols = detector.setup.protocols

    def read(repos: Stores) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        return (
            repos.open_alerts_by_severity(),
            repos.running_by_protocol(),
            metrics.overdue_steps(repos.session, detector.clock),
        )

    async def run() -> None:
        metrics.publish_index(detector.monitor)
        by_severity, by_protocol, overdue = await detector.tx.read(read)
        metrics.publish_open(by_severity, by_protocol, protocols)
        metrics.publish_overdue(overdue, protocols)

    return run


class StepFiring:
    """Protocol timers going off: the ids a lookup claimed run together, in transactions of
    up to ``CHUNK`` escalations (a burst of due steps costs a commit per chunk, not one
    each, and the consumer's batches get the lock between chunks)."""

    CHUNK = 1000

    def __init__(self, detector: Detector, consumer: BatchConsumer) -> None:
        self.detector = detector
        self.consumer = consumer
        self.due: list[str] = []

    async def __call__(self, escalation_ids: list[str]) -> None:
        if not self.consumer.caught_up:
            # After a restart, apply the backlog (an outcome may have closed the protocol
            # while the detector was down) before overdue steps run: try again shortly.
            for escalation_id in escalation_ids:
                await self.detector.defer(escalation_id)
            return
        # Timers claimed while another firing holds the lock wait in ``due``; whoever gets
        # the lock next runs them, a chunk per transaction.
        self.due += escalation_ids
        while self.due:
            async with self.consumer.lock:  # one writer of the detector's state at a time
                ids = list(dict.fromkeys(self.due[: self.CHUNK]))
                del self.due[: self.CHUNK]
                if ids:
                    await self._fire(ids)

    async def _fire(self, ids: list[str]) -> None:
        """Run the chunk; if its transaction fails, each alone, and re-arm (in a second)
        the timers of those that fail alone: a claimed timer is no longer in its store."""
        try:
            await self.detector.fire_many(ids)
            return
        except Exception:
            log.exception("protocol steps failed together", count=len(ids))
        for escalation_id in ids:
            try:
                await self.detector.fire_many([escalation_id])
            except Exception:
                log.exception("protocol step failed", escalation_id=escalation_id)
                await self.detector.defer(escalation_id)
