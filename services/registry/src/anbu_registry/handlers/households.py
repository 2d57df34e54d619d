"""Households, the people in and around them, tiers and consent."""

from __future__ import annotations

from datetime import datetime

from anbu_contracts import (
    CaseChange,
    HouseholdSnapshot,
    HouseholdStatus,
    MonitoringChannel,
)
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_runtime.auth import Principal

from ..adapters.events import household_snapshot
from ..adapters.orm import (
    ConsentRow,
    HouseholdRow,
    PersonRow,
    TierChangeRow,
)
from ..adapters.pii import PiiCipher
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..domain.cases import transfer
from ..domain.identifiers import new_household_id, new_person_id
from ..domain.model import (
    HouseholdChange,
    HouseholdIn,
    PersonIn,
)
from .cases import case_of, save_case, stage_event
from .common import Conflict, actor_name, audit, require


def snapshot(repos: Repositories, row: HouseholdRow, now: datetime) -> HouseholdSnapshot:
    return household_snapshot(row, repos.relations(row.household_id), now)


def publish(uow: UoW, row: HouseholdRow, *, bump: bool = True) -> None:
    """Stage the household's new snapshot; every change increases its revision."""
    if bump:
        row.revision += 1
        row.updated_at = uow.now
    uow.session.add(row)
    uow.session.flush()
    uow.publish(REGISTRY_HOUSEHOLD, snapshot(uow.repos, row, uow.now))


def _seal_person(cipher: PiiCipher, household_id: str, person: PersonIn) -> PersonRow:
    return PersonRow(
        person_id=new_person_id(),
        household_id=household_id,
        relation=person.relation.value,
        name_enc=cipher.seal(person.name, context="person.name"),
        phone_enc=cipher.seal(person.phone, context="person.phone") if person.phone else None,
        phone_index=cipher.blind_index(person.phone, kind="phone") if person.phone else None,
        email_enc=(
            cipher.seal(str(person.email), context="person.email") if person.email else None
        ),
        rrn_index=cipher.blind_index(person.rrn, kind="rrn") if person.rrn else None,
        locale=person.locale.value,
        preferred_channel=person.preferred_channel.value,
        contact_hours=person.contact_hours,
    )


def register(uow: UoW, data: HouseholdIn, principal: Principal) -> str:
    require(
        access.can_change_household(principal, data.dong_code),
        f"you cannot register households in dong {data.dong_code}",
    )
    household_id = data.household_id or new_household_id()
    if uow.repos.has_household(household_id):
        raise Conflict(f"household {household_id} already exists")
    now = uow.now
    actor = actor_name(principal)
    row = HouseholdRow(
        household_id=household_id,
        district_code=data.district_code,
        dong_code=data.dong_code,
        timezone=data.timezone,
        tier=data.tier.value,
        tier_reason=data.tier_reason,
        channels=[c.model_dump(mode="json") for c in data.channels],
        quiet_start=data.quiet_start,
        quiet_end=data.quiet_end,
        programme=data.programme,
        medical_aid=data.medical_aid,
        violence_risk=data.violence_risk,
        responsible_worker_id=data.responsible_worker_id,
        matched_volunteer_id=data.matched_volunteer_id,
        locale=data.locale.value,
        address_enc=(
            uow.repos.cipher.seal(data.address, context="household.address")
            if data.address
            else None
        ),
        address_index=(
            uow.repos.cipher.blind_index(data.address, kind="address") if data.address else None
        ),
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(
        TierChangeRow(
            household_id=household_id,
            tier=data.tier.value,
            reason=data.tier_reason or "enrolment",
            changed_by=actor,
            at=now,
        )
    )
    for channel in data.channels:
        uow.session.add(
            ConsentRow(
                household_id=household_id,
                channel=channel.channel.value,
                given=channel.consent,
                at=now,
                recorded_by=actor,
                form=data.consent_form or "enrolment",
            )
        )
    uow.session.add_all([_seal_person(uow.repos.cipher, household_id, p) for p in data.people])
    audit(uow, principal, "household.create", household_id, "registration")
    publish(uow, row, bump=False)
    return household_id


def change(
    uow: UoW, household_id: str, data: HouseholdChange, principal: Principal
) -> HouseholdSnapshot:
    row = uow.repos.household(household_id)
    require(
        access.can_change_household(principal, row.dong_code),
        f"you cannot change household {household_id}",
    )
    actor = actor_name(principal)
    now = uow.now
    changes = data.model_dump(exclude_unset=True)
    if data.tier is not None and data.tier.value != row.tier:
        if not data.tier_reason:
            raise Conflict("a tier change needs tier_reason")
        row.tier, row.tier_reason = data.tier.value, data.tier_reason
        uow.session.add(
            TierChangeRow(
                household_id=household_id,
                tier=data.tier.value,
                reason=data.tier_reason,
                changed_by=actor,
                at=now,
            )
        )
    if data.status is not None:
        if data.status is HouseholdStatus.SUSPENDED:
            if data.suspended_until is None or data.suspension_reason is None:
                raise Conflict("suspending needs suspended_until and suspension_reason")
            if data.suspended_until <= now:
                raise Conflict("suspended_until must be in the future")
            row.suspended_until = data.suspended_until
            row.suspension_reason = data.suspension_reason.value
        else:
            row.suspended_until, row.suspension_reason = None, None
        row.status = data.status.value
    if data.dong_code is not None and data.dong_code != row.dong_code:
        _move(uow, row, data.dong_code, actor)
    for name in (
        "quiet_start",
        "quiet_end",
        "rule_overrides",
        "medical_aid",
        "violence_risk",
        "responsible_worker_id",
        "matched_volunteer_id",
        "timezone",
        "programme",
    ):
        if name in changes:
            setattr(row, name, changes[name])
    if data.channel_windows is not None:
        windows = {w.channel: w.window_hours for w in data.channel_windows}
        row.channels = [
            {
                **c,
                "window_hours": windows.get(MonitoringChannel(c["channel"]), c.get("window_hours")),
            }
            for c in row.channels
        ]
    audit(
        uow,
        principal,
        "household.change",
        household_id,
        data.reason or "update",
        {"fields": sorted(changes)},
    )
    publish(uow, row)
    return snapshot(uow.repos, row, now)


def _move(uow: UoW, row: HouseholdRow, dong_code: str, actor: str) -> None:
    """The household moved to another dong: its open cases move with it."""
    row.dong_code, row.district_code = dong_code, dong_code[:5]
    for case_row in uow.repos.open_cases_of(row.household_id):
        before = case_of(case_row)
        moved = transfer(before, dong_code)
        save_case(uow, case_row, moved, actor, "transfer", {"to_dong": dong_code})
        stage_event(uow, moved, CaseChange.TRANSFERRED, from_dong_code=before.dong_code)


def add_person(uow: UoW, household_id: str, person: PersonIn, principal: Principal) -> str:
    row = uow.repos.household(household_id)
    require(
        access.can_change_household(principal, row.dong_code),
        f"you cannot change household {household_id}",
    )
    sealed = _seal_person(uow.repos.cipher, household_id, person)
    uow.session.add(sealed)
    audit(
        uow,
        principal,
        "person.create",
        household_id,
        "registration",
        {"relation": person.relation.value},
    )
    publish(uow, row)  # landlord_on_file and guardians_on_file may change
    return sealed.person_id
