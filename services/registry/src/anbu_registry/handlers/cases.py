"""Cases (통합사례관리): open, move through the workflow, assess, plan, link services."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from anbu_contracts import CaseChange
from anbu_contracts.topics import REGISTRY_CASE
from anbu_runtime.auth import Principal

from ..adapters.events import case_event, change_of
from ..adapters.orm import CaseEventRow, CaseRow, HouseholdRow, LinkageRow
from ..domain import access
from ..domain.cases import (
    OPEN_STATES,
    Case,
    CaseLevel,
    CaseState,
    ServiceType,
    may_grant_emergency_aid,
    transition,
)
from ..domain.identifiers import new_id
from ..domain.model import AssessmentIn, CaseIn, GoalIn, LinkageIn, TransitionIn
from .common import Conflict, Context, NotFound, actor_name, require


def case_of(row: CaseRow) -> Case:
    return Case(
        case_id=row.case_id,
        household_id=row.household_id,
        dong_code=row.dong_code,
        state=CaseState(row.state),
        level=CaseLevel(row.level) if row.level else None,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
        closure_reason=row.closure_reason,
    )


def save_case(
    session: Session,
    row: CaseRow,
    case: Case,
    actor: str,
    now: datetime,
    kind: str,
    detail: dict[str, Any],
) -> None:
    row.state, row.level = case.state.value, case.level.value if case.level else None
    row.dong_code, row.opened_at = case.dong_code, case.opened_at
    row.closed_at, row.closure_reason = case.closed_at, case.closure_reason
    session.add(row)
    session.add(CaseEventRow(case_id=row.case_id, at=now, actor=actor, kind=kind, detail=detail))


def stage_event(
    ctx: Context, session: Session, case: Case, change: CaseChange, **detail: Any
) -> None:
    """Stage the case's lifecycle event in the outbox, in the caller's transaction."""
    ctx.outbox.add(session, REGISTRY_CASE, case_event(case, change, ctx.now(), **detail))


def _row(session: Session, case_id: str) -> CaseRow:
    row = session.get(CaseRow, case_id)
    if row is None:
        raise NotFound(f"case {case_id} not found")
    return row


def _allowed(principal: Principal, row: CaseRow) -> None:
    require(
        access.can_manage_cases(principal, row.dong_code),
        f"case {row.case_id} is outside your area",
    )


def open_case(
    ctx: Context, session: Session, data: CaseIn, principal: Principal, *, actor: str | None = None
) -> str:
    household = session.get(HouseholdRow, data.household_id)
    if household is None:
        raise NotFound(f"household {data.household_id} not found")
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {data.household_id} is outside your area",
    )
    if open_case_of(session, data.household_id) is not None:
        raise Conflict(f"household {data.household_id} already has an open case")
    now = ctx.now()
    row = CaseRow(
        case_id=new_id("C-"),
        household_id=data.household_id,
        dong_code=household.dong_code,
        state=CaseState.DISCOVERED.value,
        opened_at=now,
        manager_worker_id=data.manager_worker_id,
        source=data.source,
    )
    session.add(row)
    session.flush()
    session.add(
        CaseEventRow(
            case_id=row.case_id,
            at=now,
            actor=actor or actor_name(principal),
            kind="transition",
            detail={"to": CaseState.DISCOVERED.value, "source": data.source},
        )
    )
    stage_event(ctx, session, case_of(row), CaseChange.DISCOVERED)
    return row.case_id


def open_case_of(session: Session, household_id: str) -> CaseRow | None:
    return session.exec(
        select(CaseRow).where(
            CaseRow.household_id == household_id,
            col(CaseRow.state).in_([s.value for s in OPEN_STATES]),
        )
    ).first()


def get(
    session: Session, case_id: str, principal: Principal
) -> tuple[CaseRow, Sequence[CaseEventRow]]:
    row = _row(session, case_id)
    _allowed(principal, row)
    events = session.exec(
        select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(col(CaseEventRow.id))
    ).all()
    return row, events


def search(
    session: Session,
    principal: Principal,
    *,
    state: CaseState | None,
    dong_code: str | None,
    limit: int,
    offset: int,
) -> Sequence[CaseRow]:
    query = select(CaseRow)
    if state:
        query = query.where(CaseRow.state == state.value)
    if dong_code:
        query = query.where(CaseRow.dong_code == dong_code)
    rows = session.exec(
        query.order_by(col(CaseRow.opened_at).desc()).offset(offset).limit(limit * 4)
    ).all()
    return [r for r in rows if access.can_manage_cases(principal, r.dong_code)][:limit]


def move(
    ctx: Context, session: Session, case_id: str, data: TransitionIn, principal: Principal
) -> CaseRow:
    """Move a case; an illegal move raises IllegalTransition (HTTP 409 with the reason)."""
    row = _row(session, case_id)
    _allowed(principal, row)
    now = ctx.now()
    before = case_of(row)
    moved = transition(before, data.to, now, level=data.level, reason=data.reason)
    save_case(
        session,
        row,
        moved,
        actor_name(principal),
        now,
        "transition",
        {
            "from": row.state,
            "to": data.to.value,
            "level": data.level,
            "reason": data.reason,
            "closure": data.closure,
        },
    )
    stage_event(
        ctx,
        session,
        moved,
        change_of(data.to),
        from_state=before.state,
        closure_reason=data.closure,
    )
    return row


def assess(
    ctx: Context, session: Session, case_id: str, data: AssessmentIn, principal: Principal
) -> None:
    row = _row(session, case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.OPENED.value,
        CaseState.ASSESSED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' cannot be assessed; open it first")
    session.add(
        CaseEventRow(
            case_id=case_id,
            at=ctx.now(),
            actor=actor_name(principal),
            kind="assessment",
            detail=data.model_dump(mode="json"),
        )
    )


def add_goal(
    ctx: Context, session: Session, case_id: str, data: GoalIn, principal: Principal
) -> None:
    row = _row(session, case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.ASSESSED.value,
        CaseState.PLANNED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' has no plan yet; assess it first")
    session.add(
        CaseEventRow(
            case_id=case_id,
            at=ctx.now(),
            actor=actor_name(principal),
            kind="goal",
            detail=data.model_dump(mode="json"),
        )
    )


def link_service(
    ctx: Context, session: Session, case_id: str, data: LinkageIn, principal: Principal
) -> int:
    row = _row(session, case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.PLANNED.value,
        CaseState.LINKED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' has no plan to link services to")
    now = ctx.now()
    if data.service is ServiceType.EMERGENCY_AID:
        if not data.crisis_reason:
            raise Conflict("emergency aid needs crisis_reason")
        granted = session.exec(
            select(LinkageRow.crisis_reason, LinkageRow.granted_on).where(
                LinkageRow.household_id == row.household_id,
                LinkageRow.service == ServiceType.EMERGENCY_AID.value,
                col(LinkageRow.granted_on).is_not(None),
            )
        ).all()
        may_grant_emergency_aid(
            data.crisis_reason,
            [(reason or "", on) for reason, on in granted if on is not None],
            data.granted_on or now.date(),
        )
    linkage = LinkageRow(
        case_id=case_id,
        household_id=row.household_id,
        service=data.service.value,
        provider=data.provider,
        crisis_reason=data.crisis_reason,
        granted_on=data.granted_on,
        created_at=now,
    )
    session.add(linkage)
    session.add(
        CaseEventRow(
            case_id=case_id,
            at=now,
            actor=actor_name(principal),
            kind="linkage",
            detail=data.model_dump(mode="json"),
        )
    )
    stage_event(ctx, session, case_of(row), CaseChange.SERVICES_LINKED, services=[data.service])
    session.flush()
    assert linkage.id is not None
    return linkage.id
