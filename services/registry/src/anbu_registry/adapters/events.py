"""Domain → contract: the one place a case becomes a ``registry.case.v1`` event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from anbu_contracts import (
    CaseChange,
    CaseClosureReason,
    CaseEvent,
    LinkedService,
)
from anbu_contracts import CaseLevel as ContractLevel
from anbu_contracts import CaseState as ContractState

from ..domain.cases import Case, CaseState, ServiceType

SOURCE = "registry"


def change_of(to: CaseState) -> CaseChange:
    """The event change a workflow move to ``to`` publishes."""
    if to is CaseState.OPENED:
        return CaseChange.OPENED
    if to is CaseState.CLOSED:
        return CaseChange.CLOSED
    if to is CaseState.DISCOVERED:  # a new case record, or a follow-up that starts again
        return CaseChange.DISCOVERED
    return CaseChange.PROGRESSED


def case_event(
    case: Case,
    change: CaseChange,
    now: datetime,
    *,
    from_state: CaseState | None = None,
    from_dong_code: str | None = None,
    services: Iterable[ServiceType] = (),
    closure_reason: CaseClosureReason | None = None,
) -> CaseEvent:
    """The contract event for ``case`` after ``change`` (codes only: no notes, no names)."""
    return CaseEvent(
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        case_id=case.case_id,
        household_id=case.household_id,
        change=change,
        dong_code=case.dong_code,
        state=ContractState(case.state.value),
        level=ContractLevel(case.level.value) if case.level else None,
        from_state=ContractState(from_state.value) if from_state else None,
        from_dong_code=from_dong_code,
        services=[LinkedService(s.value) for s in services],
        closure_reason=(
            (closure_reason or CaseClosureReason.OTHER) if change is CaseChange.CLOSED else None
        ),
    )
