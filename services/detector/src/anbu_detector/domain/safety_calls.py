"""The safety-call rule: N consecutive unanswered calls and nobody has confirmed safety."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from anbu_contracts import AlertReason, CallOutcome, EvidenceRef, SafetyCallSignal, SignalKind

from .alerts import Finding
from .rules import SafetyCallRule

_UNANSWERED = frozenset({CallOutcome.UNANSWERED, CallOutcome.UNREACHABLE})


@dataclass(frozen=True)
class SafetyCallState:
    """What the detector remembers of one household's safety calls."""

    consecutive_unanswered: int = 0
    streak: tuple[EvidenceRef, ...] = field(default_factory=tuple)
    last_call_at: datetime | None = None


def evidence_of(signal: SafetyCallSignal) -> EvidenceRef:
    return EvidenceRef(
        event_id=signal.event_id,
        kind=SignalKind.SAFETY_CALL,
        partner_id=signal.partner_id,
        occurred_at=signal.occurred_at,
    )


def apply_safety_call(
    state: SafetyCallState,
    signal: SafetyCallSignal,
    rule: SafetyCallRule,
    rule_version: str,
    last_activity: datetime | None = None,
) -> tuple[SafetyCallState, Finding | None]:
    """Fold one call outcome into the state; return a finding when the streak reaches the rule.

    A call older than the newest one already seen arrives late: it cannot change the streak,
    which is about the most recent calls. ``last_activity`` is the household's latest
    activity on any monitored device: with ``rule.activity_clears``, life shown after the
    first call of the streak means the person is about and just not answering — the streak
    keeps counting, but raises nothing until the calls go unanswered past that activity.
    """
    if state.last_call_at is not None and signal.occurred_at <= state.last_call_at:
        return state, None
    if signal.outcome not in _UNANSWERED:
        return SafetyCallState(last_call_at=signal.occurred_at), None
    streak = (*state.streak, evidence_of(signal))[-rule.unanswered_threshold :]
    new_state = replace(
        state,
        consecutive_unanswered=state.consecutive_unanswered + 1,
        streak=streak,
        last_call_at=signal.occurred_at,
    )
    if new_state.consecutive_unanswered < rule.unanswered_threshold:
        return new_state, None
    if rule.activity_clears and last_activity is not None and last_activity > streak[0].occurred_at:
        return new_state, None
    return new_state, Finding(
        reason=AlertReason.SAFETY_NOT_CONFIRMED,
        severity=rule.severity,
        rule=rule.ref(rule_version),
        evidence=streak,
    )


def reset(state: SafetyCallState) -> SafetyCallState:
    """Someone confirmed the person is safe: the streak starts again."""
    return SafetyCallState(last_call_at=state.last_call_at)
