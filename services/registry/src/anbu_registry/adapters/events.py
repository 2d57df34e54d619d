"""Domain → contract: the one place each registry event is built from stored state."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, time
from typing import Any, Protocol

from anbu_contracts import (
    CaseChange,
    CaseClosureReason,
    CaseEvent,
    ChannelEnrolment,
    HouseholdSnapshot,
    HouseholdStatus,
    JobKind,
    JobProgress,
    LinkedService,
    Locale,
    QuietHours,
    SuspensionReason,
    Tier,
)
from anbu_contracts import CaseLevel as ContractLevel
from anbu_contracts import CaseState as ContractState

from ..domain.cases import Case, CaseState, ServiceType
from ..domain.import_progress import Pace, pace
from ..domain.model import Relation
from .orm import HouseholdImportRow

SOURCE = "registry"


class HouseholdFields(Protocol):
    """What a household snapshot is made of: a ``HouseholdRow``, or the columns of one
    about to be written (the bulk import builds them without the ORM)."""

    household_id: str
    revision: int
    district_code: str
    dong_code: str
    timezone: str
    tier: str
    status: str
    suspended_until: datetime | None
    suspension_reason: str | None
    channels: list[dict[str, Any]]
    quiet_start: time
    quiet_end: time
    programme: str
    rule_overrides: dict[str, float]
    medical_aid: bool
    violence_risk: bool
    responsible_worker_id: str | None
    matched_volunteer_id: str | None
    locale: str
    updated_at: datetime


def change_of(to: CaseState) -> CaseChange:
    """The event change a workflow move to ``to`` publishes."""
    if to is CaseState.OPENED:
        return CaseChange.OPENED
    if to is CaseState.CLOSED:
        return CaseChange.CLOSED
    if to is CaseState.DISCOVERED:  # a new case record, or a follow-up that starts again
        return CaseChange.DISCOVERED
    return CaseChange.PROGRESSED


def case_event(
    case: Case,
    change: CaseChange,
    now: datetime,
    *,
    from_state: CaseState | None = None,
    from_dong_code: str | None = None,
    services: Iterable[ServiceType] = (),
    closure_reason: CaseClosureReason | None = None,
) -> CaseEvent:
    """The contract event for ``case`` after ``change`` (codes only: no notes, no names)."""
    return CaseEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        case_id=case.case_id,
        household_id=case.household_id,
        change=change,
        dong_code=case.dong_code,
        state=ContractState(case.state.value),
        level=ContractLevel(case.level.value) if case.level else None,
        from_state=ContractState(from_state.value) if from_state else None,
        from_dong_code=from_dong_code,
        services=[LinkedService(s.value) for s in services],
        closure_reason=(
            (closure_reason or CaseClosureReason.OTHER) if change is CaseChange.CLOSED else None
        ),
    )


def household_snapshot(
    row: HouseholdFields, relations: Collection[str], now: datetime
) -> HouseholdSnapshot:
    """The snapshot of ``row`` given the relations of the people on file (no personal data)."""
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


def import_pace(job: HouseholdImportRow) -> Pace:
    """The pace of a stored import as of its last update (for the event and the status)."""
    return pace(
        running=job.state == "running",
        rows=job.rows,
        bytes_done=job.bytes_done,
        bytes_total=job.bytes_total,
        elapsed=(job.updated_at - job.started_at).total_seconds(),
    )


def import_progress(job: HouseholdImportRow, now: datetime) -> JobProgress:
    """Where a bulk household import stands (counts only), for the console."""
    finished = job.state != "running"
    at = import_pace(job)
    return JobProgress(
        occurred_at=now,
        source=SOURCE,
        job_id=job.import_id,
        kind=JobKind.HOUSEHOLD_IMPORT,
        detail="dry_run" if job.dry_run else None,
        state=job.state,
        finished=finished,
        succeeded=job.state == "done" if finished else None,
        progress=at.share,
        rows=job.rows,
        rejected=job.invalid,
        rows_per_second=at.rows_per_second,
        eta_seconds=at.eta_seconds,
        started_at=job.started_at,
        updated_at=job.updated_at,
    )
