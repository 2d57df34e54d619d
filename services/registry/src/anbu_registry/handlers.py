"""The registry's service layer: register, snapshot, resolve recipients, audit.

Every change to a household or worker stages its new snapshot (without personal data) in
the outbox within the same transaction; every read of personal data writes an audit row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from anbu_contracts import (
    ChannelEnrolment,
    DutySlot,
    HouseholdSnapshot,
    HouseholdStatus,
    Locale,
    QuietHours,
    RecipientKind,
    RecipientRef,
    Role,
    SuspensionReason,
    Tier,
    WeeklyShift,
    WorkerSnapshot,
)
from anbu_contracts.notify import Channel
from anbu_contracts.topics import REGISTRY_HOUSEHOLD, REGISTRY_WORKER
from anbu_runtime.clock import Clock
from anbu_runtime.outbox import Outbox

from .adapters.orm import AuditRow, HouseholdRow, PersonRow, WorkerRow
from .adapters.pii import PiiCipher
from .domain.identifiers import new_household_id, new_person_id, new_worker_id
from .domain.model import Address, HouseholdIn, Relation, WorkerIn

SOURCE = "registry"


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    pass


@dataclass
class Registry:
    cipher: PiiCipher
    outbox: Outbox
    clock: Clock

    # -- households ----------------------------------------------------------------

    def register_household(self, session: Session, data: HouseholdIn, actor: str) -> str:
        household_id = data.household_id or new_household_id()
        if session.get(HouseholdRow, household_id) is not None:
            raise Conflict(f"household {household_id} already exists")
        now = self.clock.now()
        row = HouseholdRow(
            household_id=household_id,
            district_code=data.district_code,
            dong_code=data.dong_code,
            timezone=data.timezone,
            tier=data.tier.value,
            channels=[c.model_dump(mode="json") for c in data.channels],
            quiet_start=data.quiet_start,
            quiet_end=data.quiet_end,
            programme=data.programme,
            medical_aid=data.medical_aid,
            violence_risk=data.violence_risk,
            responsible_worker_id=data.responsible_worker_id,
            locale=data.locale.value,
            address_enc=(
                self.cipher.seal(data.address, context="household.address")
                if data.address
                else None
            ),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        for person in data.people:
            session.add(
                PersonRow(
                    person_id=new_person_id(),
                    household_id=household_id,
                    relation=person.relation.value,
                    name_enc=self.cipher.seal(person.name, context="person.name"),
                    phone_enc=(
                        self.cipher.seal(person.phone, context="person.phone")
                        if person.phone
                        else None
                    ),
                    phone_index=(
                        self.cipher.blind_index(person.phone, kind="phone")
                        if person.phone
                        else None
                    ),
                    email_enc=(
                        self.cipher.seal(str(person.email), context="person.email")
                        if person.email
                        else None
                    ),
                    locale=person.locale.value,
                    preferred_channel=person.preferred_channel.value,
                )
            )
        session.flush()
        self._audit(session, actor, "household.create", household_id, "registration")
        self.outbox.add(session, REGISTRY_HOUSEHOLD, self.household_snapshot(session, row))
        return household_id

    def household_snapshot(self, session: Session, row: HouseholdRow) -> HouseholdSnapshot:
        relations = set(
            session.exec(
                select(PersonRow.relation).where(PersonRow.household_id == row.household_id)
            ).all()
        )
        now = self.clock.now()
        return HouseholdSnapshot(
            occurred_at=row.updated_at,
            produced_at=now,
            source=SOURCE,
            household_id=row.household_id,
            revision=row.revision,
            district_code=row.district_code,
            dong_code=row.dong_code,
            timezone=row.timezone,
            tier=Tier(row.tier),
            status=HouseholdStatus(row.status),
            suspended_until=row.suspended_until,
            suspension_reason=(
                SuspensionReason(row.suspension_reason) if row.suspension_reason else None
            ),
            channels=[ChannelEnrolment.model_validate(c) for c in row.channels],
            quiet_hours=QuietHours(start=row.quiet_start, end=row.quiet_end),
            programme=row.programme,
            rule_overrides=row.rule_overrides,
            medical_aid=row.medical_aid,
            violence_risk=row.violence_risk,
            landlord_on_file=Relation.LANDLORD.value in relations,
            guardians_on_file=Relation.GUARDIAN.value in relations,
            responsible_worker_id=row.responsible_worker_id,
            matched_volunteer_id=row.matched_volunteer_id,
            locale=Locale(row.locale),
        )

    def household(self, session: Session, household_id: str) -> HouseholdSnapshot:
        row = session.get(HouseholdRow, household_id)
        if row is None:
            raise NotFound(f"household {household_id} not found")
        return self.household_snapshot(session, row)

    # -- workers -------------------------------------------------------------------

    def register_worker(self, session: Session, data: WorkerIn, actor: str) -> str:
        worker_id = data.worker_id or new_worker_id()
        if session.get(WorkerRow, worker_id) is not None:
            raise Conflict(f"worker {worker_id} already exists")
        row = WorkerRow(
            worker_id=worker_id,
            roles=[r.value for r in data.roles],
            dong_codes=data.dong_codes,
            languages=data.languages,
            skills=data.skills,
            shifts=[s.model_dump(mode="json") for s in data.shifts],
            duty=[d.model_dump(mode="json") for d in data.duty],
            max_open_tasks=data.max_open_tasks,
            name_enc=self.cipher.seal(data.name, context="worker.name"),
            phone_enc=self.cipher.seal(data.phone, context="worker.phone") if data.phone else None,
            phone_index=self.cipher.blind_index(data.phone, kind="phone") if data.phone else None,
            email_enc=(
                self.cipher.seal(str(data.email), context="worker.email") if data.email else None
            ),
            locale=data.locale.value,
            preferred_channel=data.preferred_channel.value,
        )
        session.add(row)
        session.flush()
        self._audit(session, actor, "worker.create", worker_id, "registration")
        self.outbox.add(session, REGISTRY_WORKER, self.worker_snapshot(row))
        return worker_id

    def worker_snapshot(self, row: WorkerRow) -> WorkerSnapshot:
        now = self.clock.now()
        return WorkerSnapshot(
            occurred_at=now,
            produced_at=now,
            source=SOURCE,
            worker_id=row.worker_id,
            revision=row.revision,
            roles=[Role(r) for r in row.roles],
            dong_codes=row.dong_codes,
            languages=row.languages,
            skills=row.skills,
            shifts=[WeeklyShift.model_validate(s) for s in row.shifts],
            duty=[DutySlot.model_validate(d) for d in row.duty],
            max_open_tasks=row.max_open_tasks,
            active=row.active,
        )

    def workers(self, session: Session) -> list[WorkerSnapshot]:
        return [self.worker_snapshot(r) for r in session.exec(select(WorkerRow)).all()]

    # -- recipients (personal data: audited) ---------------------------------------

    def resolve(
        self, session: Session, ref: RecipientRef, actor: str, purpose: str
    ) -> list[Address]:
        """Addresses for a recipient reference; every call is written to the audit log."""
        addresses: list[Address] = []
        household = session.get(HouseholdRow, ref.household_id) if ref.household_id else None
        if ref.kind in (RecipientKind.STAFF, RecipientKind.DUTY_OFFICER):
            for worker in self._workers_for(session, ref, household):
                addresses.append(self._worker_address(worker))
        elif ref.kind in (RecipientKind.POLICE_LIAISON, RecipientKind.FIRE_LIAISON):
            addresses = []  # liaison endpoints are notifier configuration, not registry data
        else:
            if household is None:
                raise NotFound(f"household {ref.household_id} not found")
            relation = {
                RecipientKind.RESIDENT: Relation.RESIDENT,
                RecipientKind.GUARDIAN: Relation.GUARDIAN,
                RecipientKind.LANDLORD: Relation.LANDLORD,
                RecipientKind.NEIGHBOUR: Relation.NEIGHBOUR,
            }[ref.kind]
            query = select(PersonRow).where(
                PersonRow.household_id == household.household_id,
                PersonRow.relation == relation.value,
            )
            if ref.ref:
                query = query.where(PersonRow.person_id == ref.ref)
            for person in session.exec(query).all():
                addresses.append(self._person_address(person, household))
        self._audit(
            session,
            actor,
            "recipient.resolve",
            ref.household_id or ref.ref or ref.kind.value,
            purpose,
            {"kind": ref.kind.value, "count": len(addresses)},
        )
        return addresses

    def _workers_for(
        self, session: Session, ref: RecipientRef, household: HouseholdRow | None
    ) -> list[WorkerRow]:
        if ref.ref:
            worker = session.get(WorkerRow, ref.ref)
            return [worker] if worker else []
        duty = [
            w
            for w in session.exec(select(WorkerRow).where(WorkerRow.active == True)).all()  # noqa: E712
            if Role.DUTY_OFFICER.value in w.roles
        ]
        if household is not None:
            local = [w for w in duty if household.dong_code in w.dong_codes]
            duty = local or duty
        return duty[:1]

    def _person_address(self, person: PersonRow, household: HouseholdRow) -> Address:
        return Address(
            person_ref=person.person_id,
            name=self.cipher.open(person.name_enc, context="person.name"),
            phone=self.cipher.open(person.phone_enc, context="person.phone")
            if person.phone_enc
            else None,
            email=self.cipher.open(person.email_enc, context="person.email")
            if person.email_enc
            else None,
            locale=Locale(person.locale),
            preferred_channel=Channel(person.preferred_channel),
            quiet_start=household.quiet_start,
            quiet_end=household.quiet_end,
            timezone=household.timezone,
        )

    def _worker_address(self, worker: WorkerRow) -> Address:
        return Address(
            person_ref=worker.worker_id,
            name=self.cipher.open(worker.name_enc, context="worker.name"),
            phone=self.cipher.open(worker.phone_enc, context="worker.phone")
            if worker.phone_enc
            else None,
            email=self.cipher.open(worker.email_enc, context="worker.email")
            if worker.email_enc
            else None,
            locale=Locale(worker.locale),
            preferred_channel=Channel(worker.preferred_channel),
        )

    # -- audit ---------------------------------------------------------------------

    def _audit(
        self,
        session: Session,
        actor: str,
        action: str,
        subject: str,
        purpose: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            AuditRow(
                at=self.clock.now(),
                actor=actor,
                action=action,
                subject=subject,
                purpose=purpose,
                detail=detail or {},
            )
        )

    def audit_entries(self, session: Session, subject: str | None, limit: int) -> list[AuditRow]:
        query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)  # type: ignore[union-attr]
        if subject:
            query = query.where(AuditRow.subject == subject)
        return list(session.exec(query).all())
