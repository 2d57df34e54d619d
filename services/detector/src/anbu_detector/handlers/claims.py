"""Which households a unit of work in flight holds, so that two lanes never interleave on one.

The detector has two consumers in one process — the bulk consumer (heartbeats, snapshots,
outcomes, most signal kinds) and the priority lane (SOS, reports, disconnections) — and
both may touch one household's alerts and escalations. Each unit of work reads, decides and
writes (``open_alert`` → ``save_alert``), so two transactions on the same household at once
could both see no open alert and both open one (PostgreSQL, READ COMMITTED; SQLite runs
one writer at a time and is safe anyway). A unit of work therefore claims the households
it will touch before it starts, and waits only if another unit in flight holds one of
them: the lane never waits for a bulk batch about other households. Work whose households
are not known before it reads (protocol timers, people acting over HTTP) claims every
household; it waits for the units in flight and new claims wait for it (so it cannot be
starved by a stream of small ones). Claims are taken all at once, never one after
another, so two units cannot deadlock.

Claims are per process: the lane follows the bulk consumer's partition assignment, so one
instance owns every event of a household at a time and no other process writes it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

EVERY = None  # a claim on every household


class Claims:
    def __init__(self) -> None:
        self._held: set[str] = set()
        self._whole = False  # a unit holds every household
        self._whole_waiting = 0
        self._changed = asyncio.Condition()

    def _free(self, households: frozenset[str] | None) -> bool:
        if self._whole:
            return False
        if households is None:
            return not self._held
        return self._whole_waiting == 0 and self._held.isdisjoint(households)

    @asynccontextmanager
    async def hold(self, households: Iterable[str] | None) -> AsyncIterator[None]:
        """Hold ``households`` (``EVERY``: all of them) while the block runs."""
        wanted = None if households is None else frozenset(households)
        async with self._changed:
            if wanted is None:
                self._whole_waiting += 1
                try:
                    await self._changed.wait_for(lambda: self._free(None))
                finally:
                    self._whole_waiting -= 1
                self._whole = True
            else:
                await self._changed.wait_for(lambda: self._free(wanted))
                self._held |= wanted
        try:
            yield
        finally:
            async with self._changed:
                if wanted is None:
                    self._whole = False
                else:
                    self._held -= wanted
                self._changed.notify_all()

    @property
    def held(self) -> set[str]:
        return set(self._held)  # for tests and figures
