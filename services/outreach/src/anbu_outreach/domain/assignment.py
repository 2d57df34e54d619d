"""Who should take a task: pure scoring over the roster.

A candidate for a team slot must

- be active and hold the slot's role,
- serve the household's dong (a critical task with nobody local may go to staff on a duty
  slot anywhere in the same district),
- be reachable now (:mod:`.availability`: shifts, duty rosters, nights, public holidays),
- have room under their maximum of open tasks,
- not already be on the team, and not have declined or let an offer of this task lapse.

Candidates are ranked: the household's own people first (its responsible official, its
matched volunteer: continuity), then staff whose roster puts them at work now before
unrostered staff, then the lowest load relative to the person's maximum, then worker id
(so that the choice is deterministic).

Team composition (:func:`team_slots`) adds the field-safety rules: an in-person task is
never given to one person alone when the household has a violence or threat history,
volunteers visit in pairs (2인 1조), and an emergency response is never one person alone:
the duty officer plus a second official, or the police (112) liaison when no official can
take that slot (:data:`EMERGENCY_STAND_INS`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from anbu_contracts import Role, TaskType, Urgency, WorkerSnapshot

from .availability import Availability, AvailabilityRules, HolidayCheck, availability

MAX_TEAM = 6
# Who may take an emergency response's partner slot when no official can (domain brief §6:
# "duty officer plus a second official or the 119/112 liaison").
EMERGENCY_STAND_INS: Mapping[Role, tuple[Role, ...]] = {Role.OFFICIAL: (Role.POLICE_LIAISON,)}


@dataclass(frozen=True)
class HouseholdContext:
    household_id: str
    dong_code: str | None
    responsible_worker_id: str | None = None
    matched_volunteer_id: str | None = None
    violence_risk: bool = False

    @property
    def district_code(self) -> str | None:
        return self.dong_code[:5] if self.dong_code else None

    def knows(self, worker_id: str) -> bool:
        """Whether ``worker_id`` is one of the household's own people (continuity)."""
        return worker_id in (self.responsible_worker_id, self.matched_volunteer_id)


@dataclass(frozen=True)
class Candidate:
    worker_id: str
    continuity: bool
    availability: Availability
    load: int
    max_open_tasks: int
    local: bool = True

    @property
    def load_ratio(self) -> float:
        return self.load / max(self.max_open_tasks, 1)

    def sort_key(self) -> tuple[bool, int, float, str]:
        return (not self.continuity, self.availability.rank, self.load_ratio, self.worker_id)


@dataclass(frozen=True)
class Circumstances:
    """When, how urgently, and under which calendar and rules a task is assigned."""

    now: datetime
    urgency: Urgency
    is_holiday: HolidayCheck
    rules: AvailabilityRules = field(default_factory=AvailabilityRules)
    # Worked out once per worker snapshot for these circumstances: a batch of tasks shares
    # them and would otherwise check each worker's shifts once per task.
    _reach: dict[str, tuple[WorkerSnapshot, Availability]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def reach(self, worker: WorkerSnapshot) -> Availability:
        """``availability(worker)`` now (the same snapshot object: computed once)."""
        found = self._reach.get(worker.worker_id)
        if found is not None and found[0] is worker:
            return found[1]
        reach = availability(worker, self.now, self.is_holiday, self.rules)
        self._reach[worker.worker_id] = (worker, reach)
        return reach


def team_slots(
    team: Sequence[Role],
    household: HouseholdContext,
    *,
    in_person: bool,
    task_type: TaskType | None = None,
) -> list[Role]:
    """The slots to fill for a task's team, with the field-safety rules applied.

    An in-person task for one person gets a partner of the same role when the household has
    a violence or threat history (never alone), or when that person is a volunteer
    (volunteers visit in pairs). An emergency response always has at least two people: a
    lone duty officer gets an official as partner.
    """
    slots = list(team)[:MAX_TEAM]
    if task_type is TaskType.EMERGENCY_RESPONSE and len(slots) == 1:
        slots.append(Role.OFFICIAL if slots[0] is Role.DUTY_OFFICER else slots[0])
    elif in_person and len(slots) == 1 and (household.violence_risk or slots[0] is Role.VOLUNTEER):
        slots.append(slots[0])
    return slots


def candidates(
    role: Role,
    household: HouseholdContext,
    roster: Iterable[WorkerSnapshot],
    open_tasks: Mapping[str, int],
    when: Circumstances,
    exclude: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Workers who can take a ``role`` slot of a task for ``household``, best first."""
    if household.dong_code is None:
        return []  # an unknown household has no area: the duty officer decides
    local: list[Candidate] = []
    on_duty_nearby: list[Candidate] = []
    for worker in roster:
        if worker.worker_id in exclude or not worker.active or role not in worker.roles:
            continue
        load = open_tasks.get(worker.worker_id, 0)
        if load >= worker.max_open_tasks:
            continue
        reach = when.reach(worker)
        if not reach.reachable:
            continue
        if household.dong_code in worker.dong_codes:
            local.append(
                Candidate(
                    worker.worker_id,
                    household.knows(worker.worker_id),
                    reach,
                    load,
                    worker.max_open_tasks,
                )
            )
        elif (
            when.urgency is Urgency.CRITICAL
            and reach is Availability.ON_DUTY
            and any(d[:5] == household.district_code for d in worker.dong_codes)
        ):
            on_duty_nearby.append(
                Candidate(
                    worker.worker_id,
                    False,
                    reach,
                    load,
                    worker.max_open_tasks,
                    local=False,
                )
            )
    ranked = local or on_duty_nearby
    ranked.sort(key=Candidate.sort_key)
    return ranked


def assign_team(
    slots: Sequence[Role],
    household: HouseholdContext,
    roster: Iterable[WorkerSnapshot],
    open_tasks: Mapping[str, int],
    when: Circumstances,
    exclude: frozenset[str] = frozenset(),
    stand_ins: Mapping[Role, Sequence[Role]] | None = None,
) -> list[str | None]:
    """One different worker per slot, best first; None where nobody can take the slot.

    ``stand_ins`` names, per slot role, the roles that may take the slot (in that order)
    when nobody holding the role itself can."""
    workers = list(roster)
    chosen: list[str | None] = []
    for role in slots:
        taken = frozenset(exclude | {w for w in chosen if w is not None})
        options: list[Candidate] = []
        for option in (role, *(stand_ins or {}).get(role, ())):
            options = candidates(option, household, workers, open_tasks, when, taken)
            if options:
                break
        chosen.append(options[0].worker_id if options else None)
    return chosen
