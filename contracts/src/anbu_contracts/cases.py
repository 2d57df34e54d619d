"""Case lifecycle events (통합사례관리): what happened to a household's case, no personal data.

The registry keeps cases, their consultation log and free-text notes; these events carry
only codes: the case's workflow state and level, the dong, the services linked (by type,
never the provider or the person) and a coded closure reason (the registry's free-text
reason stays in the registry).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from .envelope import DongCode, Event, HouseholdId

CaseId = Annotated[
    str,
    Field(pattern=r"^C-[0-9A-Z]{6,26}$", description="Case id issued by the registry."),
]


class CaseChange(StrEnum):
    DISCOVERED = "discovered"  # 발굴: a case started (by a person, or from a field finding)
    PROGRESSED = "progressed"  # moved along the workflow (counselling, assessed, planned ...)
    OPENED = "opened"  # 사례 개입: the case opened with a level
    TRANSFERRED = "transferred"  # the household moved: the case went to another dong
    SERVICES_LINKED = "services_linked"  # 서비스 연계
    CLOSED = "closed"  # 종결


class CaseState(StrEnum):
    """The registry's case workflow, in order."""

    DISCOVERED = "discovered"  # 발굴
    COUNSELLING = "counselling"  # 초기상담
    CRISIS_CONFIRMED = "crisis_confirmed"  # 가정방문·위기확인
    OPENED = "opened"  # 사례개입
    ASSESSED = "assessed"  # 욕구·위기 사정
    PLANNED = "planned"  # 서비스 계획
    LINKED = "linked"  # 서비스 연계
    MONITORING = "monitoring"  # 점검
    CLOSED = "closed"  # 종결
    FOLLOW_UP = "follow_up"  # 사후관리


class CaseLevel(StrEnum):
    ORDINARY = "ordinary"  # 일반
    HIGH_DIFFICULTY = "high_difficulty"  # 고난도
    JOINT = "joint"  # 공동


class LinkedService(StrEnum):
    """Kinds of service a case links a household to."""

    EMERGENCY_AID = "emergency_aid"  # 긴급지원
    LIVELIHOOD_BENEFIT = "livelihood_benefit"  # 생계급여
    MEDICAL_BENEFIT = "medical_benefit"  # 의료급여
    HOUSING_BENEFIT = "housing_benefit"  # 주거급여
    FOOD = "food"  # 푸드뱅크·밑반찬
    HOUSING_DEPOSIT = "housing_deposit"  # 주거 보증금
    DEBT_COUNSELLING = "debt_counselling"  # 채무 상담
    LEGAL_AID = "legal_aid"  # 법률 지원
    MENTAL_HEALTH_CENTRE = "mental_health_centre"  # 정신건강복지센터
    OTHER = "other"


class CaseClosureReason(StrEnum):
    """Why a case closed, as a code (the registry keeps the worker's own words)."""

    GOALS_MET = "goals_met"  # 목표 달성
    NO_NEED = "no_need"  # 개입 불필요
    REFUSED = "refused"  # 서비스 거부
    MOVED_AWAY = "moved_away"  # 관할 외 전출
    INSTITUTIONALISED = "institutionalised"  # 시설 입소
    DECEASED = "deceased"  # 사망
    UNREACHABLE = "unreachable"  # 연락 두절
    OTHER = "other"


class CaseEvent(Event):
    """A change in a household's case; keyed by household id.

    ``dong_code`` and ``state`` are the case's after the change. ``transferred`` names the
    dong it left in ``from_dong_code``; a workflow move names the state it left in
    ``from_state``; ``services_linked`` lists the services; ``closed`` gives the reason.
    """

    type: Literal["registry.case"] = "registry.case"
    case_id: CaseId
    household_id: HouseholdId
    change: CaseChange
    dong_code: DongCode
    state: CaseState
    level: CaseLevel | None = Field(default=None, description="Set once the case is opened.")
    from_state: CaseState | None = None
    from_dong_code: DongCode | None = None
    services: list[LinkedService] = Field(default_factory=list, max_length=16)
    closure_reason: CaseClosureReason | None = None

    @model_validator(mode="after")
    def _change_carries_its_detail(self) -> CaseEvent:
        if self.change is CaseChange.OPENED and self.level is None:
            raise ValueError("an opened case has a level")
        if self.change is CaseChange.TRANSFERRED and self.from_dong_code is None:
            raise ValueError("a transfer names the dong the case left (from_dong_code)")
        if self.change is CaseChange.SERVICES_LINKED and not self.services:
            raise ValueError("services_linked lists the services")
        if self.change is CaseChange.CLOSED and self.closure_reason is None:
            raise ValueError("a closed case has a closure_reason")
        return self
