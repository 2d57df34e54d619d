"""Who should take a task: a pure scoring function over the roster.

A candidate must be active, hold the role and serve the household's dong, and have room
under their maximum of open tasks. Among candidates, the household's own responsible
official (or matched volunteer) comes first, then whoever has the lowest load relative to
their maximum; ties break on worker id so that the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from anbu_contracts import Role, WorkerSnapshot


@dataclass(frozen=True)
class HouseholdContext:
    household_id: str
    dong_code: str | None
    responsible_worker_id: str | None = None
    matched_volunteer_id: str | None = None
    violence_risk: bool = False


@dataclass(frozen=True)
class Candidate:
    worker_id: str
    score: float


def candidates(
    role: Role,
    household: HouseholdContext,
    roster: Iterable[WorkerSnapshot],
    open_tasks: Mapping[str, int],
    exclude: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Workers who can take a task of ``role`` for ``household``, best first."""
    ranked: list[Candidate] = []
    for worker in roster:
        if worker.worker_id in exclude or not worker.active or role not in worker.roles:
            continue
        if household.dong_code is not None and household.dong_code not in worker.dong_codes:
            continue
        load = open_tasks.get(worker.worker_id, 0)
        if load >= worker.max_open_tasks:
            continue
        score = 1.0 - load / max(worker.max_open_tasks, 1)
        if worker.worker_id in (household.responsible_worker_id, household.matched_volunteer_id):
            score += 10.0  # continuity: the person who knows the household
        ranked.append(Candidate(worker.worker_id, score))
    ranked.sort(key=lambda c: (-c.score, c.worker_id))
    return ranked


def assign_team(
    team: list[Role],
    household: HouseholdContext,
    roster: Iterable[WorkerSnapshot],
    open_tasks: Mapping[str, int],
    *,
    visit: bool,
) -> list[str] | None:
    """One worker per team role, all different; None when any role cannot be filled.

    A household with a violence or threat history never gets a lone visitor: a one-person
    visit team is doubled with a second worker of the same role.
    """
    roles = list(team)
    if visit and household.violence_risk and len(roles) == 1:
        roles.append(roles[0])
    chosen: list[str] = []
    roster = list(roster)
    for role in roles:
        options = candidates(role, household, roster, open_tasks, frozenset(chosen))
        if not options:
            return None
        chosen.append(options[0].worker_id)
    return chosen
