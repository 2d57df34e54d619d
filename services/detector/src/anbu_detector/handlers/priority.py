"""The priority lane goes first: the bulk side steps aside at its next slice while it works.

The lane and the bulk consumer share one process, one event loop and (on SQLite) one
database writer. Giving the loop back between slices is not enough when the process is
busy: the lane's SOS needs a dozen turns of the loop (its fetch, its unit of work in a
thread, the commit of its offsets, the outbox relay's claim and send), and under a
heartbeat backlog each turn waited for a slice of bulk work — py-spy showed the loop busy
~94 % of the time at 10,000 heartbeats/s on a loaded machine. So the bulk side's slice
boundaries are :meth:`Priority.turn`: they yield, and while the lane has a batch in flight
(:meth:`Priority.urgent`, from its fetch returning to its offsets committed) they wait for
it to finish. The lane's batches are small and rare (SOS, reports, disconnections), so
the bulk loses little; nothing the bulk holds while it waits (no claim, no transaction,
no lock the lane takes) can block the lane, so they cannot deadlock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Priority:
    def __init__(self) -> None:
        self._urgent = 0
        self._clear = asyncio.Event()
        self._clear.set()

    @asynccontextmanager
    async def urgent(self) -> AsyncIterator[None]:
        """Held by the lane while a batch of it is in flight: the bulk waits at its turns."""
        self._urgent += 1
        self._clear.clear()
        try:
            yield
        finally:
            self._urgent -= 1
            if not self._urgent:
                self._clear.set()

    async def turn(self) -> None:
        """A slice boundary of bulk work: give the loop back, and let urgent work finish."""
        await asyncio.sleep(0)
        if not self._clear.is_set():
            await self._clear.wait()

    @property
    def busy(self) -> bool:
        return self._urgent > 0
