"""The consultation log (상담내역): every contact, attempt, visit and protocol step."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from anbu_runtime.auth import Principal

from ..adapters.csv_cells import FormulaSafeWriter
from ..adapters.orm import ConsultationRow, HouseholdRow
from ..domain import access
from ..domain.identifiers import new_id
from ..domain.model import ConsultationIn
from .common import Context, NotFound, actor_name, require

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
    ctx: Context,
    session: Session,
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
    if (
        source_key
        and session.exec(
            select(ConsultationRow.entry_id).where(ConsultationRow.source_key == source_key)
        ).first()
    ):
        return None
    entry_id = new_id("CL-", 16)
    session.add(
        ConsultationRow(
            entry_id=entry_id,
            household_id=household_id,
            case_id=case_id,
            at=at or ctx.now(),
            kind=kind,
            channel=channel,
            actor=actor,
            result=result,
            summary=summary[:256],
            note_enc=ctx.cipher.seal(note, context="consultation.note") if note else None,
            source_key=source_key,
        )
    )
    return entry_id


def add(
    ctx: Context, session: Session, household_id: str, data: ConsultationIn, principal: Principal
) -> str:
    household = session.get(HouseholdRow, household_id)
    if household is None:
        raise NotFound(f"household {household_id} not found")
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {household_id} is outside your area",
    )
    entry = record(
        ctx,
        session,
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
    session: Session, household_id: str, principal: Principal, limit: int
) -> Sequence[ConsultationRow]:
    household = session.get(HouseholdRow, household_id)
    if household is None:
        raise NotFound(f"household {household_id} not found")
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {household_id} is outside your area",
    )
    return session.exec(
        select(ConsultationRow)
        .where(ConsultationRow.household_id == household_id)
        .order_by(col(ConsultationRow.at).desc())
        .limit(limit)
    ).all()


def export_csv(
    ctx: Context,
    session: Session,
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
    ctx.audit(
        session,
        principal,
        "consultation.export",
        dong_code,
        "행복e음 export",
        {"from": start.isoformat(), "to": end.isoformat()},
    )
    rows = session.exec(
        select(ConsultationRow)
        .join(HouseholdRow, col(HouseholdRow.household_id) == col(ConsultationRow.household_id))
        .where(HouseholdRow.dong_code == dong_code)
        .where(ConsultationRow.at >= start, ConsultationRow.at < end)
        .order_by(col(ConsultationRow.at))
    ).all()
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
