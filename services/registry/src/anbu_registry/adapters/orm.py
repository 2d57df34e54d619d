"""The registry's tables. Personal data is stored only sealed (``*_enc``) or as blind indexes.

The schema is owned by Alembic (``anbu_registry/migrations``); change a table here, then
``uv run anbu-registry-db revision -m "..."`` and review the generated migration.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the registry's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True) -> Any:
    return Column(UtcDateTime(), nullable=nullable)


def _json() -> Any:
    return Column(JSON, nullable=False)


# -- households and people ------------------------------------------------------------


class HouseholdRow(Table, table=True):
    __tablename__ = "household"
    __table_args__ = (Index("ix_household_dong_tier", "dong_code", "tier"),)
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int = 1
    district_code: str = Field(max_length=5, index=True)
    dong_code: str = Field(max_length=10)
    timezone: str = Field(default="Asia/Seoul", max_length=64)
    tier: str = Field(max_length=16)
    tier_reason: str | None = Field(default=None, max_length=256)
    status: str = Field(default="active", max_length=16, index=True)
    suspended_until: datetime | None = Field(default=None, sa_column=_tz())
    suspension_reason: str | None = Field(default=None, max_length=16)
    channels: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    quiet_start: time = time(23, 0)
    quiet_end: time = time(7, 0)
    programme: str = Field(default="default", max_length=64)
    rule_overrides: dict[str, float] = Field(default_factory=dict, sa_column=_json())
    medical_aid: bool = False
    violence_risk: bool = False
    responsible_worker_id: str | None = Field(default=None, max_length=32)
    matched_volunteer_id: str | None = Field(default=None, max_length=32)
    locale: str = Field(default="ko", max_length=5)
    address_enc: str | None = None
    address_index: str | None = Field(default=None, max_length=64, index=True)
    created_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))


class TierChangeRow(Table, table=True):
    __tablename__ = "tier_change"
    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(foreign_key="household.household_id", index=True, max_length=32)
    tier: str = Field(max_length=16)
    reason: str = Field(max_length=256)
    changed_by: str = Field(max_length=64)
    at: datetime = Field(sa_column=_tz(False))


class PersonRow(Table, table=True):
    """A resident of a household, or one of its contacts (guardian, landlord, neighbour)."""

    __tablename__ = "person"
    person_id: str = Field(primary_key=True, max_length=32)
    household_id: str = Field(foreign_key="household.household_id", index=True, max_length=32)
    relation: str = Field(max_length=16)  # resident, guardian, landlord, neighbour
    name_enc: str
    phone_enc: str | None = None
    phone_index: str | None = Field(default=None, index=True, max_length=64)
    email_enc: str | None = None
    rrn_index: str | None = Field(default=None, index=True, max_length=64)  # never the number
    locale: str = Field(default="ko", max_length=5)
    preferred_channel: str = Field(default="sms", max_length=16)
    contact_hours: str | None = Field(default=None, max_length=64)


class ConsentRow(Table, table=True):
    """Every consent given or withdrawn, per channel; never updated, only appended."""

    __tablename__ = "consent"
    id: int | None = Field(default=None, primary_key=True)
    household_id: str = Field(foreign_key="household.household_id", index=True, max_length=32)
    channel: str = Field(max_length=32)
    given: bool
    at: datetime = Field(sa_column=_tz(False))
    recorded_by: str = Field(max_length=64)
    form: str = Field(max_length=128)


# -- staff, partners and users --------------------------------------------------------


class WorkerRow(Table, table=True):
    __tablename__ = "worker"
    worker_id: str = Field(primary_key=True, max_length=32)
    revision: int = 1
    roles: list[str] = Field(default_factory=list, sa_column=_json())
    dong_codes: list[str] = Field(default_factory=list, sa_column=_json())
    languages: list[str] = Field(default_factory=list, sa_column=_json())
    skills: list[str] = Field(default_factory=list, sa_column=_json())
    shifts: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    duty: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    max_open_tasks: int = 10
    active: bool = True
    name_enc: str
    phone_enc: str | None = None
    phone_index: str | None = Field(default=None, index=True, max_length=64)
    email_enc: str | None = None
    locale: str = Field(default="ko", max_length=5)
    preferred_channel: str = Field(default="sms", max_length=16)


class PartnerRow(Table, table=True):
    __tablename__ = "partner"
    partner_id: str = Field(primary_key=True, max_length=64)
    organisation: str = Field(max_length=200)
    allowed_kinds: list[str] = Field(default_factory=list, sa_column=_json())
    rate_limit_per_minute: int = 600
    active: bool = True
    created_at: datetime = Field(sa_column=_tz(False))


class ApiKeyRow(Table, table=True):
    """A partner API key: only its SHA-256 digest is kept (the key is shown once)."""

    __tablename__ = "api_key"
    key_id: str = Field(primary_key=True, max_length=32)
    partner_id: str = Field(foreign_key="partner.partner_id", index=True, max_length=64)
    digest: str = Field(max_length=64)
    label: str = Field(default="", max_length=100)
    created_at: datetime = Field(sa_column=_tz(False))
    expires_at: datetime | None = Field(default=None, sa_column=_tz())
    revoked_at: datetime | None = Field(default=None, sa_column=_tz())
    last_used_at: datetime | None = Field(default=None, sa_column=_tz())


class UserRow(Table, table=True):
    __tablename__ = "app_user"
    user_id: str = Field(primary_key=True, max_length=32)
    username: str = Field(max_length=64, unique=True)
    password_hash: str
    role: str = Field(max_length=16)
    dong_codes: list[str] = Field(default_factory=list, sa_column=_json())
    district_codes: list[str] = Field(default_factory=list, sa_column=_json())
    worker_id: str | None = Field(default=None, max_length=32)
    active: bool = True
    created_at: datetime = Field(sa_column=_tz(False))


class LoginThrottleRow(Table, table=True):
    """Failed logins of one account (``account:<sha256 of the username>``) or one address
    (``address:<ip>``), shared by every registry instance. See domain/login_throttle.py."""

    __tablename__ = "login_throttle"
    key: str = Field(primary_key=True, max_length=80)
    failures: int = 0
    window_start: datetime | None = Field(default=None, sa_column=_tz())
    last_failure_at: datetime | None = Field(default=None, sa_column=_tz())
    locked_until: datetime | None = Field(default=None, sa_column=_tz())
    lockouts: int = 0


class TaskGrantRow(Table, table=True):
    """A field worker may read a household's personal data while holding an accepted task."""

    __tablename__ = "task_grant"
    task_id: UUID = Field(primary_key=True)
    worker_id: str = Field(primary_key=True, max_length=32)
    household_id: str = Field(index=True, max_length=32)
    granted_at: datetime = Field(sa_column=_tz(False))
    revoked_at: datetime | None = Field(default=None, sa_column=_tz())


# -- cases and the consultation log ---------------------------------------------------


class CaseRow(Table, table=True):
    __tablename__ = "welfare_case"
    case_id: str = Field(primary_key=True, max_length=32)
    household_id: str = Field(foreign_key="household.household_id", index=True, max_length=32)
    dong_code: str = Field(max_length=10, index=True)
    state: str = Field(max_length=24, index=True)
    level: str | None = Field(default=None, max_length=24)
    opened_at: datetime = Field(sa_column=_tz(False))
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    closure_reason: str | None = Field(default=None, max_length=256)
    manager_worker_id: str | None = Field(default=None, max_length=32)
    source: str = Field(default="operator", max_length=64)


class CaseEventRow(Table, table=True):
    """The case's history: every transition, assessment, goal and linkage, with who and when."""

    __tablename__ = "case_event"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="welfare_case.case_id", index=True, max_length=32)
    at: datetime = Field(sa_column=_tz(False))
    actor: str = Field(max_length=64)
    kind: str = Field(max_length=32)  # transition, assessment, goal, linkage, transfer
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class LinkageRow(Table, table=True):
    __tablename__ = "service_linkage"
    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(foreign_key="welfare_case.case_id", index=True, max_length=32)
    household_id: str = Field(index=True, max_length=32)
    service: str = Field(max_length=32)
    provider: str = Field(max_length=200)
    crisis_reason: str | None = Field(default=None, max_length=64)
    referral_status: str = Field(default="referred", max_length=16)
    granted_on: date | None = None
    created_at: datetime = Field(sa_column=_tz(False))


class ConsultationRow(Table, table=True):
    """상담내역: every contact, attempt, visit and protocol step, from people and the system."""

    __tablename__ = "consultation"
    __table_args__ = (
        UniqueConstraint("source_key", name="uq_consultation_source"),
        Index("ix_consultation_household_at", "household_id", "at"),
    )
    entry_id: str = Field(primary_key=True, max_length=40)
    household_id: str = Field(foreign_key="household.household_id", max_length=32)
    case_id: str | None = Field(default=None, max_length=32)
    at: datetime = Field(sa_column=_tz(False))
    kind: str = Field(max_length=32)  # contact, attempt, visit, protocol_step, note
    channel: str | None = Field(default=None, max_length=16)  # phone, visit, text, system
    actor: str = Field(max_length=64)  # a worker id, a user, or "system"
    result: str | None = Field(default=None, max_length=32)
    summary: str = Field(max_length=256)  # structured, no personal data
    note_enc: str | None = None  # free text is sealed
    source_key: str | None = Field(default=None, max_length=200)  # idempotency for events


class AuditRow(Table, table=True):
    """Append-only (database triggers refuse UPDATE and DELETE): who, what, when and why."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=_tz(False))
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    subject: str = Field(max_length=128, index=True)
    purpose: str = Field(max_length=256)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


# -- bulk imports -----------------------------------------------------------------------


class HouseholdImportRow(Table, table=True):
    """One bulk import started over HTTP, and how far it is (updated after every batch)."""

    __tablename__ = "household_import"
    import_id: str = Field(primary_key=True, max_length=32)
    state: str = Field(max_length=16)  # running, done, failed, interrupted
    started_by: str = Field(max_length=64)
    dry_run: bool = False
    batch_size: int
    bytes_total: int
    bytes_done: int = 0
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    batches: int = 0
    batches_rejected: int = 0
    started_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False))
    finished_at: datetime | None = Field(default=None, sa_column=_tz())
    # The row errors once it is done (at most MAX_REPORTED_ERRORS) and, if it failed, why.
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    errors_truncated: bool = False
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
