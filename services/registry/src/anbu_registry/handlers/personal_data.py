"""Reading a household's personal data: allowed to its area's officials and to a team
holding an accepted task, and audited every time."""

from __future__ import annotations

from sqlmodel import Session, col, select

from anbu_contracts import (
    Locale,
)
from anbu_runtime.auth import Principal

from ..adapters.orm import (
    HouseholdRow,
    PersonRow,
    TaskGrantRow,
)
from ..domain import access
from ..domain.model import (
    PersonView,
    Relation,
)
from .common import Context, require
from .households import household_row


def _has_grant(
    session: Session, principal: Principal, household_id: str
) -> tuple[bool, str | None]:
    if principal.worker_id is None:
        return False, None
    grant = session.exec(
        select(TaskGrantRow).where(
            TaskGrantRow.worker_id == principal.worker_id,
            TaskGrantRow.household_id == household_id,
            col(TaskGrantRow.revoked_at).is_(None),
        )
    ).first()
    return grant is not None, str(grant.task_id) if grant else None


def _pii_allowed(session: Session, principal: Principal, row: HouseholdRow, purpose: str) -> str:
    granted, task_id = _has_grant(session, principal, row.household_id)
    require(
        access.can_read_personal_data(principal, row.dong_code, granted),
        "personal data is shown only to office staff of the area or through an accepted task",
    )
    return (
        f"task {task_id}: {purpose}"
        if task_id and not principal.has_role(*access.OFFICE_ROLES)
        else purpose
    )


def people(
    ctx: Context, session: Session, household_id: str, principal: Principal, purpose: str
) -> list[PersonView]:
    row = household_row(session, household_id)
    why = _pii_allowed(session, principal, row, purpose)
    found = session.exec(select(PersonRow).where(PersonRow.household_id == household_id)).all()
    ctx.audit(session, principal, "pii.read.people", household_id, why, {"count": len(found)})
    cipher = ctx.cipher
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


def address(
    ctx: Context, session: Session, household_id: str, principal: Principal, purpose: str
) -> str | None:
    row = household_row(session, household_id)
    why = _pii_allowed(session, principal, row, purpose)
    ctx.audit(session, principal, "pii.read.address", household_id, why)
    return (
        ctx.cipher.open(row.address_enc, context="household.address") if row.address_enc else None
    )
