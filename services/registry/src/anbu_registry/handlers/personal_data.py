"""Reading a household's personal data: allowed to its area's officials and to a team
holding an accepted task, and audited every time."""

from __future__ import annotations

from anbu_contracts import (
    Locale,
)
from anbu_runtime.auth import Principal

from ..adapters.orm import (
    HouseholdRow,
)
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..domain.model import (
    PersonView,
    Relation,
)
from .common import audit, require


def _has_grant(
    repos: Repositories, principal: Principal, household_id: str
) -> tuple[bool, str | None]:
    if principal.worker_id is None:
        return False, None
    grant = repos.open_grant(principal.worker_id, household_id)
    return grant is not None, str(grant.task_id) if grant else None


def _pii_allowed(repos: Repositories, principal: Principal, row: HouseholdRow, purpose: str) -> str:
    granted, task_id = _has_grant(repos, principal, row.household_id)
    require(
        access.can_read_personal_data(principal, row.dong_code, granted),
        "personal data is shown only to office staff of the area or through an accepted task",
    )
    return (
        f"task {task_id}: {purpose}"
        if task_id and not principal.has_role(*access.OFFICE_ROLES)
        else purpose
    )


def people(uow: UoW, household_id: str, principal: Principal, purpose: str) -> list[PersonView]:
    row = uow.repos.household(household_id)
    why = _pii_allowed(uow.repos, principal, row, purpose)
    found = uow.repos.people(household_id)
    audit(uow, principal, "pii.read.people", household_id, why, {"count": len(found)})
    cipher = uow.repos.cipher
    return [
        PersonView(
            person_id=p.person_id,
            relation=Relation(p.relation),
            name=cipher.open(p.name_enc, context="person.name"),
            phone=cipher.open(p.phone_enc, context="person.phone") if p.phone_enc else None,
            email=cipher.open(p.email_enc, context="person.email") if p.email_enc else None,
            locale=Locale(p.locale),
            preferred_channel=p.preferred_channel,
            contact_hours=p.contact_hours,
        )
        for p in found
    ]


def address(uow: UoW, household_id: str, principal: Principal, purpose: str) -> str | None:
    row = uow.repos.household(household_id)
    why = _pii_allowed(uow.repos, principal, row, purpose)
    audit(uow, principal, "pii.read.address", household_id, why)
    return (
        uow.repos.cipher.open(row.address_enc, context="household.address")
        if row.address_enc
        else None
    )
