"""Live updates: changes folded by the consumer, fanned out to every open page (SSE)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

from ..domain.changes import Change

QUEUE_SIZE = 256


class Hub:
    """In-process fan-out. A slow page loses the oldest news, never blocks the consumer."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Change]] = set()

    @property
    def listeners(self) -> int:
        return len(self._queues)

    def publish(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for queue in self._queues:
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(change)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Change]]:
        queue: asyncio.Queue[Change] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)
