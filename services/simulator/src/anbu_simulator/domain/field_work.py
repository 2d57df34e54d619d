"""What simulated field staff find when they do a task: the simulated world's truth.

A phone check cannot see a fall or a death (nobody answers: ``not_found``); a visit can.
A household with no crisis is found well (``contact_confirmed``; ``no_need`` for an
investigation or a welfare-check decision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from anbu_contracts import ContactMode, Need, OutcomeResult, TaskType

from .crises import Crisis, CrisisKind

_REMOTE = frozenset(
    {
        TaskType.PHONE_CHECK,
        TaskType.GUARDIAN_CONTACT,
        TaskType.LANDLORD_CHECK,
        TaskType.HOSPITAL_CHECK,
    }
)
_NO_NEED = frozenset({TaskType.INVESTIGATION, TaskType.CASE_DECISION})


@dataclass(frozen=True)
class Finding:
    result: OutcomeResult
    contact_mode: ContactMode
    needs: list[Need] = field(default_factory=list)
    follow_up: bool = False


def what_staff_find(task_type: TaskType, crisis: Crisis | None, at: datetime) -> Finding:
    """The outcome a person doing ``task_type`` at ``at`` records, given the household's crisis."""
    mode = ContactMode.PHONE if task_type in _REMOTE else ContactMode.VISIT
    remote = mode is ContactMode.PHONE
    if crisis is None or crisis.onset > at:
        result = OutcomeResult.NO_NEED if task_type in _NO_NEED else OutcomeResult.CONTACT_CONFIRMED
        return Finding(result, mode)
    ongoing = crisis.active(at)
    if crisis.kind is CrisisKind.DEATH:
        return Finding(OutcomeResult.NOT_FOUND if remote else OutcomeResult.DECEASED, mode)
    if crisis.kind is CrisisKind.FALL:
        if not ongoing:
            return Finding(
                OutcomeResult.HOSPITALISED, mode, [Need.PHYSICAL_HEALTH, Need.CARE], True
            )
        return Finding(
            OutcomeResult.NOT_FOUND if remote else OutcomeResult.EMERGENCY_SERVICES, mode
        )
    if crisis.kind is CrisisKind.DISAPPEARANCE:
        if not ongoing:
            return Finding(OutcomeResult.CONTACT_CONFIRMED, mode, [Need.MENTAL_HEALTH], True)
        return Finding(OutcomeResult.NOT_FOUND, mode)
    if crisis.kind is CrisisKind.ACUTE_ILLNESS:
        if ongoing and not remote:
            return Finding(OutcomeResult.HOSPITALISED, mode, [Need.PHYSICAL_HEALTH], True)
        return Finding(OutcomeResult.CONTACT_CONFIRMED, mode, [Need.PHYSICAL_HEALTH], True)
    return Finding(  # financial collapse
        OutcomeResult.CONTACT_CONFIRMED, mode, [Need.INCOME, Need.DEBT, Need.FOOD], True
    )
