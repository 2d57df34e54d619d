"""The dispatcher: a background task that delivers whatever is due, on the service clock.

It claims due requests (new ones, ones resumed after a restart, routine messages whose
quiet hours have ended, fallbacks a receipt asked for) and delivers up to ``concurrency``
of them at once. It wakes when a request is accepted, and otherwise looks every
``poll_s`` seconds, so a message held until 07:00 goes at 07:00 on whatever clock the
service runs (the accelerated one in demos, a manual one in tests).
"""

from __future__ import annotations

import asyncio

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
    ) -> None:
        self.notifier = notifier
        self.concurrency = max(concurrency, 1)
        self.poll_s = poll_s
        self.drain_s = drain_s

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then let in-flight sends finish for a moment."""
        released = await self.notifier.release_own_claims()
        if released:
            log.info("resuming requests this instance held before a restart", count=released)
        wake = self.notifier.work_available
        running: set[asyncio.Task[None]] = set()
        try:
            while not stop.is_set():
                wake.clear()
                free = self.concurrency - len(running)
                keys = await self.notifier.claim_due(free)
                for key in keys:
                    task = asyncio.create_task(self._deliver(key), name=f"deliver:{key}")
                    running.add(task)
                    task.add_done_callback(running.discard)
                if keys and len(keys) == free:  # full: claim again once a quarter is free,
                    # so claims stay batches instead of one transaction per finished send
                    refill = max(1, self.concurrency // 4)
                    deadline = asyncio.get_running_loop().time() + self.poll_s
                    while self.concurrency - len(running) < refill and not stop.is_set():
                        left = deadline - asyncio.get_running_loop().time()
                        if left <= 0:
                            break
                        await _wait_any(left, [stop], running)
                elif not keys:
                    await _wait_any(self.poll_s, [stop, wake], set())
        finally:
            if running:
                await asyncio.wait(running, timeout=self.drain_s)

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


async def _wait_any(
    seconds: float, events: list[asyncio.Event], tasks: set[asyncio.Task[None]]
) -> None:
    """Return when one of ``events`` is set or one of ``tasks`` ends, or after ``seconds``."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait([*waiters, *tasks], timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
