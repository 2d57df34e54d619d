"""Periodic jobs: the one stop-and-wait loop every service's background work runs in.

``every(interval, fn)`` turns an async ``fn() -> bool | int | None`` into a background task
for :meth:`ServiceRuntime.add_background`: it runs ``fn``, then waits ``interval`` seconds
or until stop is set. A failure is logged with the job's name and counted, and the loop goes
on (a gauge refresh that fails must not stop the sweep beside it, nor be silently
swallowed). When ``fn`` reports that it did work (a truthy result) and ``drain`` is set, it
runs again at once: more may be waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

from .logs import get_logger

log = get_logger(__name__)

JOB_FAILURES = Counter(
    "anbu_job_failures_total", "Periodic job runs that raised.", ["service", "job"]
)

Job = Callable[[], Awaitable[object]]
Background = Callable[[asyncio.Event], Awaitable[None]]


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` unless ``stop`` is set first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def every(
    interval: float | Callable[[], float],
    fn: Job,
    *,
    name: str,
    service: str = "",
    drain: bool = False,
    first: Callable[[], Awaitable[object]] | None = None,
    error_pause: float | None = None,
) -> Background:
    """A background task running ``fn`` every ``interval`` seconds until stop.

    ``interval`` may be a function (read each round: settings that change, clocks).
    ``first`` is awaited once before the first run (e.g. a follower catching up).
    After a failure the job waits ``error_pause`` (default: the interval).
    """

    def seconds() -> float:
        return interval() if callable(interval) else interval

    async def loop(stop: asyncio.Event) -> None:
        if first is not None:
            await first()
        while not stop.is_set():
            try:
                did_work = await fn()
            except asyncio.CancelledError:
                raise
            except Exception:
                JOB_FAILURES.labels(service, name).inc()
                log.exception("job failed; it runs again on its next round", job=name)
                await wait_or_stop(stop, error_pause if error_pause is not None else seconds())
                continue
            if drain and did_work:
                await asyncio.sleep(0)  # let others run between drained rounds
                continue
            await wait_or_stop(stop, seconds())

    loop.__name__ = f"every_{name}"
    return loop
