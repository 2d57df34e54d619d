"""The consultation log (상담내역): every contact, attempt, visit and protocol step."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from anbu_runtime.auth import Principal

from ..adapters.csv_cells import FormulaSafeWriter
from ..adapters.orm import ConsultationRow
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..domain.identifiers import new_id
from ..domain.model import ConsultationIn
from .common import actor_name, audit, require

SEOUL = ZoneInfo("Asia/Seoul")
# Column names of the export the national system (행복e음) takes in.
EXPORT_COLUMNS = [
    ("상담일자", "date"),
    ("상담시각", "time"),
    ("가구번호", "household_id"),
    ("사례번호", "case_id"),
    ("상담구분", "kind"),
    ("상담방법", "channel"),
    ("상담결과", "result"),
    ("상담내용", "summary"),
    ("상담자", "actor"),
]
KIND_KO = {
    "contact": "안부확인",
    "attempt": "연락시도",
    "visit": "방문",
    "protocol_step": "대응절차",
    "note": "메모",
}
CHANNEL_KO = {"phone": "전화", "visit": "방문", "text": "문자", "system": "시스템", "other": "기타"}


def record(
    uow: UoW,
    *,
    household_id: str,
    kind: str,
    channel: str | None,
    actor: str,
    summary: str,
    result: str | None = None,
    at: datetime | None = None,
    case_id: str | None = None,
    note: str | None = None,
    source_key: str | None = None,
) -> str | None:
    """Append one entry; an entry with a ``source_key`` seen before is not added again."""
    if source_key and uow.repos.has_consultation(source_key):
        return None
    entry_id = new_id("CL-", 16)
    uow.session.add(
        ConsultationRow(
            entry_id=entry_id,
            household_id=household_id,
            case_id=case_id,
            at=at or uow.now,
            kind=kind,
            channel=channel,
            actor=actor,
            result=result,
            summary=summary[:256],
            note_enc=uow.repos.cipher.seal(note, context="consultation.note") if note else None,
            source_key=source_key,
        )
    )
    return entry_id


def add(uow: UoW, household_id: str, data: ConsultationIn, principal: Principal) -> str:
    household = uow.repos.household(household_id)
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {household_id} is outside your area",
    )
    entry = record(
        uow,
        household_id=household_id,
        kind=data.kind,
        channel=data.channel,
        actor=principal.worker_id or actor_name(principal),
        summary=data.summary,
        result=data.result,
        at=data.at,
        case_id=data.case_id,
        note=data.note,
    )
    assert entry is not None
    return entry


def of_household(
    repos: Repositories, household_id: str, principal: Principal, limit: int
) -> Sequence[ConsultationRow]:
    household = repos.household(household_id)
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {household_id} is outside your area",
    )
    return repos.consultations_of(household_id, limit)


def export_csv(
    uow: UoW,
    principal: Principal,
    *,
    dong_code: str,
    start: datetime,
    end: datetime,
) -> str:
    """The dong's entries in [start, end) as CSV with the national system's headers.

    Text cells that a spreadsheet would run as a formula are neutralised (CSV injection).
    """
    require(
        access.can_change_household(principal, dong_code), f"dong {dong_code} is outside your area"
    )
    audit(
        uow,
        principal,
        "consultation.export",
        dong_code,
        "행복e음 export",
        {"from": start.isoformat(), "to": end.isoformat()},
    )
    rows = uow.repos.consultations_in(dong_code, start, end)
    buffer = io.StringIO()
    writer = FormulaSafeWriter(buffer)
    writer.writerow([header for header, _ in EXPORT_COLUMNS])
    for row in rows:
        local = row.at.astimezone(SEOUL)
        writer.writerow(
            [
                local.strftime("%Y-%m-%d"),
                local.strftime("%H:%M"),
                row.household_id,
                row.case_id or "",
                KIND_KO.get(row.kind, row.kind),
                CHANNEL_KO.get(row.channel or "", row.channel or ""),
                row.result or "",
                row.summary,
                row.actor,
            ]
        )
    return buffer.getvalue()
