"""Assignment rules: role, area, load, continuity, and never alone with a threat flag."""

from __future__ import annotations

from datetime import UTC, datetime

from anbu_contracts import Role, WorkerSnapshot
from anbu_outreach.domain.assignment import HouseholdContext, assign_team, candidates

DONG = "1111051500"
OTHER = "1111053000"


def worker(
    wid: str, role: Role, dongs: tuple[str, ...] = (DONG,), max_open: int = 5, active: bool = True
) -> WorkerSnapshot:
    return WorkerSnapshot(
        occurred_at=datetime.now(UTC),
        source="registry",
        worker_id=wid,
        revision=1,
        roles=[role],
        dong_codes=list(dongs),
        max_open_tasks=max_open,
        active=active,
    )


HOUSEHOLD = HouseholdContext(household_id="HH-AAAAAA", dong_code=DONG)


def test_only_workers_with_the_role_serving_the_dong_are_candidates() -> None:
    roster = [
        worker("W-A01", Role.OFFICIAL),
        worker("W-A02", Role.VOLUNTEER),
        worker("W-A03", Role.OFFICIAL, (OTHER,)),
        worker("W-A04", Role.OFFICIAL, active=False),
    ]
    assert [c.worker_id for c in candidates(Role.OFFICIAL, HOUSEHOLD, roster, {})] == ["W-A01"]


def test_the_least_loaded_worker_comes_first_and_a_full_one_is_skipped() -> None:
    roster = [
        worker("W-A01", Role.OFFICIAL),
        worker("W-A02", Role.OFFICIAL),
        worker("W-A03", Role.OFFICIAL),
    ]
    loads = {"W-A01": 3, "W-A02": 1, "W-A03": 5}
    assert [c.worker_id for c in candidates(Role.OFFICIAL, HOUSEHOLD, roster, loads)] == [
        "W-A02",
        "W-A01",
    ]


def test_the_households_own_official_comes_first_while_they_have_room() -> None:
    roster = [worker("W-A01", Role.OFFICIAL), worker("W-A02", Role.OFFICIAL)]
    own = HouseholdContext(household_id="HH-AAAAAA", dong_code=DONG, responsible_worker_id="W-A02")
    assert candidates(Role.OFFICIAL, own, roster, {"W-A02": 4})[0].worker_id == "W-A02"
    assert candidates(Role.OFFICIAL, own, roster, {"W-A02": 5})[0].worker_id == "W-A01"


def test_a_team_gets_one_different_person_per_role() -> None:
    roster = [
        worker("W-A01", Role.OFFICIAL),
        worker("W-A02", Role.LIFE_SUPPORT_WORKER),
        worker("W-A03", Role.BLOCK_LEADER),
    ]
    team = [Role.OFFICIAL, Role.LIFE_SUPPORT_WORKER, Role.BLOCK_LEADER]
    assert assign_team(team, HOUSEHOLD, roster, {}, visit=True) == ["W-A01", "W-A02", "W-A03"]


def test_a_team_that_cannot_be_filled_is_not_assigned() -> None:
    roster = [worker("W-A01", Role.OFFICIAL)]
    assert (
        assign_team([Role.OFFICIAL, Role.BLOCK_LEADER], HOUSEHOLD, roster, {}, visit=True) is None
    )


def test_a_visit_to_a_household_with_a_threat_history_never_goes_to_one_person() -> None:
    risky = HouseholdContext(household_id="HH-AAAAAA", dong_code=DONG, violence_risk=True)
    one = [worker("W-A01", Role.OFFICIAL)]
    two = [*one, worker("W-A02", Role.OFFICIAL)]
    assert assign_team([Role.OFFICIAL], risky, one, {}, visit=True) is None
    assert assign_team([Role.OFFICIAL], risky, two, {}, visit=True) == ["W-A01", "W-A02"]
    assert assign_team([Role.OFFICIAL], risky, one, {}, visit=False) == ["W-A01"]  # a phone call
