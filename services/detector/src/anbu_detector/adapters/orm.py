"""The detector's own tables and how their rows map to domain objects (SQL: repository.py)."""

from __future__ import annotations

import sys
from array import array
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import JSON, Column, Index, LargeBinary, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from anbu_contracts import (
    AlertReason,
    AlertResolution,
    AlertStatus,
    ApprovalRecord,
    EscalationClosure,
    EscalationStatus,
    EvidenceRef,
    HouseholdSnapshot,
    HouseholdStatus,
    MonitoringChannel,
    RuleRef,
    Severity,
)
from anbu_runtime.db import UtcDateTime

from ..domain.absence import QuietHours, rhythm_params
from ..domain.alerts import Alert
from ..domain.protocols import Context, Escalation, StepState
from ..domain.rhythm import BLOCKS_PER_WEEK, ChannelRhythm, RhythmParams
from ..domain.rules import AbsenceRule
from ..domain.watch import WatchConfig


class Table(SQLModel, registry=registry()):
    """Base of the detector's tables (its own metadata, apart from other services)."""


metadata = Table.metadata

EVIDENCE = TypeAdapter(list[EvidenceRef])
APPROVALS = TypeAdapter(list[ApprovalRecord])


def _tz() -> Any:
    return Column(UtcDateTime(), nullable=True)


def _json() -> Any:
    return Column(JSON, nullable=False)


class HouseholdRow(Table, table=True):
    """What the detector keeps of a registry snapshot: only what its rules need."""

    __tablename__ = "household"
    household_id: str = Field(primary_key=True, max_length=32)
    partition: int = Field(index=True)
    revision: int
    status: str = Field(max_length=16)
    suspended_until: datetime | None = Field(default=None, sa_column=_tz())
    # In a partner hospital until then (its admission or discharge notice; the detector's
    # own knowledge, not the registry's: a registry snapshot leaves it alone).
    hospital_until: datetime | None = Field(default=None, sa_column=_tz())
    # What carriers and device vendors last said of each channel's device (``device_status``
    # signals; the detector's own knowledge): {channel: {"status": "offline", "since": iso}}.
    device_status: dict[str, dict[str, str]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    timezone: str = Field(max_length=64)
    quiet_start: time
    quiet_end: time
    programme: str = Field(max_length=64)
    windows: dict[str, float | None] = Field(default_factory=dict, sa_column=_json())
    rule_overrides: dict[str, float] = Field(default_factory=dict, sa_column=_json())
    medical_aid: bool = False
    landlord_on_file: bool = False
    guardians_on_file: bool = False
    dong_code: str = Field(max_length=10)


class ChannelStateRow(Table, table=True):
    """A channel's last activity, as epoch seconds: written for every heartbeat flush, so it
    is kept in the cheapest form to write and to load back."""

    __tablename__ = "channel_clock"
    household_id: str = Field(primary_key=True, max_length=32)
    channel: str = Field(primary_key=True, max_length=32)
    partition: int = Field(index=True)
    last_active: float
    silent: bool = False
    # The channel's learned week (``domain/rhythm.py``), written only when it learned
    # something (at most once a 4-hour block): epoch seconds watched from, the last block
    # counted, self-ended outages, and the 42 block counts (Monday 00–04 first) as the
    # counters' own bytes, unsigned 16-bit little-endian (``rhythm_columns``).
    rhythm_since: float | None = None
    rhythm_last_block: int | None = None
    rhythm_outages: int | None = None
    rhythm_week: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))


class SafetyCallRow(Table, table=True):
    __tablename__ = "safety_call_state"
    household_id: str = Field(primary_key=True, max_length=32)
    consecutive_unanswered: int = 0
    streak: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    last_call_at: datetime | None = Field(default=None, sa_column=_tz())


class RuleStateRow(Table, table=True):
    """Per household and rule, what an event rule remembers (for example recent arrears)."""

    __tablename__ = "rule_state"
    household_id: str = Field(primary_key=True, max_length=32)
    rule: str = Field(primary_key=True, max_length=64)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=_json())


class AlertRow(Table, table=True):
    __tablename__ = "alert"
    __table_args__ = (
        # Never two open alerts for one household and reason.
        Index(
            "uq_alert_open_reason",
            "household_id",
            "reason",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # GET /v1/alerts: the newest of a status without reading and sorting them all (at
        # 50,000 open alerts 37 ms on SQLite, 20 ms on PostgreSQL, 0.15/0.6 ms with it).
        Index("ix_alert_status_opened_at", "status", "opened_at"),
    )
    alert_id: UUID = Field(primary_key=True)
    household_id: str = Field(index=True, max_length=32)
    reason: str = Field(max_length=40)
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16, index=True)
    opened_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=_tz())
    resolution: str | None = None
    rule: dict[str, Any] = Field(sa_column=_json())
    evidence: list[dict[str, Any]] = Field(sa_column=_json())
    protocol_id: str | None = None
    correlation_id: str | None = None
    # The household's response this alert is evidence for (the escalation it started or
    # joined); None for an alert without a protocol on a household with none running.
    escalation_id: UUID | None = Field(default=None, index=True)


class EscalationRow(Table, table=True):
    __tablename__ = "escalation"
    escalation_id: UUID = Field(primary_key=True)
    alert_id: UUID = Field(index=True)
    household_id: str = Field(index=True, max_length=32)
    partition: int = Field(index=True)
    protocol_id: str
    protocol_version: str
    status: str = Field(max_length=16, index=True)
    triggered_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    steps: dict[str, str] = Field(default_factory=dict, sa_column=_json())
    approvals: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())
    advanced: list[str] = Field(default_factory=list, sa_column=_json())
    trigger_facts: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    closure: str | None = None
    closed_at: datetime | None = Field(default=None, sa_column=_tz())
    next_due_at: datetime | None = Field(default=None, sa_column=_tz())
    correlation_id: str | None = None


class StepExecutionRow(Table, table=True):
    """One row per step that ran: the primary key makes a second firing impossible."""

    __tablename__ = "step_execution"
    escalation_id: UUID = Field(primary_key=True)
    step_id: str = Field(primary_key=True, max_length=64)
    state: str = Field(max_length=24)
    due_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    ran_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    instance: str = Field(max_length=128)
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json())


class UnknownHouseholdRow(Table, table=True):
    """Signals for households the registry never announced: counted and reported."""

    __tablename__ = "unknown_household"
    household_id: str = Field(primary_key=True, max_length=32)
    first_seen: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))
    signals: int = 0
    kinds: dict[str, int] = Field(default_factory=dict, sa_column=_json())


# -- mapping -------------------------------------------------------------------------------


def household_values(snapshot: HouseholdSnapshot, partition: int) -> dict[str, Any]:
    return {
        "partition": partition,
        "revision": snapshot.revision,
        "status": snapshot.status.value,
        "suspended_until": snapshot.suspended_until,
        "timezone": snapshot.timezone,
        "quiet_start": snapshot.quiet_hours.start,
        "quiet_end": snapshot.quiet_hours.end,
        "programme": snapshot.programme,
        "windows": {c.channel.value: c.window_hours for c in snapshot.channels if c.consent},
        "rule_overrides": snapshot.rule_overrides,
        "medical_aid": snapshot.medical_aid,
        "landlord_on_file": snapshot.landlord_on_file,
        "guardians_on_file": snapshot.guardians_on_file,
        "dong_code": snapshot.dong_code,
    }


def watch_config(
    row: HouseholdRow,
    rule: AbsenceRule,
    default_hours: dict[MonitoringChannel, float] | None = None,
) -> WatchConfig:
    """The household's watch configuration under its absence rule (windows, and the learned
    rhythms' parameters when the rule has them); identical ones are shared (a million
    households have a handful of distinct configurations)."""
    defaults = rule.windows_hours or default_hours or {}
    hours = tuple(
        sorted(
            (channel, float(h) if h else defaults.get(MonitoringChannel(channel), 24.0))
            for channel, h in row.windows.items()
        )
    )
    suspended = row.suspended_until if row.status == HouseholdStatus.SUSPENDED.value else None
    if row.hospital_until is not None and (suspended is None or row.hospital_until > suspended):
        suspended = row.hospital_until  # resting while in hospital, as while suspended
    active = row.status not in (HouseholdStatus.MOVED.value, HouseholdStatus.CLOSED.value)
    offline = _offline(row.device_status, rule) if row.device_status else ()
    return _shared_config(
        hours,
        row.quiet_start,
        row.quiet_end,
        row.timezone,
        active,
        suspended,
        _rhythm_key(rule),
        offline,
    )


def _offline(known: dict[str, dict[str, str]], rule: AbsenceRule) -> tuple[tuple[str, float], ...]:
    """The channels last reported offline, with since when (epoch seconds); none unless the
    rule judges offline channels at the floor (``absence.rhythm.offline_at_floor``)."""
    if not rule.offline_at_floor:
        return ()
    return tuple(
        sorted(
            (channel, datetime.fromisoformat(notice["since"]).timestamp())
            for channel, notice in known.items()
            if notice.get("status") == "offline"
        )
    )


_RHYTHM_KEYS: dict[int, tuple[AbsenceRule, str]] = {}
_RHYTHM_PARAMS: dict[str, dict[MonitoringChannel, RhythmParams] | None] = {}


def _rhythm_key(rule: AbsenceRule) -> str:
    """The rule's rhythm parameters as a key for the shared configurations (a string: its
    hash is cached, and indexing a partition asks once per household). Computed once per
    rule object — the catalog hands out a few shared ones; the entry keeps its rule alive,
    so an ``id`` is never reused while cached."""
    found = _RHYTHM_KEYS.get(id(rule))
    if found is None or found[0] is not rule:
        if len(_RHYTHM_KEYS) > 4096:  # households' own overrides may each make a rule object
            _RHYTHM_KEYS.clear()
        key = rule.rhythm.model_dump_json()
        if key not in _RHYTHM_PARAMS:
            _RHYTHM_PARAMS[key] = rhythm_params(rule)
        found = _RHYTHM_KEYS[id(rule)] = (rule, key)
    return found[1]


@lru_cache(maxsize=65536)
def _shared_config(
    hours: tuple[tuple[str, float], ...],
    quiet_start: time,
    quiet_end: time,
    timezone: str,
    active: bool,
    suspended_until: datetime | None,
    rhythm_key: str,
    offline: tuple[tuple[str, float], ...] = (),
) -> WatchConfig:
    rhythms = _RHYTHM_PARAMS[rhythm_key]
    return WatchConfig(
        windows={MonitoringChannel(c): timedelta(hours=h) for c, h in hours},
        quiet=QuietHours(quiet_start, quiet_end),
        tz=ZoneInfo(timezone),
        active=active,
        suspended_until=suspended_until,
        rhythm=dict(rhythms) if rhythms is not None else None,
        offline={MonitoringChannel(c): since for c, since in offline},
    )


RhythmColumns = tuple[float | None, int | None, int | None, bytes | None]
NO_RHYTHM: RhythmColumns = (None, None, None, None)  # nothing new learned: keep what is stored
_SWAP = sys.byteorder != "little"  # the stored form is little-endian on every machine


def rhythm_columns(rhythm: ChannelRhythm) -> RhythmColumns:
    """A learned week as the channel-clock row stores it: its counters' 84 bytes."""
    hits = rhythm.hits
    if _SWAP:
        hits = array("H", hits)
        hits.byteswap()
    return (rhythm.since, rhythm.last_block, rhythm.outages, hits.tobytes())


def rhythm_of(
    since: float | None, last_block: int | None, outages: int | None, week: bytes | None
) -> ChannelRhythm | None:
    """A stored learned week back (None: none stored, or not in the 42-block shape).

    The bytes go into the counters as they are (a restart reads a million: parsing 42
    numbers out of text each was a sixth of a partition load)."""
    if since is None or week is None or len(week) != 2 * BLOCKS_PER_WEEK:
        return None
    rhythm = ChannelRhythm(since)
    rhythm.hits = array("H", bytes(week))  # bytes (a driver's memoryview: copied)
    if _SWAP:
        rhythm.hits.byteswap()
    rhythm.last_block = last_block if last_block is not None else -1
    rhythm.outages = outages or 0
    rhythm.mark_stored()
    return rhythm


def protocol_context(row: HouseholdRow | None, facts: dict[str, Any]) -> Context:
    signal_date = facts.get("signal_date")
    return Context(
        tz=ZoneInfo(row.timezone) if row else ZoneInfo("Asia/Seoul"),
        medical_aid=bool(row and row.medical_aid),
        landlord_on_file=bool(row and row.landlord_on_file),
        guardians_on_file=bool(row and row.guardians_on_file),
        triggered_by_visit=bool(facts.get("triggered_by_visit")),
        abuse=bool(facts.get("abuse")),
        signal_date=date.fromisoformat(signal_date) if signal_date else None,
    )


def escalation_of(row: EscalationRow) -> Escalation:
    return Escalation(
        escalation_id=row.escalation_id,
        alert_id=row.alert_id,
        household_id=row.household_id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        status=EscalationStatus(row.status),
        triggered_at=row.triggered_at,
        steps={k: StepState(v) for k, v in row.steps.items()},
        approvals=tuple(APPROVALS.validate_python(row.approvals)),
        advanced=frozenset(row.advanced),
        closure=EscalationClosure(row.closure) if row.closure else None,
        closed_at=row.closed_at,
    )


def alert_of(row: AlertRow) -> Alert:
    return Alert(
        alert_id=row.alert_id,
        household_id=row.household_id,
        reason=AlertReason(row.reason),
        severity=Severity(row.severity),
        status=AlertStatus(row.status),
        opened_at=row.opened_at,
        rule=RuleRef.model_validate(row.rule),
        evidence=tuple(EVIDENCE.validate_python(row.evidence)),
        resolved_at=row.resolved_at,
        resolution=AlertResolution(row.resolution) if row.resolution else None,
        protocol_id=row.protocol_id,
    )
