"""The console's read model: projections of the topics, rebuildable from the beginning.

Every table here can be dropped and refilled by replaying the topics
(``python -m anbu_console rebuild``); ``READ_MODEL`` lists them. The runtime's inbox and
outbox tables share this metadata but are not part of the read model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_runtime.db import UtcDateTime


class Table(SQLModel, registry=registry()):
    """Base of the console's tables (its own metadata)."""


metadata = Table.metadata


def _tz(nullable: bool = True, index: bool = False) -> Any:
    return Column(UtcDateTime(), nullable=nullable, index=index)


class HouseholdView(Table, table=True):
    __tablename__ = "household_view"
    household_id: str = Field(primary_key=True, max_length=32)
    revision: int
    district_code: str = Field(default="", max_length=5, index=True)
    dong_code: str = Field(max_length=10, index=True)
    tier: str = Field(max_length=16)
    status: str = Field(max_length=16)
    programme: str = Field(default="default", max_length=128)


class AlertView(Table, table=True):
    __tablename__ = "alert_view"
    alert_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    reason: str
    source: str = Field(default="", description="Signal kind of the first evidence, or reason.")
    severity: str
    status: str = Field(index=True)
    opened_at: datetime = Field(sa_column=_tz(False))
    resolved_at: datetime | None = Field(default=None, sa_column=_tz())
    resolution: str | None = None
    protocol_id: str | None = None
    rule: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evidence: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=_tz(False))


class EscalationView(Table, table=True):
    __tablename__ = "escalation_view"
    escalation_id: UUID = Field(primary_key=True)
    alert_id: UUID | None = Field(default=None, index=True)
    household_id: str = Field(index=True, max_length=32)
    protocol_id: str
    protocol_version: str = ""
    status: str = Field(index=True)
    change: str = ""
    triggered_at: datetime = Field(sa_column=_tz(False))
    last_step_id: str | None = None
    last_step_title: str | None = None
    last_step_at: datetime | None = Field(default=None, sa_column=_tz())
    awaiting_approval: bool = False
    next_step_id: str | None = None
    next_step_due_at: datetime | None = Field(default=None, sa_column=_tz())
    closure: str | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    updated_at: datetime = Field(sa_column=_tz(False))


class StepView(Table, table=True):
    """One executed (or skipped, or waiting) step of a protocol, for the alert page."""

    __tablename__ = "step_view"
    escalation_id: UUID = Field(primary_key=True)
    step_id: str = Field(primary_key=True, max_length=128)
    title: str
    change: str
    due_at: datetime = Field(sa_column=_tz(False))
    executed_at: datetime = Field(sa_column=_tz(False))
    actions: int = 0
    note: str | None = None


class TaskView(Table, table=True):
    __tablename__ = "task_view"
    task_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    dong_code: str | None = Field(default=None, max_length=10)
    task_type: str
    status: str = Field(index=True)
    assignees: list[str] = Field(sa_column=Column(JSON, nullable=False))
    deadline: datetime = Field(sa_column=_tz(False))
    escalation_id: UUID | None = None
    step_id: str | None = None
    # First time the task was seen, first acceptance and completion: KPI inputs, kept as
    # minimums so that replays and out-of-order duplicates give the same values.
    created_at: datetime = Field(sa_column=_tz(False))
    accepted_at: datetime | None = Field(default=None, sa_column=_tz())
    completed_at: datetime | None = Field(default=None, sa_column=_tz())
    updated_at: datetime = Field(sa_column=_tz(False))


class OutcomeView(Table, table=True):
    __tablename__ = "outcome_view"
    outcome_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    result: str
    contact_mode: str
    recorded_by: str
    needs: list[str] = Field(sa_column=Column(JSON, nullable=False))
    services_linked: bool = False
    follow_up: bool = False
    recorded_at: datetime = Field(sa_column=_tz(False))


class NotificationView(Table, table=True):
    __tablename__ = "notification_view"
    request_key: str = Field(primary_key=True, max_length=128)
    household_id: str | None = Field(default=None, max_length=32, index=True)
    status: str = Field(index=True)
    channel: str | None = None
    reason: str | None = None
    attempt: int = 0
    updated_at: datetime = Field(sa_column=_tz(False))


class CaseView(Table, table=True):
    """A household's case as the registry publishes it: the funnel's case milestones.

    ``opened_at`` and ``linked_at`` are the first instants the case opened (사례 개입) and had
    a service linked, kept as minimums so that replays give the same funnel.
    """

    __tablename__ = "case_view"
    case_id: str = Field(primary_key=True, max_length=32)
    household_id: str = Field(index=True, max_length=32)
    dong_code: str = Field(max_length=10)
    state: str = Field(max_length=32)
    level: str | None = Field(default=None, max_length=32)
    opened_at: datetime | None = Field(default=None, sa_column=_tz())
    linked_at: datetime | None = Field(default=None, sa_column=_tz())
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    closure_reason: str | None = Field(default=None, max_length=32)
    updated_at: datetime = Field(sa_column=_tz(False))


class PartnerFeedView(Table, table=True):
    """The newest signal per partner and kind: a feed that falls silent is flagged stale."""

    __tablename__ = "partner_feed_view"
    partner_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=32)
    last_observed_at: datetime = Field(sa_column=_tz(False))
    last_produced_at: datetime = Field(sa_column=_tz(False))


class PartnerSignalHour(Table, table=True):
    """How many signals a partner sent of a kind in one UTC hour (by ``produced_at``).

    Kept for ``SIGNAL_HOURS_KEPT`` behind the newest hour; counted once per signal through
    ``PartnerSignalSeen``, so redeliveries and replays do not inflate the counts.
    """

    __tablename__ = "partner_signal_hour"
    partner_id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(primary_key=True, max_length=32)
    hour: datetime = Field(sa_column=Column(UtcDateTime(), primary_key=True))
    count: int = 0


class PartnerSignalSeen(Table, table=True):
    """Signals already counted, by the contract's idempotency key (partner, partner's id).

    Not the event id: a partner producing straight to Kafka may leave it out, and the
    contract then draws a new one on every decode (every replay). Pruned with the hours.
    """

    __tablename__ = "partner_signal_seen"
    partner_id: str = Field(primary_key=True, max_length=64)
    partner_event_id: str = Field(primary_key=True, max_length=128)
    hour: datetime = Field(sa_column=_tz(False, index=True))


class TimelineEntry(Table, table=True):
    """One event about a household, once (keyed by event id), for timelines and the feed."""

    __tablename__ = "timeline"
    event_id: UUID = Field(primary_key=True)
    at: datetime = Field(sa_column=_tz(False, index=True))
    topic: str
    household_id: str | None = Field(default=None, max_length=32, index=True)
    ref: str | None = Field(default=None, max_length=64)
    summary: str
    # Pages that translate an entry show ``label`` (a label key) and ``terms`` (label keys or
    # dong codes) instead of the English summary.
    label: str | None = Field(default=None, max_length=64)
    terms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class JobView(Table, table=True):
    """Where each long file job stands (a partner file, a household import): the newest
    report by ``updated_at`` wins."""

    __tablename__ = "job_view"
    job_id: str = Field(primary_key=True, max_length=128)
    kind: str = Field(max_length=32)
    partner_id: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=128)
    state: str = Field(max_length=128)
    finished: bool
    succeeded: bool | None = None
    progress: float
    rows: int
    rejected: int
    rows_per_second: float | None = None
    eta_seconds: float | None = None
    started_at: datetime = Field(sa_column=_tz(False))
    updated_at: datetime = Field(sa_column=_tz(False, index=True))


class ReadModelVersion(Table, table=True):
    """Which shape of the read model the database holds (one row); not itself replayed."""

    __tablename__ = "read_model_version"
    id: int = Field(default=1, primary_key=True)
    version: int


READ_MODEL = (
    HouseholdView,
    AlertView,
    EscalationView,
    StepView,
    TaskView,
    OutcomeView,
    NotificationView,
    CaseView,
    PartnerFeedView,
    PartnerSignalHour,
    PartnerSignalSeen,
    TimelineEntry,
    JobView,
)
