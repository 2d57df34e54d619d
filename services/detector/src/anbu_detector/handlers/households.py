"""Registry snapshots: what the detector keeps of a household, and what changes with it."""

from __future__ import annotations

from anbu_contracts import AlertResolution, HouseholdSnapshot, HouseholdStatus

from ..adapters.orm import watch_config
from .findings import resolve_absence, stand_down
from .unit import Uow


def on_household(snapshot: HouseholdSnapshot, uow: Uow) -> None:
    repos = uow.repos
    row = repos.save_household(snapshot, repos.partition)
    if row is None:
        return  # an older revision
    rules = repos.rules_for(row)
    config = watch_config(row, rules.absence)
    dropped = repos.monitor.configure(row.household_id, repos.partition, config, uow.now)
    # consent withdrawn or channel removed: stop at once
    repos.forget_channels(row.household_id, [channel.value for channel in dropped])
    if snapshot.status in (HouseholdStatus.MOVED, HouseholdStatus.CLOSED):
        stand_down(uow, row.household_id, snapshot.correlation_id)
    elif dropped:
        watch = repos.monitor.households.get(row.household_id)
        still = {c for c, k in (watch.channels.items() if watch else ()) if k.silent}
        if not still:
            resolve_absence(
                uow, row.household_id, AlertResolution.HOUSEHOLD_INACTIVE, only_recoverable=False
            )
