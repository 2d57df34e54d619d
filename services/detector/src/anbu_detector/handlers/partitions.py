"""Partition ownership: the in-memory index of the partitions this instance owns.

A partition assigned to this instance is indexed from durable state (its households'
watch configurations and channel clocks); one taken away is written back and forgotten.
"""

from __future__ import annotations

import gc
from typing import Any

from anbu_contracts import MonitoringChannel

from ..adapters.orm import rhythm_of, watch_config
from ..domain.watch import HouseholdWatch, WatchConfig, epoch_seconds
from .absence import dirty_rows
from .unit import Uow

_CHANNELS = {c.value: c for c in MonitoringChannel}


def index(uow: Uow, partitions: set[int]) -> tuple[int, int]:
    """Index the households and channel clocks of ``partitions``; (households, channels).

    Rows are streamed in chunks of plain driver tuples and indexed as they come, so a
    million households never sit in memory as rows at once. A household's configuration
    is decoded once per distinct stored form (its fields but the id and partition): a
    million households share a handful, and decoding each row (its JSON, its times, its
    rules) was a fifth of a restart (py-spy). The collector is off meanwhile: the load
    makes millions of long-lived objects, and each full collection it set off walked all
    those made before; they are frozen once made, as ``load_partitions`` would.
    """
    repos = uow.repos
    monitor = repos.monitor
    defaults = repos.setup.catalog.default.absence.windows_hours
    configs: dict[tuple[Any, ...], WatchConfig] = {}
    loaded: list[HouseholdWatch] = []
    collecting = gc.isenabled()
    gc.disable()
    try:
        for rows in repos.indexed_households(partitions):
            for raw in rows:
                key = raw[2:]
                config = configs.get(key)
                if config is None:
                    row = repos.typed_household(raw)
                    rule = repos.rules_for(row).absence
                    config = configs[key] = watch_config(row, rule, defaults)
                watch = monitor.watch(raw[0], raw[1])
                watch.config = config
                loaded.append(watch)
        channels = 0
        now = epoch_seconds(uow.now)
        restore = monitor.restore_seconds
        for rows in repos.channel_clocks(partitions):
            for household_id, partition, channel, seen, silent, *learned in rows:
                rhythm = rhythm_of(*learned)
                channel_of = _CHANNELS[channel]
                restore(household_id, partition, channel_of, seen, bool(silent), rhythm, now)
            channels += len(rows)
        for watch in loaded:  # enrolled, never persisted: start now
            config = watch.config
            if config and any(c not in watch.channels for c in config.windows):
                monitor.configure(watch.household_id, watch.partition, config, uow.now)
        # Out of the collector's reach at once, as ``load_partitions`` leaves them after its
        # collection: that collection then walks only what is not frozen. It walked every
        # object the load made (five a household), a third of a restart's CPU (py-spy);
        # the load's own garbage is acyclic (plain tuples, freed by reference counting).
        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    return len(loaded), channels


def flush(uow: Uow) -> None:
    """Write every channel clock ahead of its durable copy, however little (partitions
    let go, a clean stop: the next owner or the restart recovers them exactly)."""
    uow.repos.monitor.settle_lagging()
    uow.repos.upsert_channels(dirty_rows(uow.repos.monitor))
