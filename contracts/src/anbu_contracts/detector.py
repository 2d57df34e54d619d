"""What the detector publishes: alerts and the steps of escalation protocols."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from .envelope import Contract, Event, HouseholdId, PartnerId, ShortText, UtcDatetime
from .signals import SignalKind
from .vocabulary import Role, Severity, Urgency


class AlertReason(StrEnum):
    SAFETY_NOT_CONFIRMED = "safety_not_confirmed"
    CHANNEL_SILENT = "channel_silent"
    ARREARS = "arrears"
    DISCONNECTION = "disconnection"
    USAGE_DROP = "usage_drop"
    SAFETY_CALL_CONCERN = "safety_call_concern"
    HUMAN_REPORT = "human_report"
    SOS = "sos"
    BLIND_SPOT = "blind_spot"
    HOSPITAL_DISCHARGE = "hospital_discharge"
    MAIL_UNCOLLECTED = "mail_uncollected"


class AlertChange(StrEnum):
    OPENED = "opened"
    EVIDENCE_ADDED = "evidence_added"
    SEVERITY_RAISED = "severity_raised"
    SEVERITY_LOWERED = "severity_lowered"
    RESOLVED = "resolved"


class AlertStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class AlertResolution(StrEnum):
    OUTCOME = "outcome"  # a person confirmed or otherwise settled it
    RECOVERY = "recovery"  # activity resumed and the rule allows automatic resolution
    OPERATOR = "operator"
    HOUSEHOLD_INACTIVE = "household_inactive"  # suspended, moved, closed, consent withdrawn


class RuleRef(Contract):
    """Which rule decided, in which version, with which thresholds: the "why"."""

    rule_id: ShortText
    rule_version: ShortText
    thresholds: dict[str, float | int | str | bool] = Field(default_factory=dict)


class EvidenceRef(Contract):
    event_id: UUID
    kind: SignalKind
    partner_id: PartnerId
    occurred_at: UtcDatetime


class AlertEvent(Event):
    """A change to an alert, carrying the alert's whole state after the change."""

    type: Literal["detector.alert"] = "detector.alert"
    alert_id: UUID
    household_id: HouseholdId
    reason: AlertReason
    change: AlertChange
    severity: Severity
    status: AlertStatus
    opened_at: UtcDatetime
    resolved_at: UtcDatetime | None = None
    resolution: AlertResolution | None = None
    rule: RuleRef
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=500)
    protocol_id: str | None = Field(default=None, max_length=64)


class RecipientKind(StrEnum):
    RESIDENT = "resident"
    GUARDIAN = "guardian"  # parents, children and other support obligors (부양의무자)
    LANDLORD = "landlord"
    NEIGHBOUR = "neighbour"
    STAFF = "staff"
    DUTY_OFFICER = "duty_officer"
    POLICE_LIAISON = "police_liaison"
    FIRE_LIAISON = "fire_liaison"  # 119


class RecipientRef(Contract):
    """Who a message is for, by reference only; the notifier resolves the address."""

    kind: RecipientKind
    household_id: HouseholdId | None = None
    ref: str | None = Field(
        default=None, max_length=64, description="Person, contact or worker id where one is meant."
    )


class TaskType(StrEnum):
    PHONE_CHECK = "phone_check"
    VISIT_STICKER = "visit_sticker"
    HOME_VISIT = "home_visit"
    HOSPITAL_CHECK = "hospital_check"
    LANDLORD_CHECK = "landlord_check"
    GUARDIAN_CONTACT = "guardian_contact"
    DOOR_OPENING = "door_opening"
    MISSING_PERSON_REPORT = "missing_person_report"
    EMERGENCY_RESPONSE = "emergency_response"
    INVESTIGATION = "investigation"
    TRANSITION_CARE = "transition_care"
    ROUTINE_CONTACT = "routine_contact"
    CASE_DECISION = "case_decision"  # after a welfare check: case, services, or no need


class TaskAction(Contract):
    action: Literal["task"] = "task"
    action_id: ShortText
    task_type: TaskType
    team: list[Role] = Field(min_length=1, max_length=6)
    deadline: UtcDatetime
    preconditions: list[ShortText] = Field(default_factory=list)


class NotifyAction(Contract):
    action: Literal["notify"] = "notify"
    action_id: ShortText
    recipient: RecipientRef
    template: ShortText
    urgency: Urgency
    variables: dict[str, str] = Field(default_factory=dict)


class LogAction(Contract):
    """A consultation-log (상담내역) record the registry writes for the step."""

    action: Literal["log"] = "log"
    action_id: ShortText
    entry_type: ShortText


Action = Annotated[TaskAction | NotifyAction | LogAction, Field(discriminator="action")]


class ApprovalRecord(Contract):
    """Who asked for a legally sensitive step, who approved it, and who was present."""

    kind: ShortText = Field(description="e.g. door_opening, missing_person_report")
    requested_by: ShortText
    approved_by: ShortText
    present: list[ShortText] = Field(default_factory=list, max_length=20)
    recorded_at: UtcDatetime


class StepRecord(Contract):
    step_id: ShortText
    title: ShortText
    due_at: UtcDatetime
    executed_at: UtcDatetime
    actions: list[Action] = Field(default_factory=list, max_length=50)
    note: str | None = Field(
        default=None,
        max_length=256,
        description="Why a step was skipped, is waiting, or was cancelled.",
    )
    approval: ApprovalRecord | None = None


class EscalationChange(StrEnum):
    STARTED = "started"
    STEP_EXECUTED = "step_executed"
    STEP_SKIPPED = "step_skipped"  # its condition did not hold (e.g. no landlord on file)
    STEP_AWAITING_APPROVAL = "step_awaiting_approval"  # due, but needs a recorded approval
    APPROVAL_RECORDED = "approval_recorded"
    # Not run because the escalation closed first (published just before CLOSED; the step's
    # note gives the closure as the reason).
    STEP_CANCELLED = "step_cancelled"
    # One active response per household: a new alert on a household with a running
    # escalation joins it as evidence (``joined_alert_id``), and a more severe one upgrades
    # it to the stronger protocol (``previous_protocol_id``; ``protocol_id`` is the new one,
    # ``triggered_at`` when it took over). Steps of the weaker protocol that had not run are
    # published as STEP_CANCELLED (superseded) just before UPGRADED.
    ALERT_JOINED = "alert_joined"
    UPGRADED = "upgraded"
    CLOSED = "closed"


class EscalationStatus(StrEnum):
    RUNNING = "running"
    CLOSED = "closed"


class EscalationClosure(StrEnum):
    CONTACT_CONFIRMED = "contact_confirmed"
    HOSPITALISED = "hospitalised"
    EMERGENCY_SERVICES = "emergency_services"
    MOVED = "moved"
    DECEASED = "deceased"
    REFUSED = "refused"
    NO_NEED = "no_need"
    COMPLETED = "completed"  # the protocol's final decision was recorded
    ACTIVITY_RESUMED = "activity_resumed"  # the silent channels showed life again
    OPERATOR = "operator"
    HOUSEHOLD_INACTIVE = "household_inactive"


class EscalationEvent(Event):
    """A change to a running protocol: started, one step executed, an alert joined, an
    upgrade to a stronger protocol, or closed."""

    type: Literal["detector.escalation"] = "detector.escalation"
    escalation_id: UUID
    alert_id: UUID
    household_id: HouseholdId
    protocol_id: ShortText
    protocol_version: ShortText
    change: EscalationChange
    status: EscalationStatus
    triggered_at: UtcDatetime
    step: StepRecord | None = None
    next_step_id: str | None = Field(default=None, max_length=128)
    next_step_due_at: UtcDatetime | None = None
    closure: EscalationClosure | None = None
    joined_alert_id: UUID | None = Field(
        default=None, description="ALERT_JOINED, UPGRADED: the alert that joined the response."
    )
    previous_protocol_id: str | None = Field(
        default=None, max_length=64, description="UPGRADED: the protocol it replaced."
    )
