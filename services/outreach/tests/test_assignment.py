"""Assignment rules: role and area, load, duty rosters at night and on public holidays,
continuity, never alone with a threat flag, volunteers in pairs, offer expiry and the next
candidate."""

from __future__ import annotations

from datetime import datetime, timedelta

from anbu_contracts import Role, TaskStatus, TaskType, Urgency
from anbu_outreach.domain.assignment import (
    EMERGENCY_STAND_INS,
    Circumstances,
    HouseholdContext,
    assign_team,
    candidates,
    team_slots,
)
from anbu_outreach.domain.availability import korean_public_holidays
from anbu_outreach.domain.offers import DeclineReason, TaskAssignment, TaskStateError

from .roster_builders import DONG, NEIGHBOUR_DONG, OTHER_DISTRICT_DONG, SEOUL, T0, duty, worker

HOLIDAYS = korean_public_holidays()
HOUSEHOLD = HouseholdContext(household_id="HH-AAAAAA01", dong_code=DONG)
NOW = Circumstances(T0, Urgency.HIGH, HOLIDAYS)
WINDOW = timedelta(minutes=15)


def ids(ranked: list) -> list[str]:  # type: ignore[type-arg]
    return [c.worker_id for c in ranked]


def test_only_active_workers_with_the_role_serving_the_dong_are_candidates() -> None:
    roster = [
        worker("W-A01", Role.OFFICIAL),
        worker("W-A02", Role.VOLUNTEER),
        worker("W-A03", Role.OFFICIAL, dongs=(NEIGHBOUR_DONG,)),
        worker("W-A04", Role.OFFICIAL, active=False),
    ]
    assert ids(candidates(Role.OFFICIAL, HOUSEHOLD, roster, {}, NOW)) == ["W-A01"]


def test_a_household_unknown_to_outreach_gets_nobody_so_the_duty_officer_decides() -> None:
    unknown = HouseholdContext(household_id="HH-AAAAAA01", dong_code=None)
    assert candidates(Role.OFFICIAL, unknown, [worker("W-A01")], {}, NOW) == []


def test_the_least_loaded_relative_to_their_maximum_comes_first_and_a_full_one_is_skipped() -> None:
    roster = [
        worker("W-A01", max_open=10),  # 4 of 10
        worker("W-A02", max_open=4),  # 2 of 4
        worker("W-A03", max_open=5),  # full
    ]
    loads = {"W-A01": 4, "W-A02": 2, "W-A03": 5}
    assert ids(candidates(Role.OFFICIAL, HOUSEHOLD, roster, loads, NOW)) == ["W-A01", "W-A02"]


def test_the_households_own_official_comes_first_while_they_have_room() -> None:
    roster = [worker("W-A01"), worker("W-A02")]
    own = HouseholdContext("HH-AAAAAA01", DONG, responsible_worker_id="W-A02")
    assert candidates(Role.OFFICIAL, own, roster, {"W-A02": 4}, NOW)[0].worker_id == "W-A02"
    assert candidates(Role.OFFICIAL, own, roster, {"W-A02": 5}, NOW)[0].worker_id == "W-A01"


def test_the_matched_volunteer_comes_first_among_volunteers() -> None:
    roster = [worker("W-V01", Role.VOLUNTEER), worker("W-V02", Role.VOLUNTEER)]
    matched = HouseholdContext("HH-AAAAAA01", DONG, matched_volunteer_id="W-V02")
    assert ids(candidates(Role.VOLUNTEER, matched, roster, {}, NOW)) == ["W-V02", "W-V01"]


def test_staff_off_shift_are_not_offered_the_task() -> None:
    roster = [worker("W-A01"), worker("W-A02")]
    evening = Circumstances(T0.replace(hour=19), Urgency.HIGH, HOLIDAYS)
    assert candidates(Role.OFFICIAL, HOUSEHOLD, roster, {}, evening) == []


def test_at_night_the_task_goes_to_the_duty_rostered_official() -> None:
    night = datetime(2026, 11, 25, 23, 30, tzinfo=SEOUL)
    roster = [
        worker("W-A01"),
        worker("W-A02", duty=[duty(night.replace(hour=18), 15)]),
        worker("W-A03"),
    ]
    when = Circumstances(night, Urgency.HIGH, HOLIDAYS)
    assert ids(candidates(Role.OFFICIAL, HOUSEHOLD, roster, {}, when)) == ["W-A02"]


def test_on_a_public_holiday_the_task_goes_to_holiday_duty_even_before_the_households_own() -> None:
    chuseok = datetime(2026, 9, 25, 11, 0, tzinfo=SEOUL)  # 추석, a Friday
    assert HOLIDAYS(chuseok.date())
    roster = [worker("W-A01"), worker("W-A02", duty=[duty(chuseok.replace(hour=9), 9)])]
    own = HouseholdContext("HH-AAAAAA01", DONG, responsible_worker_id="W-A01")
    when = Circumstances(chuseok, Urgency.HIGH, HOLIDAYS)
    assert ids(candidates(Role.OFFICIAL, own, roster, {}, when)) == ["W-A02"]
    # the next working day the household's own official is back first
    monday = Circumstances(datetime(2026, 9, 28, 10, tzinfo=SEOUL), Urgency.HIGH, HOLIDAYS)
    assert ids(candidates(Role.OFFICIAL, own, roster, {}, monday))[0] == "W-A01"


def test_rostered_staff_at_work_rank_before_unrostered_staff() -> None:
    roster = [worker("W-A01", shifts=[]), worker("W-A02")]
    assert ids(candidates(Role.OFFICIAL, HOUSEHOLD, roster, {}, NOW)) == ["W-A02", "W-A01"]


def test_a_critical_task_with_nobody_local_goes_to_on_duty_staff_of_the_same_district() -> None:
    night = datetime(2026, 11, 25, 23, 30, tzinfo=SEOUL)
    slot = [duty(night.replace(hour=18), 15)]
    roster = [
        worker("W-A01", Role.DUTY_OFFICER, dongs=(NEIGHBOUR_DONG,), duty=slot),
        worker("W-A02", Role.DUTY_OFFICER, dongs=(OTHER_DISTRICT_DONG,), duty=slot),
        worker("W-A03", Role.DUTY_OFFICER, dongs=(NEIGHBOUR_DONG,)),  # not on duty
    ]
    critical = Circumstances(night, Urgency.CRITICAL, HOLIDAYS)
    high = Circumstances(night, Urgency.HIGH, HOLIDAYS)
    assert ids(candidates(Role.DUTY_OFFICER, HOUSEHOLD, roster, {}, critical)) == ["W-A01"]
    assert candidates(Role.DUTY_OFFICER, HOUSEHOLD, roster, {}, high) == []
    local = [*roster, worker("W-A04", Role.DUTY_OFFICER, duty=slot)]
    assert ids(candidates(Role.DUTY_OFFICER, HOUSEHOLD, local, {}, critical)) == ["W-A04"]


def test_the_day2_team_gets_one_different_person_per_role() -> None:
    roster = [
        worker("W-A01", Role.OFFICIAL, Role.BLOCK_LEADER),
        worker("W-A02", Role.LIFE_SUPPORT_WORKER),
        worker("W-A03", Role.BLOCK_LEADER),
    ]
    team = [Role.OFFICIAL, Role.LIFE_SUPPORT_WORKER, Role.BLOCK_LEADER]
    slots = team_slots(team, HOUSEHOLD, in_person=True)
    assert assign_team(slots, HOUSEHOLD, roster, {}, NOW) == ["W-A01", "W-A02", "W-A03"]


def test_a_slot_nobody_can_take_is_left_vacant() -> None:
    roster = [worker("W-A01")]
    assert assign_team([Role.OFFICIAL, Role.BLOCK_LEADER], HOUSEHOLD, roster, {}, NOW) == [
        "W-A01",
        None,
    ]


def test_a_visit_to_a_household_with_a_threat_history_never_goes_to_one_person() -> None:
    risky = HouseholdContext("HH-AAAAAA01", DONG, violence_risk=True)
    assert team_slots([Role.OFFICIAL], risky, in_person=True) == [Role.OFFICIAL, Role.OFFICIAL]
    assert team_slots([Role.OFFICIAL], risky, in_person=False) == [Role.OFFICIAL]  # a call
    slots = team_slots([Role.OFFICIAL], risky, in_person=True)
    one = [worker("W-A01")]
    assert assign_team(slots, risky, one, {}, NOW) == ["W-A01", None]
    assert assign_team(slots, risky, [*one, worker("W-A02")], {}, NOW) == ["W-A01", "W-A02"]


def test_an_emergency_response_goes_to_a_pair_never_to_the_duty_officer_alone() -> None:
    alone = team_slots(
        [Role.DUTY_OFFICER], HOUSEHOLD, in_person=True, task_type=TaskType.EMERGENCY_RESPONSE
    )
    assert alone == [Role.DUTY_OFFICER, Role.OFFICIAL]
    roster = [worker("W-DUTY1", Role.DUTY_OFFICER), worker("W-OFF01", Role.OFFICIAL)]
    assert assign_team(alone, HOUSEHOLD, roster, {}, NOW, stand_ins=EMERGENCY_STAND_INS) == [
        "W-DUTY1",
        "W-OFF01",
    ]


def test_the_police_liaison_takes_the_emergency_partner_slot_when_no_official_can() -> None:
    slots = [Role.DUTY_OFFICER, Role.OFFICIAL]
    roster = [worker("W-DUTY1", Role.DUTY_OFFICER), worker("W-POL01", Role.POLICE_LIAISON)]
    assert assign_team(slots, HOUSEHOLD, roster, {}, NOW, stand_ins=EMERGENCY_STAND_INS) == [
        "W-DUTY1",
        "W-POL01",
    ]
    # Stand-ins only for the emergency: an ordinary visit's official slot stays vacant.
    assert assign_team(slots, HOUSEHOLD, roster, {}, NOW) == ["W-DUTY1", None]


def test_a_lone_volunteer_visit_is_dispatched_as_a_pair() -> None:
    assert team_slots([Role.VOLUNTEER], HOUSEHOLD, in_person=True) == [
        Role.VOLUNTEER,
        Role.VOLUNTEER,
    ]
    roster = [worker(f"W-V0{i}", Role.VOLUNTEER) for i in (1, 2, 3)]
    slots = team_slots([Role.VOLUNTEER], HOUSEHOLD, in_person=True)
    assert assign_team(slots, HOUSEHOLD, roster, {"W-V01": 3}, NOW) == ["W-V02", "W-V03"]


def test_a_team_with_a_vacancy_is_unassigned_and_starts_only_complete() -> None:
    risky = HouseholdContext("HH-AAAAAA01", DONG, violence_risk=True)
    slots = team_slots([Role.OFFICIAL], risky, in_person=True)
    task = TaskAssignment(TaskStatus.UNASSIGNED, slots)
    task.fill(assign_team(slots, risky, [worker("W-A01")], {}, NOW), T0, WINDOW)
    assert task.status is TaskStatus.UNASSIGNED
    task.accept("W-A01", T0)
    try:
        task.start("W-A01")
    except TaskStateError:
        pass
    else:
        raise AssertionError("one official started a visit to a household with a threat flag")
    task.offer(1, "W-A02", T0, WINDOW)
    task.accept("W-A02", T0)
    assert task.status is TaskStatus.ACCEPTED
    task.start("W-A02")
    assert task.status is TaskStatus.STARTED


def test_an_offer_not_accepted_in_its_window_goes_to_the_next_candidate() -> None:
    roster = [worker("W-A01"), worker("W-A02"), worker("W-A03")]
    task = TaskAssignment(TaskStatus.UNASSIGNED, [Role.OFFICIAL])
    task.fill(assign_team(task.slots, HOUSEHOLD, roster, {}, NOW), T0, WINDOW)
    assert task.assignees() == ["W-A01"] and task.status is TaskStatus.OFFERED

    assert task.expire_offers(T0 + WINDOW - timedelta(seconds=1)) == []
    [lapsed] = task.expire_offers(T0 + WINDOW)
    assert lapsed.worker_id == "W-A01" and task.status is TaskStatus.UNASSIGNED
    later = Circumstances(T0 + WINDOW, Urgency.HIGH, HOLIDAYS)
    choices = assign_team(task.slots, HOUSEHOLD, roster, {}, later, exclude=task.excluded())
    task.fill(choices, later.now, WINDOW)
    assert task.assignees() == ["W-A02"]


def test_nobody_left_after_declines_and_expiries_leaves_the_task_unassigned() -> None:
    roster = [worker("W-A01"), worker("W-A02")]
    task = TaskAssignment(TaskStatus.UNASSIGNED, [Role.OFFICIAL])
    task.fill(assign_team(task.slots, HOUSEHOLD, roster, {}, NOW), T0, WINDOW)
    task.decline("W-A01", T0, DeclineReason.BUSY)
    task.fill(assign_team(task.slots, HOUSEHOLD, roster, {}, NOW, task.excluded()), T0, WINDOW)
    assert task.assignees() == ["W-A02"]
    task.expire_offers(T0 + WINDOW)
    change = task.fill(
        assign_team(task.slots, HOUSEHOLD, roster, {}, NOW, task.excluded()), T0 + WINDOW, WINDOW
    )
    assert change.became_vacant == [0]
    assert task.status is TaskStatus.UNASSIGNED and task.assignees() == []
    assert task.tried() == {"W-A01", "W-A02"}


def test_a_person_who_declined_is_never_offered_the_same_task_again() -> None:
    task = TaskAssignment(TaskStatus.UNASSIGNED, [Role.OFFICIAL])
    task.offer(0, "W-A01", T0, WINDOW)
    task.decline("W-A01", T0, DeclineReason.TOO_FAR)
    try:
        task.offer(0, "W-A01", T0, WINDOW)
    except TaskStateError:
        return
    raise AssertionError("a declined offer was made again")
