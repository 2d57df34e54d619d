"""Cases (통합사례관리): open, move through the workflow, assess, plan, link services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anbu_contracts import CaseChange
from anbu_contracts.topics import REGISTRY_CASE
from anbu_runtime.auth import Principal

from ..adapters.events import case_event, change_of
from ..adapters.orm import CaseEventRow, CaseRow, LinkageRow
from ..adapters.repository import Repositories, UoW
from ..domain import access
from ..domain.cases import (
    Case,
    CaseLevel,
    CaseState,
    ServiceType,
    may_grant_emergency_aid,
    transition,
)
from ..domain.identifiers import new_id
from ..domain.model import AssessmentIn, CaseIn, GoalIn, LinkageIn, TransitionIn
from .common import Conflict, actor_name, require


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
    uow: UoW,
    row: CaseRow,
    case: Case,
    actor: str,
    kind: str,
    detail: dict[str, Any],
) -> None:
    row.state, row.level = case.state.value, case.level.value if case.level else None
    row.dong_code, row.opened_at = case.dong_code, case.opened_at
    row.closed_at, row.closure_reason = case.closed_at, case.closure_reason
    uow.session.add(row)
    uow.session.add(
        CaseEventRow(case_id=row.case_id, at=uow.now, actor=actor, kind=kind, detail=detail)
    )


def stage_event(uow: UoW, case: Case, change: CaseChange, **detail: Any) -> None:
    """Stage the case's lifecycle event in the outbox, in the caller's transaction."""
    uow.publish(REGISTRY_CASE, case_event(case, change, uow.now, **detail))


def _allowed(principal: Principal, row: CaseRow) -> None:
    require(
        access.can_manage_cases(principal, row.dong_code),
        f"case {row.case_id} is outside your area",
    )


def open_case(uow: UoW, data: CaseIn, principal: Principal, *, actor: str | None = None) -> str:
    household = uow.repos.household(data.household_id)
    require(
        access.can_manage_cases(principal, household.dong_code),
        f"household {data.household_id} is outside your area",
    )
    if open_case_of(uow.repos, data.household_id) is not None:
        raise Conflict(f"household {data.household_id} already has an open case")
    now = uow.now
    row = CaseRow(
        case_id=new_id("C-"),
        household_id=data.household_id,
        dong_code=household.dong_code,
        state=CaseState.DISCOVERED.value,
        opened_at=now,
        manager_worker_id=data.manager_worker_id,
        source=data.source,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(
        CaseEventRow(
            case_id=row.case_id,
            at=now,
            actor=actor or actor_name(principal),
            kind="transition",
            detail={"to": CaseState.DISCOVERED.value, "source": data.source},
        )
    )
    stage_event(uow, case_of(row), CaseChange.DISCOVERED)
    return row.case_id


def open_case_of(repos: Repositories, household_id: str) -> CaseRow | None:
    found = repos.open_cases_of(household_id)
    return found[0] if found else None


def get(
    repos: Repositories, case_id: str, principal: Principal
) -> tuple[CaseRow, Sequence[CaseEventRow]]:
    row = repos.case(case_id)
    _allowed(principal, row)
    return row, repos.case_history(case_id)


def search(
    repos: Repositories,
    principal: Principal,
    *,
    state: CaseState | None,
    dong_code: str | None,
    limit: int,
    offset: int,
) -> Sequence[CaseRow]:
    # Cases outside the caller's area are dropped after the query: fetch a margin.
    rows = repos.cases(
        state=state.value if state else None, dong_code=dong_code, limit=limit * 4, offset=offset
    )
    return [r for r in rows if access.can_manage_cases(principal, r.dong_code)][:limit]


def move(uow: UoW, case_id: str, data: TransitionIn, principal: Principal) -> CaseRow:
    """Move a case; an illegal move raises IllegalTransition (HTTP 409 with the reason)."""
    row = uow.repos.case(case_id)
    _allowed(principal, row)
    now = uow.now
    before = case_of(row)
    moved = transition(before, data.to, now, level=data.level, reason=data.reason)
    save_case(
        uow,
        row,
        moved,
        actor_name(principal),
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
        uow,
        moved,
        change_of(data.to),
        from_state=before.state,
        closure_reason=data.closure,
    )
    return row


def assess(uow: UoW, case_id: str, data: AssessmentIn, principal: Principal) -> None:
    row = uow.repos.case(case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.OPENED.value,
        CaseState.ASSESSED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' cannot be assessed; open it first")
    uow.session.add(
        CaseEventRow(
            case_id=case_id,
            at=uow.now,
            actor=actor_name(principal),
            kind="assessment",
            detail=data.model_dump(mode="json"),
        )
    )


def add_goal(uow: UoW, case_id: str, data: GoalIn, principal: Principal) -> None:
    row = uow.repos.case(case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.ASSESSED.value,
        CaseState.PLANNED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' has no plan yet; assess it first")
    uow.session.add(
        CaseEventRow(
            case_id=case_id,
            at=uow.now,
            actor=actor_name(principal),
            kind="goal",
            detail=data.model_dump(mode="json"),
        )
    )


def link_service(uow: UoW, case_id: str, data: LinkageIn, principal: Principal) -> int:
    row = uow.repos.case(case_id)
    _allowed(principal, row)
    if row.state not in (
        CaseState.PLANNED.value,
        CaseState.LINKED.value,
        CaseState.MONITORING.value,
    ):
        raise Conflict(f"a case in state '{row.state}' has no plan to link services to")
    now = uow.now
    if data.service is ServiceType.EMERGENCY_AID:
        if not data.crisis_reason:
            raise Conflict("emergency aid needs crisis_reason")
        may_grant_emergency_aid(
            data.crisis_reason,
            uow.repos.emergency_aid_grants(row.household_id),
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
    uow.session.add(linkage)
    uow.session.add(
        CaseEventRow(
            case_id=case_id,
            at=now,
            actor=actor_name(principal),
            kind="linkage",
            detail=data.model_dump(mode="json"),
        )
    )
    stage_event(uow, case_of(row), CaseChange.SERVICES_LINKED, services=[data.service])
    uow.session.flush()
    assert linkage.id is not None
    return linkage.id
