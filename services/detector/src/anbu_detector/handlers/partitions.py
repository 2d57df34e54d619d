"""Partition ownership: the in-memory index of the partitions this instance owns.

A partition assigned to this instance is indexed from durable state (its households'
watch configurations and channel clocks); one taken away is written back and forgotten.
"""

from __future__ import annotations

from ..adapters.orm import watch_config
from .absence import dirty_rows, restore_channel
from .unit import Uow


def index(uow: Uow, partitions: set[int]) -> tuple[int, int]:
    """Index the households and channel clocks of ``partitions``; (households, channels).

    Rows are streamed and indexed as they come (plain rows, not ORM objects: cheaper), so a
    million households never sit in memory as rows at once.
    """
    repos = uow.repos
    monitor = repos.monitor
    defaults = repos.setup.catalog.default.absence.windows_hours
    configured: list[tuple[str, int]] = []
    for row in repos.indexed_households(partitions):
        watch = monitor.watch(row.household_id, row.partition)
        watch.config = watch_config(row, repos.rules_for(row).absence, defaults)
        configured.append((row.household_id, row.partition))
    channels = 0
    for state in repos.channel_clocks(partitions):
        restore_channel(monitor, state, uow.now)
        channels += 1
    for household_id, partition in configured:  # enrolled, never persisted: start now
        watch = monitor.households[household_id]
        if watch.config and any(c not in watch.channels for c in watch.config.windows):
            monitor.configure(household_id, partition, watch.config, uow.now)
    return len(configured), channels


def flush(uow: Uow) -> None:
    """Write every channel clock ahead of its durable copy, however little (partitions
    let go, a clean stop: the next owner or the restart recovers them exactly)."""
    uow.repos.monitor.settle_lagging()
    uow.repos.upsert_channels(dirty_rows(uow.repos.monitor))
