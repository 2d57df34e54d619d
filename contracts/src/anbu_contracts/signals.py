"""Signals: what partners send (domain brief §3). One model per signal kind, one topic each.

A signal names a household only by its pseudonymous id. It never carries a name, phone
number, address or resident registration number; the models forbid unknown fields so that
such data cannot ride along unnoticed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from .envelope import Contract, Event, HouseholdId, PartnerId, ShortText, UtcDatetime
from .vocabulary import MonitoringChannel


class SignalKind(StrEnum):
    ARREARS = "arrears"
    DISCONNECTION = "disconnection"
    USAGE_DROP = "usage_drop"
    SAFETY_CALL = "safety_call"
    HEARTBEAT = "heartbeat"
    REPORT = "report"
    SOS = "sos"
    BLIND_SPOT = "blind_spot"
    HOSPITAL_DISCHARGE = "hospital_discharge"
    HOSPITAL_ADMISSION = "hospital_admission"
    DEVICE_STATUS = "device_status"
    MAIL_UNCOLLECTED = "mail_uncollected"
    WATER_METER = "water_meter"


class Signal(Event):
    """Fields every signal has. ``occurred_at`` is when the partner observed it."""

    household_id: HouseholdId
    partner_id: PartnerId
    partner_event_id: ShortText = Field(
        description="The partner's own id for this observation; resending it is idempotent."
    )


class ArrearsType(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    GAS = "gas"
    TELECOM = "telecom"
    HEALTH_INSURANCE = "health_insurance"
    PENSION = "pension"
    RENT = "rent"
    PUBLIC_RENTAL = "public_rental"
    MAINTENANCE_FEE = "maintenance_fee"


class ArrearsSignal(Signal):
    """체납: a utility, insurance, rent or fee account overdue."""

    kind: Literal["arrears"] = "arrears"
    arrears_type: ArrearsType
    months_overdue: int = Field(ge=0, le=600)
    amount_krw: int = Field(ge=0)
    as_of: date


class Utility(StrEnum):
    POWER = "power"
    WATER = "water"
    GAS = "gas"
    HEATING = "heating"


class DisconnectionState(StrEnum):
    CUT = "cut"
    PENDING = "pending"


class DisconnectionSignal(Signal):
    """단전·단수·단가스: a supply cut, or a cut announced."""

    kind: Literal["disconnection"] = "disconnection"
    utility: Utility
    state: DisconnectionState


class DailyUsage(Contract):
    day: date
    value: float = Field(ge=0)


class UsageDropSignal(Signal):
    """사용량 급감: a daily usage series, or a drop the partner computed itself."""

    kind: Literal["usage_drop"] = "usage_drop"
    utility: Utility
    daily_usage: list[DailyUsage] | None = Field(default=None, max_length=400)
    drop_ratio: float | None = Field(
        default=None, ge=0, le=1, description="1 - recent/baseline, computed by the partner."
    )
    window_days: int = Field(default=7, ge=1, le=90)

    @model_validator(mode="after")
    def _series_or_ratio(self) -> UsageDropSignal:
        if self.daily_usage is None and self.drop_ratio is None:
            raise ValueError("a usage-drop signal needs daily_usage or drop_ratio")
        return self


class CallOutcome(StrEnum):
    ANSWERED_OK = "answered_ok"
    ANSWERED_CONCERN = "answered_concern"
    UNANSWERED = "unanswered"
    UNREACHABLE = "unreachable"


class Concern(StrEnum):
    ILL = "ill"
    NO_FOOD = "no_food"
    ASKS_FOR_HELP = "asks_for_help"
    LONELY = "lonely"
    OTHER = "other"


class Caller(StrEnum):
    AI = "ai"
    STAFF = "staff"


class SafetyCallSignal(Signal):
    """안부전화: the outcome of one AI or staff safety call."""

    kind: Literal["safety_call"] = "safety_call"
    outcome: CallOutcome
    concerns: list[Concern] = Field(default_factory=list, max_length=8)
    caller: Caller = Caller.AI

    @model_validator(mode="after")
    def _concerns_only_with_concern(self) -> SafetyCallSignal:
        if self.outcome is CallOutcome.ANSWERED_CONCERN and not self.concerns:
            raise ValueError("an answered_concern call must name at least one concern")
        if self.outcome is not CallOutcome.ANSWERED_CONCERN and self.concerns:
            raise ValueError("concerns are only allowed when outcome is answered_concern")
        return self


class Activity(StrEnum):
    CALL = "call"
    TEXT = "text"
    DATA = "data"
    UNLOCK = "unlock"
    TOUCH = "touch"
    CHARGE = "charge"
    POWER = "power"
    LIGHT = "light"
    MOTION = "motion"
    STEP = "step"
    APPLIANCE_USE = "appliance_use"


class HeartbeatSignal(Signal):
    """Activity heartbeat: the last time a device or channel showed life."""

    kind: Literal["heartbeat"] = "heartbeat"
    channel: MonitoringChannel
    device_id: ShortText
    last_active_at: UtcDatetime
    activity: Activity | None = None


class DeviceState(StrEnum):
    OFFLINE = "offline"  # unreachable: switched off, out of coverage, no connection
    ONLINE = "online"  # reachable again


class DeviceStatusSignal(Signal):
    """단말 상태: a carrier or device vendor reporting that a device went offline or came back.

    Offline is not the same as unused: a handset switched off or a plug that lost its
    connection cannot report activity, so its silence says nothing about the resident.
    ``since``: when the device went offline (or came back), as the partner's network saw it.
    """

    kind: Literal["device_status"] = "device_status"
    channel: MonitoringChannel
    device_id: ShortText
    status: DeviceState
    since: UtcDatetime


class ReporterRole(StrEnum):
    METER_READER = "meter_reader"
    POSTAL_CARRIER = "postal_carrier"
    APARTMENT_MANAGER = "apartment_manager"
    LANDLORD = "landlord"
    SHOP = "shop"
    HONORARY_OFFICER = "honorary_officer"
    BLOCK_LEADER = "block_leader"
    DELIVERY_WORKER = "delivery_worker"
    NEIGHBOUR = "neighbour"
    VOLUNTEER = "volunteer"
    HOTLINE = "hotline"
    SELF = "self"
    OTHER = "other"


class ReportCategory(StrEnum):
    NO_RESPONSE = "no_response"
    MAIL_PILING_UP = "mail_piling_up"
    ODOUR = "odour"
    CUTOFF_SEEN = "cutoff_seen"
    HOARDING = "hoarding"
    FOOD_INSECURITY = "food_insecurity"
    EVICTION_RISK = "eviction_risk"
    SUICIDE_RISK = "suicide_risk"
    ABUSE = "abuse"
    EMERGENCY = "emergency"
    OTHER = "other"


class ReportUrgency(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"


class ReportSignal(Signal):
    """제보·신고: a report from the human safety net.

    The reporter's free text stays in the gateway's submission log; the event carries only a
    reference to it (``note_ref``) so that free text, which may name people, never travels.
    """

    kind: Literal["report"] = "report"
    reporter_role: ReporterRole
    reporter_id: ShortText
    category: ReportCategory
    urgency: ReportUrgency = ReportUrgency.NORMAL
    note_ref: str | None = Field(default=None, max_length=64)


class SosTrigger(StrEnum):
    BUTTON = "button"
    VOICE = "voice"
    FALL_DETECTOR = "fall_detector"


class SosSignal(Signal):
    """긴급호출: an emergency button or an AI speaker hearing "help"."""

    kind: Literal["sos"] = "sos"
    device_id: ShortText
    trigger: SosTrigger = SosTrigger.BUTTON


class BlindSpotSignal(Signal):
    """발굴대상: one row of a national or municipal blind-spot list round."""

    kind: Literal["blind_spot"] = "blind_spot"
    round_id: ShortText = Field(description="List round, e.g. '2026-6' for the sixth round.")
    reasons: list[ShortText] = Field(min_length=1, max_length=45)
    due_date: date


class HospitalDischargeSignal(Signal):
    """퇴원: a partner hospital announcing a discharge."""

    kind: Literal["hospital_discharge"] = "hospital_discharge"
    discharge_date: date
    needs: list[ShortText] = Field(default_factory=list, max_length=20)


class HospitalAdmissionSignal(Signal):
    """입원: a partner hospital announcing that a resident was admitted.

    ``expected_discharge``: the planned discharge date as the ward knows it at admission
    (None: not planned yet). A later discharge notice supersedes it.
    """

    kind: Literal["hospital_admission"] = "hospital_admission"
    admitted_on: date
    expected_discharge: date | None = None

    @model_validator(mode="after")
    def _discharge_after_admission(self) -> HospitalAdmissionSignal:
        if self.expected_discharge is not None and self.expected_discharge < self.admitted_on:
            raise ValueError("expected_discharge is before admitted_on")
        return self


class MailUncollectedSignal(Signal):
    """우편물 방치: registered welfare mail not delivered, or mail piling up."""

    kind: Literal["mail_uncollected"] = "mail_uncollected"
    days_uncollected: int = Field(ge=0, le=3650)


class WaterMeterSignal(Signal):
    """수도 원격검침: a smart water meter's remote reading.

    ``hours_without_flow``: how long no water has flowed through the meter;
    ``litres_last_24h``: the last day's use; ``baseline_litres_per_day``: the household's
    usual daily use as the meter operator knows it (e.g. its median over recent weeks), so
    that a sudden drop is judged against this household and not an average one.
    """

    kind: Literal["water_meter"] = "water_meter"
    meter_id: ShortText
    hours_without_flow: float = Field(ge=0, le=24 * 366)
    litres_last_24h: float = Field(ge=0)
    baseline_litres_per_day: float | None = Field(default=None, gt=0)


AnySignal = Annotated[
    ArrearsSignal
    | DisconnectionSignal
    | UsageDropSignal
    | SafetyCallSignal
    | HeartbeatSignal
    | ReportSignal
    | SosSignal
    | BlindSpotSignal
    | HospitalDischargeSignal
    | HospitalAdmissionSignal
    | DeviceStatusSignal
    | MailUncollectedSignal
    | WaterMeterSignal,
    Field(discriminator="kind"),
]

SIGNAL_MODELS: dict[SignalKind, type[Signal]] = {
    SignalKind.ARREARS: ArrearsSignal,
    SignalKind.DISCONNECTION: DisconnectionSignal,
    SignalKind.USAGE_DROP: UsageDropSignal,
    SignalKind.SAFETY_CALL: SafetyCallSignal,
    SignalKind.HEARTBEAT: HeartbeatSignal,
    SignalKind.REPORT: ReportSignal,
    SignalKind.SOS: SosSignal,
    SignalKind.BLIND_SPOT: BlindSpotSignal,
    SignalKind.HOSPITAL_DISCHARGE: HospitalDischargeSignal,
    SignalKind.HOSPITAL_ADMISSION: HospitalAdmissionSignal,
    SignalKind.DEVICE_STATUS: DeviceStatusSignal,
    SignalKind.MAIL_UNCOLLECTED: MailUncollectedSignal,
    SignalKind.WATER_METER: WaterMeterSignal,
}

any_signal_adapter: TypeAdapter[AnySignal] = TypeAdapter(AnySignal)
