"""Versioned rule configuration, validated on load (the YAML lives in ``config/rules.yaml``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from anbu_contracts import AlertReason, RuleRef, Severity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SafetyCallRule(_Strict):
    """Consecutive unanswered (or unreachable) calls mean "safety not confirmed"."""

    rule_id: str = "safety-call.unanswered-streak"
    unanswered_threshold: int = Field(default=3, ge=1, le=20)
    severity: Severity = Severity.ALERT

    def ref(self, version: str) -> RuleRef:
        return RuleRef(
            rule_id=self.rule_id,
            rule_version=version,
            thresholds={"unanswered_threshold": self.unanswered_threshold},
        )


class ProtocolTrigger(_Strict):
    reason: AlertReason
    protocol_id: str


class RuleSet(_Strict):
    """One programme's rules. ``version`` is recorded on every alert the rules decide."""

    version: str = Field(min_length=1, max_length=64)
    programme: str = "default"
    safety_call: SafetyCallRule = SafetyCallRule()
    protocols: list[ProtocolTrigger] = Field(default_factory=list)

    def protocol_for(self, reason: AlertReason) -> str | None:
        for trigger in self.protocols:
            if trigger.reason is reason:
                return trigger.protocol_id
        return None
