"""Versioned rule configuration (``config/rules.yaml``), validated on load.

One rule set per programme: the ``default`` rules, and per programme a map of overrides by
dotted path (``absence.windows_hours.phone: 12``). A household's ``rule_overrides`` (from the
registry) apply on top of its programme. Every alert records the rule id, the rule set
version and the thresholds that decided it.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from anbu_contracts import (
    AlertReason,
    ArrearsType,
    Concern,
    MonitoringChannel,
    ReportCategory,
    ReportUrgency,
    RuleRef,
    Severity,
    Utility,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _cold_start() -> dict[MonitoringChannel, list[float]]:
    # The chance of activity in each 4-hour block of a day (00–04, 04–08, … 20–24) for a
    # household with no history yet: deliberately modest, so that a new household's
    # silence is judged cautiously until its own weeks outweigh the default.
    person = [0.05, 0.3, 0.6, 0.6, 0.6, 0.4]
    return {
        MonitoringChannel.PHONE: person,
        MonitoringChannel.SMART_PLUG: [0.1, 0.3, 0.5, 0.5, 0.6, 0.5],
        MonitoringChannel.MOTION_SENSOR: person,
        MonitoringChannel.WEARABLE: person,
        MonitoringChannel.APPLIANCE: [0.05, 0.2, 0.4, 0.4, 0.5, 0.4],
    }


class RhythmRule(_Strict):
    """Silence judged against each household's own learned week (see ``domain/rhythm.py``).

    A channel is silent when its silence reaches ``threshold_nats`` of surprise (about
    e^-threshold: the chance this household would be that quiet on an ordinary week),
    never before ``min_hours`` and always by ``max_hours`` — the absolute floor.
    """

    enabled: bool = False
    threshold_nats: float = Field(default=6.0, gt=0, le=60)
    min_hours: float = Field(default=8.0, gt=0, le=72)
    max_hours: float = Field(default=48.0, gt=0, le=168)
    prior_weeks: float = Field(default=2.0, gt=0, le=52)
    outage_weight: float = Field(default=1.0, ge=0, le=20)
    cold_start: dict[MonitoringChannel, list[float]] = Field(default_factory=_cold_start)
    # A household silent everywhere with a score below this gets an automated check first
    # (``check_first_severity``); at or above it — or at the floor — a person at once.
    person_at_nats: float = Field(default=18.0, gt=0)
    check_first_severity: Severity = Severity.CAUTION
    # A channel whose device a carrier or vendor reports offline (``device_status``) is
    # blind, not silent: its silence counts only at the floor (``max_hours`` after its last
    # activity), and it stands with the silent channels in the fusion (a household silent
    # everywhere else still gets its automated check); back online, its silence counts from
    # the return. Off: offline notices change nothing (rules before 2026.12.5).
    offline_at_floor: bool = False

    @model_validator(mode="after")
    def _sane(self) -> RhythmRule:
        if self.min_hours > self.max_hours:
            raise ValueError("rhythm.min_hours must not exceed rhythm.max_hours")
        for channel, blocks in self.cold_start.items():
            if len(blocks) != 6 or not all(0 <= p < 1 for p in blocks):
                raise ValueError(f"rhythm.cold_start.{channel.value}: six values in [0, 1)")
        return self


class AbsenceRule(_Strict):
    """Inactivity windows per channel; quiet hours extend a window, never shorten it."""

    rule_id: str = "absence.channel-windows"
    windows_hours: dict[MonitoringChannel, float] = Field(
        default_factory=lambda: {
            MonitoringChannel.PHONE: 24.0,
            MonitoringChannel.SMART_PLUG: 36.0,
            MonitoringChannel.MOTION_SENSOR: 24.0,
            MonitoringChannel.WEARABLE: 24.0,
            MonitoringChannel.APPLIANCE: 36.0,
        }
    )
    quiet_start: time = time(23, 0)
    quiet_end: time = time(7, 0)
    one_silent_severity: Severity = Severity.WATCH
    all_silent_severity: Severity = Severity.ALERT
    recovery_resolves: bool = True
    rhythm: RhythmRule = RhythmRule()

    @property
    def offline_at_floor(self) -> bool:
        """Device-status notices count (``rhythm.offline_at_floor``): only with learned
        rhythms, whose floor an offline channel falls back on; fixed windows ignore them."""
        return self.rhythm.enabled and self.rhythm.offline_at_floor

    def window_hours(self, channel: MonitoringChannel) -> float:
        return self.windows_hours.get(channel, 24.0)


class SafetyCallRule(_Strict):
    """Consecutive unanswered (or unreachable) calls mean "safety not confirmed"."""

    rule_id: str = "safety-call.unanswered-streak"
    unanswered_threshold: int = Field(default=3, ge=1, le=20)
    severity: Severity = Severity.ALERT
    # Activity on a monitored device after the streak's first call: no alert (yet).
    activity_clears: bool = False
    concern_rule_id: str = "safety-call.concern"
    concern_severity: dict[Concern, Severity] = Field(
        default_factory=lambda: {
            Concern.ASKS_FOR_HELP: Severity.CRITICAL,
            Concern.ILL: Severity.ALERT,
            Concern.NO_FOOD: Severity.ALERT,
            Concern.LONELY: Severity.WATCH,
            Concern.OTHER: Severity.CAUTION,
        }
    )

    def ref(self, version: str) -> RuleRef:
        return RuleRef(
            rule_id=self.rule_id,
            rule_version=version,
            thresholds={
                "unanswered_threshold": self.unanswered_threshold,
                **({"activity_clears": True} if self.activity_clears else {}),
            },
        )


class ArrearsRule(_Strict):
    rule_id: str = "arrears.months-overdue"
    min_months_overdue: int = Field(default=3, ge=1, le=24)
    severity: Severity = Severity.CAUTION
    double_check_window_days: int = Field(default=60, ge=1, le=365)
    double_check_min_types: int = Field(default=2, ge=2, le=9)
    double_check_severity: Severity = Severity.ALERT
    types: list[ArrearsType] = Field(default_factory=lambda: list(ArrearsType))
    # After a person found the household well, the same debt alerts again only when it has
    # grown by this many months (0: every monthly file alerts again, the 2026.11 behaviour).
    recheck_after_months: int = Field(default=0, ge=0, le=24)


class DisconnectionRule(_Strict):
    rule_id: str = "disconnection.cut"
    high_utilities: list[Utility] = Field(
        default_factory=lambda: [Utility.POWER, Utility.GAS, Utility.HEATING]
    )
    cut_severity: Severity = Severity.ALERT
    cut_severity_winter: Severity = Severity.CRITICAL
    winter_months: list[int] = Field(default_factory=lambda: [11, 12, 1, 2, 3])
    other_cut_severity: Severity = Severity.CAUTION
    pending_severity: Severity = Severity.CAUTION


class UsageDropRule(_Strict):
    rule_id: str = "usage-drop.baseline"
    min_drop_ratio: float = Field(default=0.8, gt=0, le=1)
    baseline_days: int = Field(default=28, ge=7, le=365)
    window_days: int = Field(default=7, ge=1, le=60)
    severity: Severity = Severity.CAUTION


class ReportRule(_Strict):
    rule_id: str = "report.category"
    critical_categories: list[ReportCategory] = Field(
        default_factory=lambda: [
            ReportCategory.SUICIDE_RISK,
            ReportCategory.ABUSE,
            ReportCategory.EMERGENCY,
        ]
    )
    severity: Severity = Severity.ALERT
    urgency_severity: dict[ReportUrgency, Severity] = Field(
        default_factory=lambda: {ReportUrgency.EMERGENCY: Severity.CRITICAL}
    )


class SimpleRule(_Strict):
    rule_id: str
    severity: Severity


class MailRule(_Strict):
    rule_id: str = "mail.uncollected"
    min_days: int = Field(default=7, ge=1, le=365)
    severity: Severity = Severity.CAUTION
    # Activity on a monitored device this recently: the person is about (0: not used).
    active_within_hours: float = Field(default=0, ge=0, le=24 * 14)


class HospitalStayRule(_Strict):
    """A stay reported by a partner hospital explains a household's silence.

    ``pause_watch``: from an admission notice until the planned discharge (or a discharge
    notice's date), the absence watch rests and only human signals (SOS, reports) and the
    hospital's own notices are heard, as for a suspended household; the windows start again
    at ``back_home_hour`` on the discharge day. Without a planned date the pause lasts
    ``default_stay_days``. Off: admissions change nothing (the 2026.11 behaviour).
    """

    rule_id: str = "hospital.stay"
    pause_watch: bool = False
    default_stay_days: int = Field(default=14, ge=1, le=90)
    back_home_hour: int = Field(default=12, ge=0, le=23)


class WaterMeterRule(_Strict):
    """수도 원격검침: no water at all for hours, or a day far below the household's baseline."""

    rule_id: str = "water-meter.no-flow-or-drop"
    no_flow_hours: float = Field(default=24, gt=0, le=24 * 30)
    no_flow_severity: Severity = Severity.ALERT
    min_drop_ratio: float = Field(default=0.7, gt=0, le=1)
    drop_severity: Severity = Severity.CAUTION


class ProtocolTrigger(_Strict):
    """Which alert starts which protocol; the first matching trigger wins."""

    reason: AlertReason
    protocol_id: str
    min_severity: Severity | None = None

    def matches(self, reason: AlertReason, severity: Severity) -> bool:
        if reason is not self.reason:
            return False
        return self.min_severity is None or severity.rank >= self.min_severity.rank


class RuleSet(_Strict):
    """One programme's rules. ``version`` is recorded on every alert the rules decide."""

    version: str = Field(min_length=1, max_length=64)
    programme: str = "default"
    absence: AbsenceRule = AbsenceRule()
    safety_call: SafetyCallRule = SafetyCallRule()
    arrears: ArrearsRule = ArrearsRule()
    disconnection: DisconnectionRule = DisconnectionRule()
    usage_drop: UsageDropRule = UsageDropRule()
    report: ReportRule = ReportRule()
    sos: SimpleRule = SimpleRule(rule_id="sos.button", severity=Severity.CRITICAL)
    blind_spot: SimpleRule = SimpleRule(rule_id="blind-spot.round", severity=Severity.CAUTION)
    hospital_discharge: SimpleRule = SimpleRule(
        rule_id="hospital.discharge", severity=Severity.CAUTION
    )
    hospital_stay: HospitalStayRule = HospitalStayRule()
    mail_uncollected: MailRule = MailRule()
    water_meter: WaterMeterRule = WaterMeterRule()
    protocols: list[ProtocolTrigger] = Field(default_factory=list)

    def protocol_for(self, reason: AlertReason, severity: Severity = Severity.WATCH) -> str | None:
        for trigger in self.protocols:
            if trigger.matches(reason, severity):
                return trigger.protocol_id
        return None

    def with_overrides(self, overrides: dict[str, Any]) -> RuleSet:
        """A copy with dotted-path overrides applied (validated like the file)."""
        if not overrides:
            return self
        data = self.model_dump(mode="json")
        for path, value in overrides.items():
            target = data
            *parents, leaf = path.split(".")
            for key in parents:
                if not isinstance(target.get(key), dict):
                    raise ValueError(f"unknown rule override {path!r}")
                target = target[key]
            if leaf not in target:
                raise ValueError(f"unknown rule override {path!r}")
            target[leaf] = value
        return RuleSet.model_validate(data)


class RuleCatalog(_Strict):
    """The file: the default rule set and per-programme overrides."""

    default: RuleSet
    programmes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    _resolved: dict[tuple[str, tuple[tuple[str, float], ...]], RuleSet] = PrivateAttr(
        default_factory=dict
    )

    def for_household(self, programme: str, overrides: dict[str, float]) -> RuleSet:
        """The rules for a household of ``programme`` with its own overrides (cached)."""
        key = (programme, tuple(sorted(overrides.items())))
        found = self._resolved.get(key)
        if found is None:
            base = self.default
            if programme in self.programmes:
                base = base.with_overrides(self.programmes[programme]).model_copy(
                    update={"programme": programme}
                )
            found = base.with_overrides(dict(overrides)) if overrides else base
            self._resolved[key] = found
        return found
