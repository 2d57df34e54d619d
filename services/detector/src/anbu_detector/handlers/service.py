"""The detector's service object: each piece of work as one unit of work, and what follows.

Work arrives five ways — a batch from the bulk consumer, a batch from the priority lane
(life-safety kinds, ``handle_urgent``), a sweep of inactivity deadlines, protocol timers,
people acting over HTTP — and each runs the ``on_x``/use-case functions
of this package inside one transaction (``Transactions.run``), with its events staged in
the outbox in that same transaction. Protocol timers the unit asked for are set only after
the commit. Callers but the lane hold the bulk consumer's lock (one writer of the in-memory
index; the lane never touches it); every unit claims the households it touches
(``claims.py``), so the lane and the rest never interleave on one household.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar
from uuid import UUID

from sqlmodel import Session

from anbu_contracts import ApprovalRecord
from anbu_runtime.batch import Received
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import Transactions

from .. import metrics
from ..adapters.index_store import ChannelClockRow
from ..adapters.timers import StepTimers
from ..domain.monitor import Monitor
from ..domain.protocols import Escalation
from . import absence, findings, intake, partitions, protocols
from .claims import EVERY, Claims
from .priority import Priority
from .unit import Setup, Stores, Uow

log = get_logger(__name__)
T = TypeVar("T")
FLUSH_SLICE = 2000  # channel clocks per flush transaction
SLICE = 500  # heartbeats applied to the index between two yields to the event loop
GC_YOUNG = 20_000  # allocations between young collections (Python's default: 700)


def _upsert(rows: list[ChannelClockRow], uow: Uow) -> None:
    uow.repos.upsert_channels(rows)


def repositories(setup: Setup) -> Callable[[Session], Stores]:
    """The ``uow.repos`` factory for ``Transactions`` (one bundle per unit of work)."""
    return lambda session: Stores(session, setup)


class Detector:
    def __init__(
        self, setup: Setup, tx: Transactions[Stores], timers: StepTimers | None = None
    ) -> None:
        self.setup = setup
        self.tx = tx
        self.clock = tx.clock
        self.timers = timers
        self.claims = Claims()
        self.priority = Priority()  # the lane first (``priority.py``)

    @property
    def monitor(self) -> Monitor:
        return self.setup.monitor

    async def run(self, fn: Callable[[Uow], T], households: Iterable[str] | None = EVERY) -> T:
        """Run ``fn`` in one unit of work holding ``households`` (by default all of them);
        the protocol timers it changed are set after it."""

        def work(uow: Uow) -> T:
            result = fn(uow)
            tally = uow.repos.tally
            if tally:
                uow.after_commit(tally.log)
            timers = uow.repos.timers
            if timers and self.timers is not None:
                uow.after_commit(lambda: self._set_timers(timers))
            return result

        async with self.claims.hold(households):
            return await self.tx.run(work)

    async def _set_timers(self, changes: dict[UUID, tuple[int, datetime | None]]) -> None:
        assert self.timers is not None
        items = [(escalation_id, p, due) for escalation_id, (p, due) in changes.items()]
        await asyncio.to_thread(self.timers.set_many, items)  # the job store's writes block

    # -- the consumer's batches -------------------------------------------------------

    async def handle(self, batch: list[Received]) -> None:
        """Apply a batch. Heartbeats only touch the in-memory index (``flush`` makes them
        durable before their offsets are committed); everything else commits here.

        The heartbeats in slices of ``SLICE``, giving the event loop back between them (and
        waiting while the lane has a batch in flight): a batch of 10,000 held it for tens
        of milliseconds, and the lane's SOS waited."""
        work = intake.Sorted()
        for start in range(0, len(batch), SLICE):
            intake.take_heartbeats(self.setup.monitor, batch[start : start + SLICE], work)
            await self.priority.turn()
        if work.durable_work:
            await self.run(lambda uow: intake.apply(uow, work), intake.households_of(work))
        intake.count(batch, work)

    async def handle_urgent(self, batch: list[Received]) -> None:
        """Apply a batch of the priority lane (life-safety kinds: no heartbeats) at once.

        Its own consumer, lock and transaction: it waits for no heartbeat batch and no
        flush, only for a unit of work in flight on one of its households."""
        work = intake.Sorted(records=batch)
        await self.run(lambda uow: intake.apply(uow, work), intake.households_of(work))
        intake.count(batch, work)

    async def flush(self) -> None:
        """Make the index's changes durable (called before offsets are committed).

        In slices of ``FLUSH_SLICE`` rows, each built on the event loop only when its turn
        comes and written in a transaction of its own: on SQLite every write waits for the
        single writer, and a lane's alert queued behind a flush of a metropolitan backlog
        would wait for all of it. Offsets are committed only after the last slice, so a
        crash between slices re-reads the heartbeats (idempotent)."""
        for rows in absence.dirty_slices(self.setup.monitor, FLUSH_SLICE):
            await self.priority.turn()
            if rows:
                await self.tx.run(partial(_upsert, rows))

    # -- absence ----------------------------------------------------------------------

    async def sweep(self) -> int:
        """Expire the inactivity windows that ended; returns how many channels fell silent."""
        monitor = self.setup.monitor
        now = self.clock.now()
        expired = []
        for household_id, channel in monitor.due(now):
            expiry = monitor.expire(household_id, channel, now)
            if expiry is not None:
                expired.append(expiry)
        if not expired and not monitor.dirty:
            return 0
        if expired:
            households = {expiry.household_id for expiry in expired}
            clocks = absence.clock_rows(monitor, households)
            try:
                await self.run(lambda uow: absence.on_expiries(uow, expired, clocks), households)
            except Exception:
                for expiry in expired:  # not durable: they will expire again next sweep
                    monitor.unsilence(expiry.household_id, expiry.channel)
                raise
        # The rest of the index's changes as the consumer's flush writes them: in slices,
        # stepping aside for the lane. (Written in the sweep's one transaction, they were
        # a second unsliced flush every second under a backlog, ahead of the lane's SOS.)
        await self.flush()
        return len(expired)

    # -- protocol timers --------------------------------------------------------------

    async def fire(self, escalation_id: str) -> None:
        """A protocol timer went off: run the steps that are due now."""
        await self.fire_many([escalation_id])

    async def fire_many(self, escalation_ids: Sequence[str]) -> None:
        """Timers that went off together: their due steps run in one transaction."""
        await self.run(lambda uow: protocols.run_due_steps(uow, list(escalation_ids)))

    async def defer(self, escalation_id: str, seconds: float = 1.0) -> None:
        """Fire this escalation's timer again in ``seconds`` of real time."""
        timers = self.timers
        if timers is None:
            return

        def read(repos: Stores) -> tuple[int, datetime | None] | None:
            row = repos.escalation_row(UUID(escalation_id))
            return (row.partition, row.next_due_at) if row else None

        found = await self.tx.read(read)
        if found is None or found[1] is None:
            return
        speed = float(getattr(self.clock, "speed", 1.0))
        soon = self.clock.now() + timedelta(seconds=seconds * speed)
        await asyncio.to_thread(timers.set, UUID(escalation_id), found[0], soon)

    # -- people acting on the detector (HTTP) -----------------------------------------

    async def resolve_by_operator(self, alert_id: UUID, actor: str) -> bool:
        return await self.run(lambda uow: findings.resolve_by_operator(uow, alert_id, actor))

    async def record_approval(self, escalation_id: UUID, approval: ApprovalRecord) -> Escalation:
        """Record who asked, who approved, who was present; a waiting step runs at once."""
        return await self.run(lambda uow: protocols.record_approval(uow, escalation_id, approval))

    # -- partitions -------------------------------------------------------------------

    async def load_partitions(self, assigned: set[int]) -> None:
        """Rebuild the in-memory index for newly assigned partitions from durable state.

        In a thread (the unit of work), so the event loop keeps the consumer's group
        heartbeat going; the batch consumer's lock keeps every other writer out meanwhile.
        """
        started = time.perf_counter()
        households, channels = await self.tx.run(lambda uow: partitions.index(uow, assigned))
        if self.timers is not None:
            self.timers.add_partitions(assigned)
            await self._reconcile_timers(assigned)
        metrics.publish_index(self.setup.monitor)
        # The index is millions of long-lived objects at a metropolitan size; every full
        # collection walked them all (~50 ms a 100,000 households on a quiet core, longer
        # under load: a stall of the loop the lane's SOS waits behind). Frozen, the
        # collector leaves what exists now alone (collected first, so no garbage is kept);
        # reference counting still frees it.
        gc.collect()
        gc.freeze()
        # A batch's unit of work holds thousands of short-lived objects (ORM rows, events)
        # until its commit: collected every 700 allocations, they survived into the oldest
        # generation and set off full collections — a fifth of an alert storm's CPU
        # (gc.callbacks: 12 full collections, 0.55 s, in a 5,000-alert storm). Young
        # collections every 20,000 find them freed by reference counting instead.
        gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
        log.info(
            "partitions loaded",
            partitions=sorted(assigned),
            households=households,
            channels=channels,
            seconds=round(time.perf_counter() - started, 2),
        )

    async def _reconcile_timers(self, assigned: set[int]) -> None:
        """Every running escalation of these partitions has its timer (a crash may lose one)."""
        assert self.timers is not None
        timers = self.timers
        running = await self.tx.read(lambda repos: repos.running_due(assigned))

        def restore() -> int:
            scheduled = {p: timers.scheduled(p) for p in assigned}
            missing = [
                (escalation_id, partition, due)
                for escalation_id, partition, due in running
                if due is not None and str(escalation_id) not in scheduled[partition]
            ]
            timers.set_many(missing)
            return len(missing)

        restored = await asyncio.to_thread(restore)
        if restored:
            log.warning("protocol timers restored", count=restored)

    async def drop_partitions(self, revoked: set[int]) -> None:
        await self.tx.run(partitions.flush)
        self.setup.monitor.forget_partitions(revoked)
        if self.timers is not None:
            self.timers.remove_partitions(revoked)
        metrics.publish_index(self.setup.monitor)
