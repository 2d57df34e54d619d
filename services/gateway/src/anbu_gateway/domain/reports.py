"""The human safety net's report (제보·신고): what a reporter may say, in Korean and English.

A reporter holding an invitation names a household (its id, the resident's phone number,
which the registry looks up, or an address an operator matches; the reporter is never told
which, if any, household was found), a category (domain brief §3), an urgency and free text. The
free text stays in the gateway's database; the published ``report`` signal carries only the
report's reference as ``note_ref``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeVar

from anbu_contracts import ReportCategory, ReporterRole, ReportUrgency

NOTE_MAX = 2000
ADDRESS_MAX = 200
HOUSEHOLD_ID = re.compile(r"^HH-[0-9A-Z]{6,26}$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{6,18}[0-9]$")
REPORTER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,63}$")

E = TypeVar("E", bound=StrEnum)


class Lang(StrEnum):
    KO = "ko"
    EN = "en"

    @classmethod
    def of(cls, value: str | None) -> Lang:
        return cls.EN if (value or "").lower().startswith("en") else cls.KO


class LookupKind(StrEnum):
    HOUSEHOLD_ID = "household_id"
    PHONE = "phone"
    ADDRESS = "address"  # not searchable: an operator matches it to a household


class LookupResult(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"  # several households share the phone number
    UNAVAILABLE = "unavailable"  # the registry did not answer


@dataclass(frozen=True)
class Lookup:
    result: LookupResult
    household_id: str | None = None  # never shown to the reporter
    dong_code: str | None = None


class ReportState(StrEnum):
    PUBLISHED = "published"  # a report signal is on signals.report.v1
    PENDING = "pending"  # stored; the signal is being published (retried until it is)
    UNMATCHED = "unmatched"  # no household found: waits for an operator to match it


CATEGORY_ORDER: tuple[ReportCategory, ...] = (
    ReportCategory.NO_RESPONSE,
    ReportCategory.MAIL_PILING_UP,
    ReportCategory.ODOUR,
    ReportCategory.CUTOFF_SEEN,
    ReportCategory.HOARDING,
    ReportCategory.FOOD_INSECURITY,
    ReportCategory.EVICTION_RISK,
    ReportCategory.SUICIDE_RISK,
    ReportCategory.ABUSE,
    ReportCategory.EMERGENCY,
    ReportCategory.OTHER,
)
# The human safety net of the brief (§2); hotline and self-reports do not come by invitation.
INVITED_ROLES: tuple[ReporterRole, ...] = (
    ReporterRole.METER_READER,
    ReporterRole.POSTAL_CARRIER,
    ReporterRole.APARTMENT_MANAGER,
    ReporterRole.LANDLORD,
    ReporterRole.SHOP,
    ReporterRole.HONORARY_OFFICER,
    ReporterRole.BLOCK_LEADER,
    ReporterRole.DELIVERY_WORKER,
    ReporterRole.NEIGHBOUR,
    ReporterRole.VOLUNTEER,
    ReporterRole.OTHER,
)
# Categories that never wait: the form shows them first in its warning and forces urgency.
CRITICAL_CATEGORIES = frozenset(
    {ReportCategory.SUICIDE_RISK, ReportCategory.ABUSE, ReportCategory.EMERGENCY}
)

CATEGORY_LABELS: dict[Lang, dict[ReportCategory, str]] = {
    Lang.KO: {
        ReportCategory.NO_RESPONSE: "인기척·응답 없음",
        ReportCategory.MAIL_PILING_UP: "우편물·고지서 쌓임",
        ReportCategory.ODOUR: "악취",
        ReportCategory.CUTOFF_SEEN: "단전·단수·단가스 목격",
        ReportCategory.HOARDING: "저장강박·쓰레기 방치",
        ReportCategory.FOOD_INSECURITY: "끼니 거름·식생활 곤란",
        ReportCategory.EVICTION_RISK: "퇴거 위기",
        ReportCategory.SUICIDE_RISK: "자살 위험",
        ReportCategory.ABUSE: "학대 의심",
        ReportCategory.EMERGENCY: "응급 상황",
        ReportCategory.OTHER: "기타",
    },
    Lang.EN: {
        ReportCategory.NO_RESPONSE: "No sign of life / no response",
        ReportCategory.MAIL_PILING_UP: "Mail or bills piling up",
        ReportCategory.ODOUR: "Odour",
        ReportCategory.CUTOFF_SEEN: "Power, water or gas cut seen",
        ReportCategory.HOARDING: "Hoarding / rubbish",
        ReportCategory.FOOD_INSECURITY: "Skipping meals / no food",
        ReportCategory.EVICTION_RISK: "Risk of eviction",
        ReportCategory.SUICIDE_RISK: "Risk of suicide",
        ReportCategory.ABUSE: "Suspected abuse",
        ReportCategory.EMERGENCY: "Emergency",
        ReportCategory.OTHER: "Other",
    },
}
URGENCY_LABELS: dict[Lang, dict[ReportUrgency, str]] = {
    Lang.KO: {
        ReportUrgency.LOW: "낮음 (이번 주 안에)",
        ReportUrgency.NORMAL: "보통 (며칠 안에)",
        ReportUrgency.HIGH: "높음 (오늘 안에)",
        ReportUrgency.EMERGENCY: "긴급 (지금 바로)",
    },
    Lang.EN: {
        ReportUrgency.LOW: "Low (this week)",
        ReportUrgency.NORMAL: "Normal (within days)",
        ReportUrgency.HIGH: "High (today)",
        ReportUrgency.EMERGENCY: "Emergency (right now)",
    },
}
ROLE_LABELS: dict[Lang, dict[ReporterRole, str]] = {
    Lang.KO: {
        ReporterRole.METER_READER: "검침원",
        ReporterRole.POSTAL_CARRIER: "집배원",
        ReporterRole.APARTMENT_MANAGER: "관리사무소",
        ReporterRole.LANDLORD: "집주인",
        ReporterRole.SHOP: "이웃 상점",
        ReporterRole.HONORARY_OFFICER: "명예사회복지공무원",
        ReporterRole.BLOCK_LEADER: "통반장",
        ReporterRole.DELIVERY_WORKER: "배달원",
        ReporterRole.NEIGHBOUR: "이웃",
        ReporterRole.VOLUNTEER: "자원봉사자",
        ReporterRole.OTHER: "기타",
    },
    Lang.EN: {
        ReporterRole.METER_READER: "Meter reader",
        ReporterRole.POSTAL_CARRIER: "Postal carrier",
        ReporterRole.APARTMENT_MANAGER: "Apartment manager",
        ReporterRole.LANDLORD: "Landlord",
        ReporterRole.SHOP: "Neighbourhood shop",
        ReporterRole.HONORARY_OFFICER: "Honorary welfare officer",
        ReporterRole.BLOCK_LEADER: "Block leader",
        ReporterRole.DELIVERY_WORKER: "Delivery worker",
        ReporterRole.NEIGHBOUR: "Neighbour",
        ReporterRole.VOLUNTEER: "Volunteer",
        ReporterRole.OTHER: "Other",
    },
}

TEXT: dict[Lang, dict[str, str]] = {
    Lang.KO: {
        "title": "위기가구 제보",
        "intro": "걱정되는 이웃이 있으면 알려 주세요. 담당 공무원이 확인합니다.",
        "emergency_note": "지금 위험한 상황이면 먼저 119 또는 112에 전화하세요.",
        "reporter": "제보자",
        "find": "가구 찾기",
        "lookup_kind": "찾는 방법",
        "by_household_id": "가구번호",
        "by_phone": "거주자 전화번호",
        "by_address": "주소 (담당자가 확인)",
        "lookup_value": "가구번호, 전화번호 또는 주소",
        "lookup_hint": "담당 공무원이 가구를 확인합니다. 적어 주신 내용은 담당자만 봅니다.",
        "category": "어떤 점이 걱정되나요?",
        "urgency": "얼마나 급한가요?",
        "note": "자세한 내용 (선택)",
        "note_hint": "본 것, 들은 것, 날짜를 적어 주세요. 이 내용은 담당자만 봅니다.",
        "submit": "제보하기",
        "thanks": "제보가 접수되었습니다",
        "reference": "접수번호",
        "thanks_body": "담당 공무원이 확인하고 필요하면 방문합니다. 감사합니다.",
        "another": "다른 제보하기",
        "invalid_link": "유효하지 않은 초대 링크입니다",
        "invalid_link_body": "링크가 만료되었거나 취소되었습니다. 동 행정복지센터에 문의하세요.",
        "errors": "입력 내용을 확인해 주세요",
        "err_lookup": "가구번호(HH-로 시작), 전화번호 또는 주소를 입력해 주세요.",
        "err_category": "걱정되는 점을 골라 주세요.",
        "err_urgency": "급한 정도를 골라 주세요.",
        "err_note": "자세한 내용은 2000자까지 쓸 수 있습니다.",
        "err_too_many": "잠시 후 다시 제보해 주세요.",
        "lang_switch": "English",
    },
    Lang.EN: {
        "title": "Report a household in crisis",
        "intro": "If you are worried about a neighbour, tell us. A welfare official will check.",
        "emergency_note": "If someone is in danger now, call 119 or 112 first.",
        "reporter": "Reporter",
        "find": "Find the household",
        "lookup_kind": "Find by",
        "by_household_id": "Household number",
        "by_phone": "Resident's phone number",
        "by_address": "Address (an official checks it)",
        "lookup_value": "Household number, phone number or address",
        "lookup_hint": "A welfare official finds the household. Only the official sees this.",
        "category": "What worries you?",
        "urgency": "How urgent is it?",
        "note": "Details (optional)",
        "note_hint": "What you saw or heard, and when. Only the official reads this.",
        "submit": "Send report",
        "thanks": "Your report has been received",
        "reference": "Reference number",
        "thanks_body": "A welfare official will check and visit if needed. Thank you.",
        "another": "Send another report",
        "invalid_link": "This invitation link is not valid",
        "invalid_link_body": "The link has expired or was withdrawn. Ask your dong office.",
        "errors": "Please check your entries",
        "err_lookup": "Enter a household number (HH-...), a phone number or an address.",
        "err_category": "Choose what worries you.",
        "err_urgency": "Choose how urgent it is.",
        "err_note": "Details can be at most 2000 characters.",
        "err_too_many": "Please try again in a little while.",
        "lang_switch": "한국어",
    },
}


@dataclass(frozen=True)
class ReportInput:
    """A submitted form, checked: ``errors`` maps a field to a message key of ``TEXT``."""

    lookup_kind: LookupKind | None
    lookup_value: str
    category: ReportCategory | None
    urgency: ReportUrgency | None
    note: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _enum_or_none(enum: type[E], raw: str | None) -> E | None:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def check_form(
    lookup_kind: str | None,
    lookup_value: str | None,
    category: str | None,
    urgency: str | None,
    note: str | None,
) -> ReportInput:
    """Check the form's fields; the lookup value is normalised (spaces, case)."""
    errors: dict[str, str] = {}
    kind = _enum_or_none(LookupKind, lookup_kind)
    value = (lookup_value or "").strip()
    if kind is LookupKind.HOUSEHOLD_ID:
        value = value.upper()
        if not HOUSEHOLD_ID.match(value):
            errors["lookup_value"] = "err_lookup"
    elif kind is LookupKind.PHONE:
        if not PHONE.match(value):
            errors["lookup_value"] = "err_lookup"
    elif kind is LookupKind.ADDRESS:
        if not value or len(value) > ADDRESS_MAX:
            errors["lookup_value"] = "err_lookup"
    else:
        errors["lookup_value"] = "err_lookup"
    chosen_category = _enum_or_none(ReportCategory, category)
    if chosen_category is None:
        errors["category"] = "err_category"
    chosen_urgency = _enum_or_none(ReportUrgency, urgency)
    if chosen_urgency is None:
        errors["urgency"] = "err_urgency"
    text = (note or "").strip()
    if len(text) > NOTE_MAX:
        errors["note"] = "err_note"
    if chosen_category in CRITICAL_CATEGORIES and chosen_urgency is not None:
        chosen_urgency = (
            ReportUrgency.EMERGENCY
            if (chosen_category is ReportCategory.EMERGENCY)
            else max_urgency(chosen_urgency, ReportUrgency.HIGH)
        )
    return ReportInput(kind, value, chosen_category, chosen_urgency, text, errors)


_URGENCY_RANK = {u: i for i, u in enumerate(ReportUrgency)}


def max_urgency(a: ReportUrgency, b: ReportUrgency) -> ReportUrgency:
    return a if _URGENCY_RANK[a] >= _URGENCY_RANK[b] else b
