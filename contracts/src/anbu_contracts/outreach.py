"""What outreach publishes: tasks for people and the outcomes they bring back."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import Field

from .detector import TaskType
from .envelope import Contract, DongCode, Event, HouseholdId, ShortText, UtcDatetime, WorkerId
from .vocabulary import Role


class TaskStatus(StrEnum):
    CREATED = "created"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    STARTED = "started"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    UNASSIGNED = "unassigned"  # nobody could take it: the duty officer has it


class TaskEvent(Event):
    """A change to an outreach task, carrying the task's state after the change."""

    type: Literal["outreach.task"] = "outreach.task"
    task_id: UUID
    household_id: HouseholdId
    dong_code: DongCode | None = Field(
        description="None while the household is unknown to outreach."
    )
    task_type: TaskType
    team: list[Role] = Field(min_length=1, max_length=6)
    deadline: UtcDatetime
    status: TaskStatus
    assignees: list[WorkerId] = Field(default_factory=list, max_length=6)
    escalation_id: UUID | None = None
    step_id: str | None = Field(default=None, max_length=128)
    action_id: str | None = Field(default=None, max_length=128)
    reason: str | None = Field(default=None, max_length=256)


class OutcomeResult(StrEnum):
    CONTACT_CONFIRMED = "contact_confirmed"
    NOT_FOUND = "not_found"
    HOSPITALISED = "hospitalised"
    EMERGENCY_SERVICES = "emergency_services"
    MOVED = "moved"
    DECEASED = "deceased"
    REFUSED = "refused"
    NO_NEED = "no_need"


class ItemState(StrEnum):
    OK = "ok"
    CONCERN = "concern"
    NOT_CHECKED = "not_checked"


class MonitoringItems(Contract):
    """The six items every routine contact checks (domain brief §4)."""

    safety_environment: ItemState = ItemState.NOT_CHECKED
    health: ItemState = ItemState.NOT_CHECKED
    care_system: ItemState = ItemState.NOT_CHECKED
    social_relations: ItemState = ItemState.NOT_CHECKED
    service_diagnosis: ItemState = ItemState.NOT_CHECKED
    service_linkage: ItemState = ItemState.NOT_CHECKED


class Need(StrEnum):
    INCOME = "income"
    FOOD = "food"
    HOUSING = "housing"
    PHYSICAL_HEALTH = "physical_health"
    MENTAL_HEALTH = "mental_health"
    CARE = "care"
    DEBT = "debt"
    LEGAL = "legal"
    RELATIONSHIPS = "relationships"
    DAILY_LIVING = "daily_living"
    OTHER = "other"


class ContactMode(StrEnum):
    PHONE = "phone"
    VISIT = "visit"
    OTHER = "other"


class OutcomeEvent(Event):
    """What a person found. Free-text notes stay in outreach's database (``note_ref``)."""

    type: Literal["outreach.outcome"] = "outreach.outcome"
    outcome_id: UUID
    household_id: HouseholdId
    result: OutcomeResult
    contact_mode: ContactMode
    recorded_by: WorkerId
    task_id: UUID | None = None
    escalation_id: UUID | None = None
    step_id: str | None = Field(default=None, max_length=128)
    action_id: str | None = Field(default=None, max_length=128)
    monitoring: MonitoringItems = Field(default_factory=MonitoringItems)
    needs: list[Need] = Field(default_factory=list, max_length=11)
    follow_up: bool = False
    note_ref: ShortText | None = None
    contacted_at: UtcDatetime | None = None
