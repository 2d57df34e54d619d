"""Shared vocabulary: the enumerations several contracts use."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """The Korean four-level crisis scale, lowest first."""

    WATCH = "watch"  # 관심
    CAUTION = "caution"  # 주의
    ALERT = "alert"  # 경계
    CRITICAL = "critical"  # 심각

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Role(StrEnum):
    """Roles of the people the product dispatches or notifies."""

    OFFICIAL = "official"  # 담당공무원 / 복지플래너
    NURSE = "nurse"  # 방문간호사
    CASE_MANAGER = "case_manager"  # 통합사례관리사
    LIFE_SUPPORT_WORKER = "life_support_worker"  # 생활지원사
    BLOCK_LEADER = "block_leader"  # 통반장
    VOLUNTEER = "volunteer"
    POLICE_LIAISON = "police_liaison"
    DUTY_OFFICER = "duty_officer"  # 당직


class MonitoringChannel(StrEnum):
    """Activity channels a household can be enrolled in (each needs consent)."""

    PHONE = "phone"
    SMART_PLUG = "smart_plug"
    MOTION_SENSOR = "motion_sensor"
    WEARABLE = "wearable"
    APPLIANCE = "appliance"


class Tier(StrEnum):
    """Monitoring tiers with their contact cycles (domain brief §4)."""

    HIGH_RISK = "high_risk"  # 위험가구
    CAUTION = "caution"  # 주의가구
    WATCH = "watch"  # 관심가구
    CLOSED = "closed"  # 종결가구


class Urgency(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    ROUTINE = "routine"


class Locale(StrEnum):
    KO = "ko"
    EN = "en"
