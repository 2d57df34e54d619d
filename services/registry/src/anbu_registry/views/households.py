"""Reading households: one snapshot, and the search the console and field app page through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from anbu_contracts import (
    HouseholdSnapshot,
    HouseholdStatus,
    Tier,
)
from anbu_runtime.auth import Principal

from ..adapters.events import household_snapshot
from ..adapters.orm import (
    HouseholdRow,
    PersonRow,
)
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..handlers.common import audit, require
from ..handlers.households import snapshot


@dataclass
class Page:
    items: list[HouseholdSnapshot]
    next_cursor: str | None
    total: int | None


def get(
    repos: Repositories, household_id: str, principal: Principal, now: datetime
) -> HouseholdSnapshot:
    row = repos.household(household_id)
    require(
        access.can_read_household(principal, row.dong_code),
        f"household {household_id} is outside your area",
    )
    return snapshot(repos, row, now)


def search(
    uow: UoW,
    principal: Principal,
    *,
    dong_code: str | None = None,
    district_code: str | None = None,
    tier: Tier | None = None,
    status: HouseholdStatus | None = None,
    phone: str | None = None,
    after: str | None = None,
    limit: int = 50,
    with_total: bool = False,
) -> Page:
    """Households in the caller's area matching the filters, by id, ``limit`` at a time."""
    query = select(HouseholdRow)
    if not principal.is_admin:
        if principal.role is not None and principal.role.value == "operator":
            query = query.where(col(HouseholdRow.district_code).in_(principal.district_codes))
        else:
            query = query.where(col(HouseholdRow.dong_code).in_(principal.dong_codes))
    if dong_code:
        query = query.where(HouseholdRow.dong_code == dong_code)
    if district_code:
        query = query.where(HouseholdRow.district_code == district_code)
    if tier:
        query = query.where(HouseholdRow.tier == tier.value)
    if status:
        query = query.where(HouseholdRow.status == status.value)
    if phone:
        index = uow.repos.cipher.blind_index(phone, kind="phone")
        owners = select(PersonRow.household_id).where(PersonRow.phone_index == index)
        query = query.where(col(HouseholdRow.household_id).in_(owners))
        audit(uow, principal, "household.search_by_phone", "phone", "lookup")
    # Counting every match is the expensive part of a search: only on request.
    total = (
        uow.session.exec(select(func.count()).select_from(query.subquery())).one()
        if with_total
        else None
    )
    if after:
        query = query.where(HouseholdRow.household_id > after)
    rows = uow.session.exec(query.order_by(col(HouseholdRow.household_id)).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    now = uow.now
    relations: dict[str, set[str]] = {r.household_id: set() for r in rows}
    if rows:  # one query for the people of the whole page, not one per household
        for household_id, relation in uow.session.exec(
            select(PersonRow.household_id, PersonRow.relation).where(
                col(PersonRow.household_id).in_(list(relations))
            )
        ):
            relations[household_id].add(relation)
    return Page(
        items=[household_snapshot(r, relations[r.household_id], now) for r in rows],
        next_cursor=rows[-1].household_id if more and rows else None,
        total=int(total) if total is not None else None,
    )
