"""The field app's words in Korean (default) and English (``?lang=en``)."""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("ko", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("안부 현장 업무", "anbu field tasks"),
    "login": ("로그인", "Log in"),
    "logout": ("로그아웃", "Log out"),
    "username": ("아이디", "Username"),
    "password": ("비밀번호", "Password"),
    "login_failed": ("아이디 또는 비밀번호가 올바르지 않습니다.", "Wrong username or password."),
    "login_locked": (
        "로그인 실패가 많아 잠시 잠겼습니다. 잠시 뒤 다시 시도하거나 관리자에게 문의하세요.",
        "Too many failed logins: locked for a while. Try again later or ask an administrator.",
    ),
    "registry_down": (
        "기록 시스템에 연결할 수 없습니다. 잠시 후 다시 시도하세요.",
        "The registry cannot be reached. Please try again shortly.",
    ),
    "session_expired": ("다시 로그인해 주세요.", "Please log in again."),
    "no_worker": (
        "이 계정에는 현장 근무자 정보가 없습니다.",
        "This account has no field-worker profile.",
    ),
    "inbox": ("내 업무", "My tasks"),
    "inbox_empty": ("지금 배정된 업무가 없습니다.", "No tasks for you right now."),
    "refresh": ("새로고침", "Refresh"),
    "deadline": ("기한", "Due"),
    "overdue": ("기한 지남", "Overdue"),
    "urgency": ("긴급도", "Urgency"),
    "status": ("상태", "Status"),
    "household": ("가구", "Household"),
    "dong": ("행정동", "Dong"),
    "team": ("팀", "Team"),
    "step": ("단계", "Step"),
    "you": ("나", "you"),
    "vacant": ("미배정", "nobody yet"),
    "address": ("주소", "Address"),
    "address_after_accept": (
        "주소는 업무를 수락한 뒤에 표시됩니다.",
        "The address is shown once you have accepted.",
    ),
    "address_after_team": (
        "주소는 팀 전원이 수락하면 표시됩니다.",
        "The address is shown once the whole team has accepted.",
    ),
    "address_unavailable": (
        "주소를 지금 가져올 수 없습니다.",
        "The address cannot be fetched right now.",
    ),
    "address_none": ("등록된 주소가 없습니다.", "No address on record."),
    "address_audited": (
        "주소 열람은 기록 시스템에 기록됩니다.",
        "Viewing the address is recorded in the audit log.",
    ),
    "accept": ("수락", "Accept"),
    "decline": ("거절", "Decline"),
    "decline_reason": ("거절 사유", "Reason"),
    "decline_note": ("메모 (선택)", "Note (optional)"),
    "start": ("출발 (업무 시작)", "On my way"),
    "start_needs_team": (
        "팀 전원이 수락하면 출발할 수 있습니다.",
        "You can set out once the whole team has accepted.",
    ),
    "confirm": ("확인", "Confirm"),
    "record_outcome": ("결과 기록", "Record the outcome"),
    "result": ("결과", "Result"),
    "contact_mode": ("접촉 방법", "Contact"),
    "monitoring": ("6대 점검 항목", "The six monitoring items"),
    "needs": ("발견된 욕구", "Needs found"),
    "notes": ("메모", "Notes"),
    "notes_hint": (
        "메모는 안부 시스템 안에만 저장되고 외부로 전송되지 않습니다.",
        "Notes stay in outreach and are never sent anywhere.",
    ),
    "follow_up": ("후속 조치 요청", "Ask for follow-up"),
    "save": ("저장", "Save"),
    "back": ("목록으로", "Back to my tasks"),
    "done_accepted": ("수락했습니다.", "Accepted."),
    "done_declined": (
        "거절했습니다. 다른 담당자에게 넘어갑니다.",
        "Declined; it goes to someone else.",
    ),
    "done_started": ("출발을 기록했습니다.", "Recorded: on your way."),
    "done_outcome": ("결과를 기록했습니다. 감사합니다.", "Outcome recorded. Thank you."),
    "conflict": ("이 업무는 지금 그렇게 처리할 수 없습니다.", "The task cannot do that now."),
    "not_found": ("업무를 찾을 수 없습니다.", "Task not found."),
    "bad_form": ("입력을 확인해 주세요.", "Please check the form."),
    "csrf": ("페이지가 만료되었습니다. 다시 시도하세요.", "The page expired. Please try again."),
    "language": ("English", "한국어"),
    "accepted_by": ("수락", "accepted"),
    "offered_to": ("제안됨", "offered"),
    "outcome_recorded": ("결과가 기록된 업무입니다.", "An outcome has been recorded."),
}

LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "task_type": {
        "phone_check": ("안부 전화 확인", "Phone check"),
        "visit_sticker": ("방문 스티커 부착", "Visit sticker"),
        "home_visit": ("가정 방문", "Home visit"),
        "hospital_check": ("병원 이용 확인", "Hospital check"),
        "landlord_check": ("집주인·이웃 확인", "Landlord and neighbour check"),
        "guardian_contact": ("부양의무자 연락", "Contact support obligors"),
        "door_opening": ("경찰 협조 임의개방", "Door opening with police"),
        "missing_person_report": ("가출 신고", "Missing-person report"),
        "emergency_response": ("긴급 대응", "Emergency response"),
        "investigation": ("발굴 조사 방문", "Investigation visit"),
        "transition_care": ("퇴원 연계 돌봄", "Transition care"),
        "routine_contact": ("정기 안부 확인", "Routine contact"),
        "case_decision": ("사례 결정", "Case decision"),
    },
    "role": {
        "official": ("담당공무원", "Official"),
        "nurse": ("방문간호사", "Nurse"),
        "case_manager": ("통합사례관리사", "Case manager"),
        "life_support_worker": ("생활지원사", "Life-support worker"),
        "block_leader": ("통반장", "Block leader"),
        "volunteer": ("자원봉사자", "Volunteer"),
        "police_liaison": ("경찰 협력관", "Police liaison"),
        "duty_officer": ("당직", "Duty officer"),
    },
    "status": {
        "offered": ("수락 대기", "Offered"),
        "accepted": ("수락됨", "Accepted"),
        "started": ("진행 중", "Started"),
        "unassigned": ("담당자 없음 (당직)", "Unassigned (duty officer)"),
        "completed": ("완료", "Completed"),
        "cancelled": ("취소", "Cancelled"),
        "expired": ("만료", "Expired"),
        "declined": ("거절됨", "Declined"),
        "vacant": ("미배정", "Vacant"),
    },
    "urgency": {
        "critical": ("심각", "Critical"),
        "high": ("높음", "High"),
        "routine": ("일반", "Routine"),
    },
    "result": {
        "contact_confirmed": ("안부 확인", "Contact confirmed"),
        "not_found": ("만나지 못함", "Not found"),
        "hospitalised": ("입원", "Hospitalised"),
        "emergency_services": ("119·112 인계", "Emergency services took over"),
        "moved": ("이사", "Moved"),
        "deceased": ("사망", "Deceased"),
        "refused": ("거부", "Refused"),
        "no_need": ("지원 필요 없음", "No need"),
    },
    "contact_mode": {
        "visit": ("방문", "Visit"),
        "phone": ("전화", "Phone"),
        "other": ("기타", "Other"),
    },
    "item": {
        "safety_environment": ("안전 및 주거환경", "Safety and living environment"),
        "health": ("신체·정신 건강", "Physical and mental health"),
        "care_system": ("돌봄 체계", "Care system"),
        "social_relations": ("사회적 관계", "Social relations"),
        "service_diagnosis": ("서비스 진단", "Service diagnosis"),
        "service_linkage": ("서비스 연계", "Service linkage"),
    },
    "item_state": {
        "ok": ("양호", "OK"),
        "concern": ("우려", "Concern"),
        "not_checked": ("미확인", "Not checked"),
    },
    "need": {
        "income": ("소득", "Income"),
        "food": ("식품", "Food"),
        "housing": ("주거", "Housing"),
        "physical_health": ("신체 건강", "Physical health"),
        "mental_health": ("정신 건강", "Mental health"),
        "care": ("돌봄", "Care"),
        "debt": ("부채", "Debt"),
        "legal": ("법률", "Legal"),
        "relationships": ("관계", "Relationships"),
        "daily_living": ("일상생활", "Daily living"),
        "other": ("기타", "Other"),
    },
    "decline_reason": {
        "busy": ("다른 업무 중", "Busy with other work"),
        "off_duty": ("근무 시간 아님", "Off duty"),
        "too_far": ("거리가 멂", "Too far"),
        "conflict_of_interest": ("이해 충돌", "Conflict of interest"),
        "safety": ("안전 우려", "Safety concern"),
        "other": ("기타", "Other"),
    },
    "precondition": {
        "police_liaison_present": ("경찰 협력관 입회", "Police liaison present"),
        "approval_recorded": ("승인 기록됨", "Approval recorded"),
    },
}


def pick_language(query: str | None, cookie: str | None) -> str:
    for value in (query, cookie):
        if value in LANGUAGES:
            return value
    return "ko"


def translator(lang: str) -> Callable[[str], str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def t(key: str) -> str:
        pair = TEXT.get(key)
        return pair[index] if pair else key

    return t


def labeller(lang: str) -> Callable[[str, str | None], str]:
    index = LANGUAGES.index(lang) if lang in LANGUAGES else 0

    def label(kind: str, value: str | None) -> str:
        if value is None:
            return ""
        pair = LABELS.get(kind, {}).get(value)
        return pair[index] if pair else value

    return label
