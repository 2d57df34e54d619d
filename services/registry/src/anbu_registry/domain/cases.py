"""Integrated case management (통합사례관리) as a state machine (domain brief §7).

discovery → first counselling → home visit and crisis confirmation → case opened (with a
level) → assessment → plan → service linkage → monitoring → closure → follow-up. A case
found to need nothing is closed from any state before it opens. Illegal moves are refused
with a clear reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum


class CaseState(StrEnum):
    DISCOVERED = "discovered"  # 발굴
    COUNSELLING = "counselling"  # 초기상담
    CRISIS_CONFIRMED = "crisis_confirmed"  # 가정방문·위기확인
    OPENED = "opened"  # 사례개입 (level set)
    ASSESSED = "assessed"  # 욕구·위기 사정
    PLANNED = "planned"  # 서비스 계획
    LINKED = "linked"  # 서비스 연계
    MONITORING = "monitoring"  # 점검
    CLOSED = "closed"  # 종결
    FOLLOW_UP = "follow_up"  # 사후관리


class CaseLevel(StrEnum):
    ORDINARY = "ordinary"  # 일반
    HIGH_DIFFICULTY = "high_difficulty"  # 고난도: goes to case meetings
    JOINT = "joint"  # 공동


class AssessmentDomain(StrEnum):
    INCOME_AND_WORK = "income_and_work"
    MENTAL_HEALTH = "mental_health"
    PHYSICAL_HEALTH = "physical_health"
    HOUSING = "housing"
    EDUCATION = "education"
    RELATIONSHIPS = "relationships"
    DAILY_LIVING = "daily_living"


class ServiceType(StrEnum):
    EMERGENCY_AID = "emergency_aid"  # 긴급지원
    LIVELIHOOD_BENEFIT = "livelihood_benefit"
    MEDICAL_BENEFIT = "medical_benefit"
    HOUSING_BENEFIT = "housing_benefit"
    FOOD = "food"
    HOUSING_DEPOSIT = "housing_deposit"
    DEBT_COUNSELLING = "debt_counselling"
    LEGAL_AID = "legal_aid"
    MENTAL_HEALTH_CENTRE = "mental_health_centre"
    OTHER = "other"


TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.DISCOVERED: frozenset({CaseState.COUNSELLING, CaseState.CLOSED}),
    CaseState.COUNSELLING: frozenset({CaseState.CRISIS_CONFIRMED, CaseState.CLOSED}),
    CaseState.CRISIS_CONFIRMED: frozenset({CaseState.OPENED, CaseState.CLOSED}),
    CaseState.OPENED: frozenset({CaseState.ASSESSED, CaseState.CLOSED}),
    CaseState.ASSESSED: frozenset({CaseState.PLANNED, CaseState.CLOSED}),
    CaseState.PLANNED: frozenset({CaseState.LINKED, CaseState.CLOSED}),
    CaseState.LINKED: frozenset({CaseState.MONITORING, CaseState.CLOSED}),
    CaseState.MONITORING: frozenset({CaseState.LINKED, CaseState.PLANNED, CaseState.CLOSED}),
    CaseState.CLOSED: frozenset({CaseState.FOLLOW_UP}),
    CaseState.FOLLOW_UP: frozenset({CaseState.DISCOVERED}),  # a new crisis starts again
}
OPEN_STATES = frozenset(set(CaseState) - {CaseState.CLOSED, CaseState.FOLLOW_UP})
EMERGENCY_AID_INTERVAL = timedelta(days=730)  # not twice for the same reason within 2 years


class IllegalTransition(ValueError):
    """A case cannot move from its state to the requested one."""


class RuleViolation(ValueError):
    """A case rule refuses the change (for example emergency aid granted twice)."""


@dataclass(frozen=True)
class Case:
    case_id: str
    household_id: str
    dong_code: str
    state: CaseState
    level: CaseLevel | None
    opened_at: datetime
    closed_at: datetime | None = None
    closure_reason: str | None = None


def transition(
    case: Case,
    to: CaseState,
    now: datetime,
    *,
    level: CaseLevel | None = None,
    reason: str | None = None,
) -> Case:
    """The case after moving to ``to``; raises IllegalTransition for a move not allowed."""
    if to not in TRANSITIONS[case.state]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[case.state])) or "none"
        raise IllegalTransition(
            f"a case in state '{case.state.value}' cannot move to '{to.value}' (allowed: {allowed})"
        )
    if to is CaseState.OPENED and level is None:
        raise IllegalTransition("opening a case needs a level: ordinary, high_difficulty or joint")
    if to is CaseState.CLOSED and not reason:
        raise IllegalTransition("closing a case needs a reason")
    updated = replace(case, state=to)
    if to is CaseState.OPENED:
        updated = replace(updated, level=level)
    if to is CaseState.CLOSED:
        updated = replace(updated, closed_at=now, closure_reason=reason)
    if to is CaseState.DISCOVERED:
        updated = replace(updated, closed_at=None, closure_reason=None, level=None, opened_at=now)
    return updated


def transfer(case: Case, new_dong_code: str) -> Case:
    """The household moved: the case moves with it, in whatever state it is."""
    return replace(case, dong_code=new_dong_code)


def may_grant_emergency_aid(crisis_reason: str, granted: list[tuple[str, date]], on: date) -> None:
    """Emergency aid cannot be granted twice for the same crisis reason within two years."""
    for previous_reason, granted_on in granted:
        if previous_reason == crisis_reason and on - granted_on < EMERGENCY_AID_INTERVAL:
            raise RuleViolation(
                f"emergency aid for '{crisis_reason}' was granted on {granted_on.isoformat()}; "
                "it cannot be granted again for the same reason within two years"
            )
