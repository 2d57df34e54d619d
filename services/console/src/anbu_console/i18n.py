"""Korean (default) and English labels for the console's pages."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("ko", "en")

LABELS: dict[str, dict[str, str]] = {
    "title": {"ko": "안부 — 운영 현황", "en": "anbu — operations"},
    "brand": {"ko": "안부 운영", "en": "anbu console"},
    # navigation
    "nav_overview": {"ko": "현황", "en": "Overview"},
    "nav_escalations": {"ko": "대응 절차", "en": "Escalations"},
    "nav_alerts": {"ko": "경보", "en": "Alerts"},
    "nav_partners": {"ko": "연계기관 수신", "en": "Partner feeds"},
    "nav_kpis": {"ko": "성과지표", "en": "KPIs"},
    "nav_dongs": {"ko": "동별 현황", "en": "Dong grid"},
    "logout": {"ko": "로그아웃", "en": "Log out"},
    "language": {"ko": "English", "en": "한국어"},
    "live": {"ko": "실시간", "en": "live"},
    "clock_title": {
        "ko": "서비스 시각 (가속 시계일 때 배속 표시)",
        "en": "Service time (with the speed when the clock is accelerated)",
    },
    "offline": {"ko": "연결 끊김", "en": "offline"},
    "new_alert": {"ko": "새 경보", "en": "New alert"},
    # login
    "login": {"ko": "로그인", "en": "Log in"},
    "username": {"ko": "아이디", "en": "Username"},
    "password": {"ko": "비밀번호", "en": "Password"},
    "login_failed": {
        "ko": "아이디 또는 비밀번호가 맞지 않습니다.",
        "en": "Wrong username or password.",
    },
    "login_locked": {
        "ko": "로그인 실패가 많아 잠시 잠겼습니다. 잠시 뒤 다시 시도하거나 관리자에게 문의하세요.",
        "en": "Too many failed logins: locked for a while. Try again later.",
    },
    "registry_down": {
        "ko": "지금은 로그인할 수 없습니다. 잠시 뒤 다시 시도하세요.",
        "en": "Logging in is not possible right now. Try again shortly.",
    },
    "csrf": {"ko": "양식이 만료되었습니다. 다시 시도하세요.", "en": "The form expired; try again."},
    "not_for_role": {
        "ko": "운영 화면은 운영자·동 담당공무원·관리자용입니다. 현장 업무는 현장 앱을 쓰세요.",
        "en": "The console is for operators, dong officials and administrators; field staff "
        "use the field app.",
    },
    "not_found": {
        "ko": "찾을 수 없거나 볼 권한이 없습니다.",
        "en": "Not found, or not yours to see.",
    },
    "scope_all": {"ko": "전체 지역", "en": "all areas"},
    "role_admin": {"ko": "관리자", "en": "administrator"},
    "role_operator": {"ko": "희망복지지원단 운영자", "en": "district hub operator"},
    "role_dong_official": {"ko": "동 복지플래너", "en": "dong welfare officer"},
    "role_field_worker": {"ko": "현장 인력", "en": "field worker"},
    "role_volunteer": {"ko": "자원봉사자", "en": "volunteer"},
    "role_service": {"ko": "서비스", "en": "service"},
    # overview
    "households": {"ko": "모니터링 가구", "en": "Monitored households"},
    "open_alerts": {"ko": "진행 중 경보", "en": "Open alerts"},
    "running_escalations": {"ko": "진행 중 대응 절차", "en": "Running protocols"},
    "tasks": {"ko": "업무", "en": "Tasks"},
    "unassigned": {"ko": "미배정 업무", "en": "Unassigned tasks"},
    "late": {"ko": "기한 초과 업무", "en": "Late tasks"},
    "failed_notifications": {"ko": "발송 실패 알림", "en": "Failed notifications"},
    "notifications": {"ko": "알림", "en": "Notifications"},
    "by_tier_and_dong": {"ko": "동·등급별 가구", "en": "Households by dong and tier"},
    "by_severity": {"ko": "단계별", "en": "By severity"},
    "by_source": {"ko": "출처별", "en": "By source"},
    "by_step": {"ko": "단계별 대응 절차", "en": "Protocols by step"},
    "funnel": {"ko": "발굴에서 연계까지", "en": "From found to services linked"},
    "found": {"ko": "발굴", "en": "Found"},
    "confirmed": {"ko": "위기 확인", "en": "Crisis confirmed"},
    "case_opened": {"ko": "사례 개입", "en": "Case opened"},
    "services_linked": {"ko": "서비스 연계", "en": "Services linked"},
    "not_published": {"ko": "아직 이벤트 없음", "en": "not in the events yet"},
    # case events (registry.case.v1) on the household timeline
    "case_discovered": {"ko": "사례 발굴", "en": "Case started"},
    "case_progressed": {"ko": "사례 진행", "en": "Case moved on"},
    "case_transferred": {"ko": "사례 이관", "en": "Case transferred"},
    "case_services_linked": {"ko": "서비스 연계", "en": "Services linked"},
    "case_closed": {"ko": "사례 종결", "en": "Case closed"},
    "case_state_discovered": {"ko": "발굴", "en": "discovered"},
    "case_state_counselling": {"ko": "초기상담", "en": "first counselling"},
    "case_state_crisis_confirmed": {"ko": "위기 확인", "en": "crisis confirmed"},
    "case_state_opened": {"ko": "사례 개입", "en": "opened"},
    "case_state_assessed": {"ko": "욕구·위기 사정", "en": "assessed"},
    "case_state_planned": {"ko": "서비스 계획", "en": "planned"},
    "case_state_linked": {"ko": "서비스 연계", "en": "services linked"},
    "case_state_monitoring": {"ko": "점검", "en": "monitoring"},
    "case_state_closed": {"ko": "종결", "en": "closed"},
    "case_state_follow_up": {"ko": "사후관리", "en": "follow-up"},
    "case_level_ordinary": {"ko": "일반 사례", "en": "ordinary case"},
    "case_level_high_difficulty": {"ko": "고난도 사례", "en": "high-difficulty case"},
    "case_level_joint": {"ko": "공동 사례", "en": "joint case"},
    "service_emergency_aid": {"ko": "긴급지원", "en": "emergency aid"},
    "service_livelihood_benefit": {"ko": "생계급여", "en": "livelihood benefit"},
    "service_medical_benefit": {"ko": "의료급여", "en": "medical benefit"},
    "service_housing_benefit": {"ko": "주거급여", "en": "housing benefit"},
    "service_food": {"ko": "식품 지원", "en": "food"},
    "service_housing_deposit": {"ko": "주거 보증금 지원", "en": "housing deposit"},
    "service_debt_counselling": {"ko": "채무 상담", "en": "debt counselling"},
    "service_legal_aid": {"ko": "법률 지원", "en": "legal aid"},
    "service_mental_health_centre": {"ko": "정신건강복지센터", "en": "mental health centre"},
    "service_other": {"ko": "기타 서비스", "en": "other service"},
    "closure_goals_met": {"ko": "목표 달성", "en": "goals met"},
    "closure_no_need": {"ko": "개입 불필요", "en": "no need"},
    "closure_refused": {"ko": "서비스 거부", "en": "refused"},
    "closure_moved_away": {"ko": "관할 외 전출", "en": "moved away"},
    "closure_institutionalised": {"ko": "시설 입소", "en": "moved into care"},
    "closure_deceased": {"ko": "사망", "en": "deceased"},
    "closure_unreachable": {"ko": "연락 두절", "en": "unreachable"},
    "closure_other": {"ko": "기타 사유", "en": "other reason"},
    "feed": {"ko": "최근 이벤트", "en": "Recent events"},
    "total": {"ko": "합계", "en": "Total"},
    # tables
    "household": {"ko": "가구", "en": "Household"},
    "dong": {"ko": "행정동", "en": "Dong"},
    "tier": {"ko": "관리 등급", "en": "Tier"},
    "status": {"ko": "상태", "en": "Status"},
    "reason": {"ko": "사유", "en": "Reason"},
    "source": {"ko": "출처", "en": "Source"},
    "severity": {"ko": "단계", "en": "Severity"},
    "opened": {"ko": "발생", "en": "Opened"},
    "resolved": {"ko": "해제", "en": "Resolved"},
    "rule": {"ko": "판단 규칙", "en": "Rule"},
    "rule_version": {"ko": "규칙 버전", "en": "Rule version"},
    "thresholds": {"ko": "기준값", "en": "Thresholds"},
    "evidence": {"ko": "근거", "en": "Evidence"},
    "event_id": {"ko": "이벤트 ID", "en": "Event id"},
    "kind": {"ko": "종류", "en": "Kind"},
    "partner": {"ko": "연계기관", "en": "Partner"},
    "observed": {"ko": "관측 시각", "en": "Observed"},
    "protocol": {"ko": "절차", "en": "Protocol"},
    "step": {"ko": "현재 단계", "en": "Current step"},
    "steps": {"ko": "단계 기록", "en": "Steps"},
    "last_step": {"ko": "최근 단계", "en": "Last step"},
    "next_step": {"ko": "다음 단계", "en": "Next step"},
    "since_trigger": {"ko": "발생 후 경과", "en": "Since trigger"},
    "to_next_step": {"ko": "다음 단계까지", "en": "To next step"},
    "overdue": {"ko": "지연", "en": "overdue"},
    "awaiting_approval": {"ko": "승인 대기", "en": "awaiting approval"},
    "due": {"ko": "예정", "en": "Due"},
    "executed": {"ko": "실행", "en": "Executed"},
    "actions": {"ko": "조치 수", "en": "Actions"},
    "note": {"ko": "비고", "en": "Note"},
    "timeline": {"ko": "가구 이력", "en": "Household timeline"},
    "at": {"ko": "시각", "en": "At"},
    "topic": {"ko": "구분", "en": "Topic"},
    "what": {"ko": "내용", "en": "What"},
    "none": {"ko": "없음", "en": "None"},
    "unknown_household": {
        "ko": "등록부 스냅샷을 아직 받지 못한 가구",
        "en": "no registry snapshot received yet",
    },
    # partner feeds
    "last_signal": {"ko": "최근 수신", "en": "Last signal"},
    "silent_for": {"ko": "무수신 시간", "en": "Silent for"},
    "threshold": {"ko": "기준", "en": "Threshold"},
    "stale": {"ko": "수신 중단", "en": "stale"},
    "fresh": {"ko": "정상", "en": "ok"},
    "stale_hours": {"ko": "수신 중단 기준(시간)", "en": "Stale after (hours)"},
    "apply": {"ko": "적용", "en": "Apply"},
    "file_jobs": {"ko": "파일 처리 현황", "en": "Files and imports"},
    "job": {"ko": "작업", "en": "Job"},
    "job_partner_file": {"ko": "연계기관 파일", "en": "Partner file"},
    "job_household_import": {"ko": "가구 일괄 등록", "en": "Household import"},
    "dry_run": {"ko": "모의 실행", "en": "dry run"},
    "job_progress": {"ko": "진행률", "en": "Progress"},
    "job_rows": {"ko": "처리 행", "en": "Rows"},
    "job_rejected": {"ko": "거부", "en": "refused"},
    "job_rate": {"ko": "처리 속도", "en": "Rate"},
    "per_second": {"ko": "행/초", "en": " rows/s"},
    "job_eta": {"ko": "남은 시간", "en": "Time left"},
    "job_updated": {"ko": "갱신", "en": "Updated"},
    # KPIs
    "kpi": {"ko": "지표", "en": "KPI"},
    "target": {"ko": "목표", "en": "Target"},
    "actual": {"ko": "실적", "en": "Actual"},
    "achievement": {"ko": "달성률", "en": "Achievement"},
    "households_found": {"ko": "발굴 가구 수", "en": "Households found"},
    "alerts_resolved_in_48h": {
        "ko": "48시간 내 경보 해제율",
        "en": "Alerts resolved within 48 h",
    },
    "task_acceptance_minutes": {
        "ko": "업무 수락 소요시간(중앙값)",
        "en": "Task acceptance time (median)",
    },
    "tasks_on_time": {"ko": "기한 내 업무 완료율", "en": "Tasks completed on time"},
    "notifications_delivered": {"ko": "알림 전달률", "en": "Notifications delivered"},
    "needs_linked_to_services": {
        "ko": "욕구 확인 가구 서비스 연계율",
        "en": "Confirmed needs linked to services",
    },
    "unit_count": {"ko": "가구", "en": ""},
    "unit_percent": {"ko": "%", "en": "%"},
    "unit_minutes": {"ko": "분", "en": "min"},
    # dong grid
    "per_thousand": {"ko": "1천 가구당 경보", "en": "Alerts per 1,000 households"},
    "legend": {"ko": "범례", "en": "Legend"},
    # district map
    "nav_map": {"ko": "지도", "en": "Map"},
    "map_title": {"ko": "행정동 지도", "en": "Dong map"},
    "measure": {"ko": "표시 항목", "en": "Measure"},
    "show": {"ko": "보기", "en": "Show"},
    "overdue_steps": {"ko": "기한 지난 대응 단계", "en": "Overdue steps"},
    "watched": {"ko": "관리 가구", "en": "Watched households"},
    "map_caption": {
        "ko": "행정동별 집계이며 가구 위치는 표시하지 않습니다. 동을 누르면 그 동의 경보로 갑니다.",
        "en": "Counts per dong; households are never placed. Choose a dong for its alerts.",
    },
    "map_table": {"ko": "동별 수치", "en": "Figures by dong"},
    "no_outline": {
        "ko": "경계 자료로 나눌 수 없는 동",
        "en": "Dongs the boundary data cannot separate",
    },
    "shared_area": {
        "ko": "법정동, 여러 행정동이 나눠 관할",
        "en": "legal dong shared by several dongs",
    },
    "boundary_source": {"ko": "경계", "en": "Boundaries"},
    # trends
    "nav_trends": {"ko": "추이", "en": "Trends"},
    "trend_alerts_by_severity": {
        "ko": "일별 신규 경보 (심각도별)",
        "en": "Alerts opened per day, by severity",
    },
    "trend_alerts_by_reason": {
        "ko": "일별 신규 경보 (사유별)",
        "en": "Alerts opened per day, by reason",
    },
    "trend_first_contact": {
        "ko": "첫 신호부터 첫 접촉까지 (주별 중앙값, 시간)",
        "en": "First signal to first contact (weekly median, hours)",
    },
    "trend_overdue_tasks": {"ko": "일별 기한 초과 업무", "en": "Tasks past their deadline per day"},
    "trend_table": {"ko": "수치 표", "en": "The numbers"},
    "trend_partner_signals": {
        "ko": "연계기관별 시간당 신호 수 (최근 48시간)",
        "en": "Signals per partner per hour (last 48 hours)",
    },
    "trend_partner_signals_note": {
        "ko": "세로선은 수신 중단 기준입니다. 선 오른쪽에 막대가 없으면 수신 중단입니다.",
        "en": "The line is the stale threshold: no bar right of it means the feed is stale.",
    },
    "trend_stale_line": {"ko": "수신 중단 기준", "en": "Stale after"},
    "trend_stale_line_beyond": {
        "ko": "수신 중단 기준 (48시간 이전)",
        "en": "Stale after (before the last 48 hours)",
    },
    "trend_no_feeds": {"ko": "아직 받은 신호가 없습니다.", "en": "No signals received yet."},
    "trend_hour": {"ko": "시각", "en": "Hour"},
    "day": {"ko": "날짜", "en": "Day"},
    "week_of": {"ko": "주 (월요일)", "en": "Week of"},
    "median_hours": {"ko": "중앙값 (시간)", "en": "Median (hours)"},
    # escalation board filter and the day sheet
    "all": {"ko": "전체", "en": "All"},
    "day_sheet": {"ko": "오늘의 2일차 방문표", "en": "Today's day-2 sheet"},
    "day_sheet_hint": {
        "ko": "동 복지팀별 오늘의 2일차 방문·확인입니다. 인쇄하면 메뉴 없이 한 장씩 나옵니다.",
        "en": "Today's day-2 visits and checks per dong team. Print it: one team per page.",
    },
    "team": {"ko": "복지팀", "en": "team"},
    "time": {"ko": "시각", "en": "Time"},
    "task_state": {"ko": "업무 상태", "en": "Task"},
    "done_check": {"ko": "완료", "en": "Done"},
    "planned": {"ko": "예정", "en": "planned"},
    "no_day_two": {"ko": "오늘 예정된 2일차 방문이 없습니다.", "en": "No day-2 visits today."},
    # severities, tiers, statuses
    "watch": {"ko": "관심", "en": "watch"},
    "caution": {"ko": "주의", "en": "caution"},
    "alert": {"ko": "경계", "en": "alert"},
    "critical": {"ko": "심각", "en": "critical"},
    "high_risk": {"ko": "위험가구", "en": "high-risk"},
    "closed": {"ko": "종결", "en": "closed"},
    "open": {"ko": "진행 중", "en": "open"},
    "running": {"ko": "진행 중", "en": "running"},
    "active": {"ko": "관리 중", "en": "active"},
    "suspended": {"ko": "일시 중지", "en": "suspended"},
    "moved": {"ko": "전출", "en": "moved"},
    # reasons and signal kinds
    "safety_not_confirmed": {"ko": "안부 미확인", "en": "safety not confirmed"},
    "channel_silent": {"ko": "활동 신호 없음", "en": "channel silent"},
    "arrears": {"ko": "체납", "en": "arrears"},
    "disconnection": {"ko": "단전·단수·단가스", "en": "disconnection"},
    "usage_drop": {"ko": "사용량 급감", "en": "usage drop"},
    "water_meter": {"ko": "수도 원격검침", "en": "water meter"},
    "safety_call_concern": {"ko": "안부전화 우려", "en": "safety-call concern"},
    "safety_call": {"ko": "안부전화", "en": "safety call"},
    "heartbeat": {"ko": "활동 신호", "en": "heartbeat"},
    "human_report": {"ko": "제보·신고", "en": "human report"},
    "report": {"ko": "제보·신고", "en": "report"},
    "sos": {"ko": "긴급호출", "en": "SOS"},
    "blind_spot": {"ko": "발굴대상", "en": "blind-spot list"},
    "hospital_discharge": {"ko": "퇴원", "en": "hospital discharge"},
    "hospital_admission": {"ko": "입원", "en": "hospital admission"},
    "device_status": {"ko": "단말 상태", "en": "device status"},
    "mail_uncollected": {"ko": "우편물 방치", "en": "mail uncollected"},
    # protocols
    "emergency": {"ko": "긴급 대응", "en": "emergency"},
    "safety-not-confirmed": {"ko": "안부 미확인 대응", "en": "safety not confirmed"},
    "welfare-check": {"ko": "복지 확인", "en": "welfare check"},
    "transition-care": {"ko": "퇴원 연계", "en": "transition care"},
}


def translator(lang: str) -> Callable[[str | None], str]:
    def t(key: str | None) -> str:
        if key is None:
            return "-"
        entry = LABELS.get(key)
        return entry.get(lang, entry["ko"]) if entry else key

    return t


def pick_language(query: str | None, cookie: str | None) -> str:
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return "ko"


def duration(seconds: float, lang: str) -> str:
    """A short human duration: "1일 3시간", "2 h 5 min"; negative values are made positive."""
    total = int(abs(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("일", "시간", "분", "초") if lang == "ko" else (" d", " h", " min", " s")
    parts = [(days, units[0]), (hours, units[1]), (minutes, units[2]), (secs, units[3])]
    shown = [f"{n}{u}" for n, u in parts if n][:2]
    return " ".join(shown) if shown else f"0{units[3]}"
