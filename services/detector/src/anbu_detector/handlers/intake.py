"""The consumer's batches: heartbeats in memory, everything else in one unit of work.

Heartbeats are most of the traffic (tens of thousands a second): they only move the
in-memory channel clocks, and the index's changes are written by ``flush`` (one
executemany) before offsets are committed. The other records of a batch — signals of
every other kind, household snapshots, outcomes — and the recoveries the heartbeats caused
are applied in ONE transaction, each through ``HANDLERS`` (a lookup by contract type).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from prometheus_client import Counter as MetricCounter
from prometheus_client import Histogram

from anbu_contracts import HeartbeatSignal, HouseholdSnapshot, OutcomeEvent, SignalKind
from anbu_runtime.batch import Received
from anbu_runtime.kafka import Tombstone, message_id
from anbu_runtime.uow import HandlerTable

from ..domain.monitor import Monitor
from ..domain.watch import Recovery
from .absence import on_recovery
from .households import on_household
from .protocols import on_outcome
from .signals import SIGNAL_HANDLERS, SIGNALS
from .unit import Stores, Uow

UNKNOWN = MetricCounter(
    "anbu_detector_unknown_household_signals_total",
    "Signals naming a household the registry never announced, by kind.",
    ["kind"],
)
LATENCY = Histogram(
    "anbu_detector_signal_latency_seconds",
    "From a signal's arrival on the broker to the commit of its effect.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

HANDLERS: HandlerTable[Stores] = HandlerTable(
    {HouseholdSnapshot: on_household, OutcomeEvent: on_outcome, **SIGNAL_HANDLERS}
)


@dataclass
class Sorted:
    """A batch after its heartbeats moved the index: what is left to apply durably."""

    records: list[Received] = field(default_factory=list)
    recoveries: list[Recovery] = field(default_factory=list)
    unknown: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    heartbeats: Counter[str] = field(default_factory=Counter)  # by partner

    @property
    def durable_work(self) -> bool:
        return bool(self.records or self.recoveries or self.unknown)


def take_heartbeats(monitor: Monitor, batch: list[Received], out: Sorted | None = None) -> Sorted:
    """Apply the batch's heartbeats to the index; keep the other records for the unit
    (added to ``out`` when given: a batch taken in slices)."""
    out = Sorted() if out is None else out
    households = monitor.households
    heartbeats = out.heartbeats
    for item in batch:
        event = item.event
        # The hot path, checked before the table: a heartbeat never opens a transaction.
        if isinstance(event, HeartbeatSignal):
            partner = event.partner_id
            heartbeats[partner] = heartbeats.get(partner, 0) + 1  # half of Counter's +=
            watch = households.get(event.household_id)
            if watch is None or watch.config is None:
                out.unknown[event.household_id][event.kind] += 1
            recovery = monitor.heartbeat(
                event.household_id,
                item.partition,
                event.channel,
                event.last_active_at,
                event.event_id,
                event.partner_id,
            )
            if recovery is not None:
                out.recoveries.append(recovery)
        else:
            out.records.append(item)
    return out


def households_of(work: Sorted) -> set[str] | None:
    """The households the batch's unit of work will touch; None if a record names none."""
    touched = set(work.unknown)
    touched.update(recovery.household_id for recovery in work.recoveries)
    for item in work.records:
        event = item.event
        if isinstance(event, Tombstone):
            continue
        household = getattr(event, "household_id", None)
        if not isinstance(household, str):
            return None  # cannot tell: claim them all
        touched.add(household)
    return touched


def apply(uow: Uow, work: Sorted) -> None:
    """Apply the records (each once: the inbox) and the recoveries, in this unit of work.

    Set-based: the batch's households are read in a few statements up front and the new
    alerts, escalations, steps and events of those with nothing open are written with one
    bulk insert per table at the end (``adapters/staging.py``); the inbox is checked and
    written for the whole batch at once."""
    repos = uow.repos
    repos.unknown = work.unknown
    households = households_of(work)
    if households is not None:
        repos.prefetch(households)
    # a compacted topic's deletion (a tombstone): nothing to detect
    records = [item for item in work.records if not isinstance(item.event, Tombstone)]
    first = uow.first_times([message_id(item.event) for item in records])
    for item, fresh in zip(records, first, strict=True):
        if fresh:
            repos.partition = item.partition
            HANDLERS.dispatch(item.event, uow)
    uow.caused_by(None)
    for recovery in work.recoveries:
        on_recovery(uow, recovery)
    repos.note_unknown({h: dict(k) for h, k in work.unknown.items()}, uow.now)
    uow.published += repos.write_staged()


def count(batch: list[Received], work: Sorted) -> None:
    """The batch's figures (after its commit)."""
    for partner, n in work.heartbeats.items():
        SIGNALS.labels(SignalKind.HEARTBEAT.value, partner).inc(n)
    for kinds in work.unknown.values():
        for kind, n in kinds.items():
            UNKNOWN.labels(kind).inc(n)
    done = time.time() * 1000
    for item in batch[:: max(len(batch) // 50, 1)]:  # a sample: observing every one costs
        LATENCY.observe(max(done - item.timestamp_ms, 0) / 1000)
