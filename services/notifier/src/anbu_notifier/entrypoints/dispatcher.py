"""The dispatcher: a background job that delivers whatever is due, on the service clock.

It claims due requests (new ones, ones resumed after a restart, routine messages whose
quiet hours have ended, fallbacks a receipt asked for) and delivers up to ``concurrency``
of them at once. Each round runs under the runtime's :func:`anbu_runtime.jobs.every` (which
logs and counts a failed round and goes on): it claims into the free slots, starts the
sends, and waits until there is room for a batch again (a quarter of the slots, so claims
stay batches instead of one transaction per finished send), a request is accepted, or
``poll_s`` passes — so a message held until 07:00 goes at 07:00 on whatever clock the
service runs (the accelerated one in demos, a manual one in tests).
"""

from __future__ import annotations

import asyncio

from anbu_runtime.jobs import every, wait_or_stop
from anbu_runtime.logs import get_logger

from ..handlers import Notifier

log = get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        notifier: Notifier,
        *,
        concurrency: int = 32,
        poll_s: float = 1.0,
        drain_s: float = 4.0,
        service: str = "notifier",
    ) -> None:
        self.notifier = notifier
        self.concurrency = max(concurrency, 1)
        self.poll_s = poll_s
        self.drain_s = drain_s
        self.service = service
        self._running: set[asyncio.Task[None]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let in-flight sends finish for a moment."""
        # The wait for room or work is inside the round (``every`` waits on stop alone), so
        # the job runs rounds back to back; after a failed round it pauses ``poll_s``.
        job = every(
            0.0,
            self.round,
            name="dispatcher",
            service=self.service,
            first=self.resume,
            error_pause=self.poll_s,
        )
        try:
            await job(stop)
        finally:
            await self.drain()

    async def resume(self) -> None:
        released = await self.notifier.release_own_claims()
        if released:
            log.info("resuming requests this instance held before a restart", count=released)

    async def round(self) -> int:
        """Claim what is due into the free slots, start delivering it, and wait for room
        or work; returns how many requests were claimed."""
        wake = self.notifier.work_available
        wake.clear()
        free = self.concurrency - len(self._running)
        keys = await self.notifier.claim_due(free)
        for key in keys:
            task = asyncio.create_task(self._deliver(key), name=f"deliver:{key}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if keys and len(keys) == free:  # full: claim again once a quarter is free
            refill = max(1, self.concurrency // 4)
            deadline = asyncio.get_running_loop().time() + self.poll_s
            while self.concurrency - len(self._running) < refill:
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await asyncio.wait(self._running, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        elif not keys:
            await wait_or_stop(wake, self.poll_s)  # an accepted request wakes it
        return len(keys)

    async def drain(self) -> None:
        """Give the sends in flight ``drain_s`` to finish (their claims are leases: what
        does not finish is taken up again after a restart)."""
        if self._running:
            await asyncio.wait(self._running, timeout=self.drain_s)

    async def run_once(self, max_rounds: int = 100) -> int:
        """Deliver everything due now and return how many requests were handled (tests,
        benchmarks and tools drive the dispatcher with this instead of the loop)."""
        handled = 0
        for _ in range(max_rounds):
            keys = await self.notifier.claim_due(self.concurrency)
            if not keys:
                break
            await asyncio.gather(*(self._deliver(k) for k in keys))
            handled += len(keys)
        return handled

    async def _deliver(self, key: str) -> None:
        try:
            await self.notifier.deliver(key)
        except Exception:
            # Not swallowed: logged, and the request is held and retried (Timing.error_hold).
            log.exception("delivery failed unexpectedly; will retry", request_key=key)
