"""The registry's household snapshots: the newest revision wins."""

from __future__ import annotations

from anbu_contracts import HouseholdSnapshot

from ..adapters.orm import HouseholdView
from .common import Uow


def on_household(event: HouseholdSnapshot, uow: Uow) -> None:
    row = uow.repos.get(HouseholdView, event.household_id)
    if row is not None and row.revision >= event.revision:
        return
    row = row or HouseholdView(
        household_id=event.household_id, revision=0, dong_code="", tier="", status=""
    )
    row.revision, row.district_code, row.dong_code = (
        event.revision,
        event.district_code,
        event.dong_code,
    )
    row.tier, row.status, row.programme = event.tier.value, event.status.value, event.programme
    uow.repos.add(row)
