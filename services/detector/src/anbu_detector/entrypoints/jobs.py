"""The detector's periodic and timer-driven work (registered by bootstrap).

- ``sweep``: expire inactivity windows once a second, under the consumer's lock;
- ``figures``: refresh the gauges every few seconds (a failure is logged and counted by
  ``runtime.every``, never swallowed);
- :class:`StepFiring`: what a protocol timer calls; timers that go off together run in one
  transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from anbu_runtime.batch import BatchConsumer

from .. import metrics
from ..handlers import Detector, Stores

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
    """Protocol timers going off: a burst of due steps costs one commit, not one each."""

    def __init__(self, detector: Detector, consumer: BatchConsumer) -> None:
        self.detector = detector
        self.consumer = consumer
        self.due: list[str] = []

    async def __call__(self, escalation_id: str) -> None:
        if not self.consumer.caught_up:
            # After a restart, apply the backlog (an outcome may have closed the protocol
            # while the detector was down) before overdue steps run: try again shortly.
            await self.detector.defer(escalation_id)
            return
        # Timers that go off while another firing holds the lock wait in ``due``; whoever
        # gets the lock next runs them all in one transaction.
        self.due.append(escalation_id)
        async with self.consumer.lock:  # one writer of the detector's state at a time
            if not self.due:
                return  # an earlier caller ran this one
            ids = list(dict.fromkeys(self.due))
            self.due.clear()
            await self.detector.fire_many(ids)
