"""Korean (default) and English labels for the console's pages."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "title": {"ko": "안부 — 운영 현황", "en": "anbu — operations"},
    "households": {"ko": "모니터링 가구", "en": "Monitored households"},
    "open_alerts": {"ko": "진행 중 경보", "en": "Open alerts"},
    "running_escalations": {"ko": "진행 중 대응 절차", "en": "Running protocols"},
    "tasks": {"ko": "업무", "en": "Tasks"},
    "unassigned": {"ko": "미배정 업무", "en": "Unassigned tasks"},
    "notifications": {"ko": "알림", "en": "Notifications"},
    "feed": {"ko": "최근 이벤트", "en": "Recent events"},
    "household": {"ko": "가구", "en": "Household"},
    "reason": {"ko": "사유", "en": "Reason"},
    "severity": {"ko": "단계", "en": "Severity"},
    "opened": {"ko": "발생", "en": "Opened"},
    "rule": {"ko": "판단 규칙", "en": "Rule"},
    "evidence": {"ko": "근거", "en": "Evidence"},
    "protocol": {"ko": "절차", "en": "Protocol"},
    "last_step": {"ko": "최근 단계", "en": "Last step"},
    "next_step": {"ko": "다음 단계", "en": "Next step"},
    "none": {"ko": "없음", "en": "None"},
    "language": {"ko": "English", "en": "한국어"},
    # severities and tiers
    "watch": {"ko": "관심", "en": "watch"},
    "caution": {"ko": "주의", "en": "caution"},
    "alert": {"ko": "경계", "en": "alert"},
    "critical": {"ko": "심각", "en": "critical"},
    "high_risk": {"ko": "위험가구", "en": "high-risk"},
    "closed": {"ko": "종결가구", "en": "closed"},
    "safety_not_confirmed": {"ko": "안부 미확인", "en": "safety not confirmed"},
}


def translator(lang: str):  # type: ignore[no-untyped-def]
    def t(key: str) -> str:
        entry = LABELS.get(key)
        return entry.get(lang, entry["ko"]) if entry else key

    return t
