"""Resolve a recipient reference to addresses at send time (the notifier's call; audited)."""

from __future__ import annotations

from anbu_contracts import Locale, RecipientKind, RecipientRef, Role
from anbu_contracts.notify import Channel
from anbu_runtime.auth import Principal

from ..adapters.orm import HouseholdRow, PersonRow, WorkerRow
from ..adapters.pii import PiiCipher
from ..adapters.repository import Repositories, UoW
from ..domain.model import Address, Relation
from .common import NotFound, audit, require

_RELATION = {
    RecipientKind.RESIDENT: Relation.RESIDENT,
    RecipientKind.GUARDIAN: Relation.GUARDIAN,
    RecipientKind.LANDLORD: Relation.LANDLORD,
    RecipientKind.NEIGHBOUR: Relation.NEIGHBOUR,
}


def resolve(uow: UoW, ref: RecipientRef, principal: Principal, purpose: str) -> list[Address]:
    """Addresses for a recipient reference; every call is written to the audit log."""
    require(principal.is_service, "only services resolve recipients")
    household = uow.repos.household(ref.household_id) if ref.household_id else None
    if ref.kind in (RecipientKind.STAFF, RecipientKind.DUTY_OFFICER):
        cipher = uow.repos.cipher
        addresses = [_worker_address(cipher, w) for w in _workers_for(uow.repos, ref, household)]
    elif ref.kind in (RecipientKind.POLICE_LIAISON, RecipientKind.FIRE_LIAISON):
        addresses = []  # liaison endpoints are the notifier's configuration
    else:
        if household is None:
            raise NotFound("a household recipient needs household_id")
        people = uow.repos.people(household.household_id, _RELATION[ref.kind].value)
        addresses = [
            _person_address(uow.repos.cipher, p, household)
            for p in people
            if not ref.ref or p.person_id == ref.ref
        ]
    audit(
        uow,
        principal,
        "recipient.resolve",
        ref.household_id or ref.ref or ref.kind.value,
        purpose,
        {"kind": ref.kind.value, "count": len(addresses)},
    )
    return addresses


def _workers_for(
    repos: Repositories, ref: RecipientRef, household: HouseholdRow | None
) -> list[WorkerRow]:
    if ref.ref:
        worker = repos.session.get(WorkerRow, ref.ref)
        return [worker] if worker else []
    duty = [w for w in repos.workers(active_only=True) if Role.DUTY_OFFICER.value in w.roles]
    if household is not None:
        duty = [w for w in duty if household.dong_code in w.dong_codes] or duty
    return duty[:1]


def _person_address(cipher: PiiCipher, person: PersonRow, household: HouseholdRow) -> Address:
    return Address(
        person_ref=person.person_id,
        name=cipher.open(person.name_enc, context="person.name"),
        phone=cipher.open(person.phone_enc, context="person.phone") if person.phone_enc else None,
        email=cipher.open(person.email_enc, context="person.email") if person.email_enc else None,
        locale=Locale(person.locale),
        preferred_channel=Channel(person.preferred_channel),
        quiet_start=household.quiet_start,
        quiet_end=household.quiet_end,
        timezone=household.timezone,
    )


def _worker_address(cipher: PiiCipher, worker: WorkerRow) -> Address:
    return Address(
        person_ref=worker.worker_id,
        name=cipher.open(worker.name_enc, context="worker.name"),
        phone=cipher.open(worker.phone_enc, context="worker.phone") if worker.phone_enc else None,
        email=cipher.open(worker.email_enc, context="worker.email") if worker.email_enc else None,
        locale=Locale(worker.locale),
        preferred_channel=Channel(worker.preferred_channel),
    )
