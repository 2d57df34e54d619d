"""The registry's case events (통합사례관리): the case view and translated timeline words."""

from __future__ import annotations

from anbu_contracts import CaseChange, CaseEvent

from ..adapters.orm import CaseView
from ..domain.changes import Change
from .common import Uow, change, earliest, timeline


def _case_words(event: CaseEvent) -> tuple[str, list[str]]:
    """The English summary and the label keys (or dong codes) pages translate."""
    change, case = event.change, f"case {event.case_id}"
    if change is CaseChange.PROGRESSED:
        return f"{case} {change.value} to {event.state.value}", [f"case_state_{event.state.value}"]
    if change is CaseChange.OPENED and event.level is not None:
        return f"{case} opened ({event.level.value})", [f"case_level_{event.level.value}"]
    if change is CaseChange.TRANSFERRED and event.from_dong_code is not None:
        summary = f"{case} transferred {event.from_dong_code} -> {event.dong_code}"
        return summary, [event.from_dong_code, event.dong_code]
    if change is CaseChange.SERVICES_LINKED:
        services = [s.value for s in event.services]
        return f"{case} services linked: {', '.join(services)}", [f"service_{s}" for s in services]
    if change is CaseChange.CLOSED and event.closure_reason is not None:
        reason = event.closure_reason.value
        return f"{case} closed: {reason}", [f"closure_{reason}"]
    return f"{case} {change.value}", []


def on_case(event: CaseEvent, uow: Uow) -> Change:
    summary, terms = _case_words(event)
    label = f"case_{event.change.value}"
    timeline(uow, event, "registry.case", event.household_id, event.case_id, summary, label, terms)
    at = event.occurred_at
    row = uow.repos.get(CaseView, event.case_id)
    if row is None:
        row = CaseView(
            case_id=event.case_id,
            household_id=event.household_id,
            dong_code=event.dong_code,
            state=event.state.value,
            updated_at=at,
        )
    # First openings and linkages are kept as minimums: the funnel counts them, whatever
    # order a replay delivers the case's events in.
    if event.change is CaseChange.OPENED:
        row.opened_at = earliest(row.opened_at, at)
    if event.change is CaseChange.SERVICES_LINKED:
        row.linked_at = earliest(row.linked_at, at)
    if row.updated_at <= at:
        row.dong_code, row.state = event.dong_code, event.state.value
        row.level = event.level.value if event.level else None
        if event.change is CaseChange.CLOSED:
            row.closed_at = at
            row.closure_reason = event.closure_reason.value if event.closure_reason else None
        elif event.change is CaseChange.DISCOVERED:  # a follow-up case starting again
            row.closed_at, row.closure_reason = None, None
        row.updated_at = at
    uow.repos.add(row)
    return change(uow, "case", event.household_id, event.case_id, summary)
