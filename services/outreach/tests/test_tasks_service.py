"""Outreach's service layer on a real database (SQLite and PostgreSQL): protocol steps
become tasks once, offers go to the right people and move on when unanswered or declined,
nobody's task goes to the duty officer, outcomes are published without the note, and a
closed protocol cancels what is left."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlmodel import select

from anbu_contracts import (
    ContactMode,
    EscalationChange,
    EscalationClosure,
    EscalationStatus,
    ItemState,
    MonitoringItems,
    Need,
    OutcomeResult,
    RecipientKind,
    Role,
    TaskStatus,
    TaskType,
)
from anbu_outreach.adapters.orm import OfferRow, OutcomeRow
from anbu_outreach.domain.offers import DeclineReason, TaskStateError
from anbu_outreach.handlers import tasks
from anbu_runtime.clock import ManualClock

from .conftest import PUBLIC_URL, closed, notify_action, step_executed, task_action
from .roster_builders import DONG, T0, household, worker

DAY2_TEAM = [Role.OFFICIAL, Role.LIFE_SUPPORT_WORKER, Role.BLOCK_LEADER]


def day1_call(hid: str, **kw: Any) -> Any:
    action = task_action(
        "follow-up-call", TaskType.PHONE_CHECK, [Role.OFFICIAL], T0 + timedelta(hours=8)
    )
    return step_executed(hid, "day1.contact", [action], **kw)


def day2_visit(hid: str, **kw: Any) -> Any:
    action = task_action("team-visit", TaskType.HOME_VISIT, DAY2_TEAM, T0 + timedelta(hours=3))
    return step_executed(hid, "day2.visit", [action], **kw)


def seoul_dong_staff() -> list[Any]:
    return [
        worker("W-OFF01", Role.OFFICIAL),
        worker("W-OFF02", Role.OFFICIAL),
        worker("W-LSW01", Role.LIFE_SUPPORT_WORKER),
        worker("W-LSW02", Role.LIFE_SUPPORT_WORKER),
        worker("W-BLK01", Role.BLOCK_LEADER),
    ]


def test_a_step_delivered_twice_makes_one_task_offered_to_the_households_own_official(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household(responsible="W-OFF02"))
    event = day1_call("HH-AAAAAA01")
    world.deliver(event)
    world.deliver(event.model_copy(update={"event_id": event.event_id.__class__(int=1)}))

    [offered] = world.tasks()
    assert offered.status is TaskStatus.OFFERED
    assert offered.assignees == ["W-OFF02"]  # continuity: the household's own official
    assert (offered.step_id, offered.action_id, offered.dong_code) == (
        "day1.contact",
        "follow-up-call",
        DONG,
    )
    [note] = world.published("notify.request.v1")
    assert note.template == "task.offered"
    assert note.recipient.kind is RecipientKind.STAFF and note.recipient.ref == "W-OFF02"
    assert note.variables["link"] == f"{PUBLIC_URL}/app/tasks/{offered.task_id}"
    assert {"task_type", "deadline", "household_id"} <= set(note.variables)


def test_the_day2_visit_is_accepted_when_the_whole_team_has_accepted(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household(responsible="W-OFF01"))
    world.deliver(day2_visit("HH-AAAAAA01"))
    [offered] = world.tasks()
    assert offered.assignees == ["W-OFF01", "W-LSW01", "W-BLK01"]
    task_id = offered.task_id

    world.run(lambda uow: tasks.accept(uow, task_id, "W-OFF01"))
    assert world.last_task_event(task_id).status is TaskStatus.OFFERED  # 1 of 3
    world.run(lambda uow: tasks.accept(uow, task_id, "W-LSW01"))
    world.run(lambda uow: tasks.accept(uow, task_id, "W-BLK01"))
    accepted = world.last_task_event(task_id)
    assert accepted.status is TaskStatus.ACCEPTED
    assert accepted.assignees == ["W-OFF01", "W-LSW01", "W-BLK01"]


def test_any_member_who_accepted_records_the_outcome_and_the_note_stays_in_outreach(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household(responsible="W-OFF01"))
    world.deliver(day2_visit("HH-AAAAAA01"))
    task_id = world.tasks()[0].task_id
    note = "현관에 우편물이 쌓여 있었음. 010-1234-5678 이웃 연락처 확인"

    def outcome_by(worker_id: str) -> Any:
        return world.run(
            lambda uow: tasks.record_outcome(
                uow,
                task_id,
                worker_id,
                OutcomeResult.CONTACT_CONFIRMED,
                ContactMode.VISIT,
                MonitoringItems(health=ItemState.CONCERN, safety_environment=ItemState.OK),
                [Need.FOOD, Need.CARE],
                True,
                note,
            )
        )

    try:
        outcome_by("W-LSW01")  # offered, not accepted
    except TaskStateError:
        pass
    else:
        raise AssertionError("someone who had not accepted recorded an outcome")
    world.run(lambda uow: tasks.accept(uow, task_id, "W-LSW01"))
    outcome_by("W-LSW01")

    [published] = world.published("outreach.outcome.v1")
    assert published.result is OutcomeResult.CONTACT_CONFIRMED
    assert (published.step_id, published.action_id) == ("day2.visit", "team-visit")
    assert published.monitoring.health is ItemState.CONCERN
    assert published.needs == [Need.FOOD, Need.CARE] and published.follow_up
    assert published.note_ref == str(published.outcome_id)
    assert world.last_task_event(task_id).status is TaskStatus.COMPLETED
    stored = world.run(lambda uow: uow.session.exec(select(OutcomeRow)).one())
    assert stored.note == note
    assert "우편물".encode() not in world.outbox_bytes()
    assert b"010-1234-5678" not in world.outbox_bytes()


def test_an_unanswered_offer_goes_to_the_next_candidate_once_even_after_a_restart(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household(responsible="W-OFF01"))
    world.deliver(day1_call("HH-AAAAAA01"))
    task_id = world.tasks()[0].task_id

    world.clock.advance(timedelta(minutes=14))
    assert world.run(lambda uow: tasks.sweep_offers(uow)) == 0
    world.clock.advance(timedelta(minutes=1))  # the 15-minute window of a same-day task
    world.close()
    restarted = make_world(database_url, clock=world.clock)
    assert restarted.run(lambda uow: tasks.sweep_offers(uow)) == 1
    assert restarted.run(lambda uow: tasks.sweep_offers(uow)) == 0  # once

    moved = restarted.last_task_event(task_id)
    assert moved.assignees == ["W-OFF02"] and moved.status is TaskStatus.OFFERED
    assert "expired" in (moved.reason or "")
    offers = [n.recipient.ref for n in restarted.published("notify.request.v1")]
    assert offers == ["W-OFF01", "W-OFF02"]
    # the person whose offer lapsed cannot accept it any more
    try:
        restarted.run(lambda uow: tasks.accept(uow, task_id, "W-OFF01"))
    except TaskStateError:
        pass
    else:
        raise AssertionError("a lapsed offer was accepted")


def test_a_decline_with_a_reason_goes_to_the_next_candidate_and_the_note_is_not_published(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household(responsible="W-OFF01"))
    world.deliver(day1_call("HH-AAAAAA01"))
    task_id = world.tasks()[0].task_id
    world.run(
        lambda uow: tasks.decline(
            uow, task_id, "W-OFF01", DeclineReason.CONFLICT_OF_INTEREST, "친척 관계"
        )
    )
    statuses = [e.status for e in world.tasks()]
    assert statuses == [TaskStatus.OFFERED, TaskStatus.DECLINED, TaskStatus.OFFERED]
    assert world.last_task_event(task_id).assignees == ["W-OFF02"]
    assert "친척".encode() not in world.outbox_bytes()
    row = world.run(
        lambda uow: uow.session.exec(select(OfferRow).where(OfferRow.worker_id == "W-OFF01")).one()
    )
    assert (row.state, row.decline_reason, row.decline_note) == (
        "declined",
        "conflict_of_interest",
        "친척 관계",
    )


def test_a_task_nobody_can_take_goes_to_the_duty_officer(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(worker("W-OFF01"), household())  # no life-support worker, no block leader
    world.deliver(day2_visit("HH-AAAAAA01"))
    [event] = world.tasks()
    assert event.status is TaskStatus.UNASSIGNED
    assert event.assignees == ["W-OFF01"]  # the people there are still asked
    duty = [n for n in world.published("notify.request.v1") if n.template == "task.unassigned"]
    assert len(duty) == 1
    assert duty[0].recipient.kind is RecipientKind.DUTY_OFFICER
    assert duty[0].variables["link"].endswith(f"/app/tasks/{event.task_id}")

    # an operator offers the vacant slots by hand
    world.enrol(worker("W-LSW09", Role.LIFE_SUPPORT_WORKER), worker("W-BLK09", Role.BLOCK_LEADER))
    world.run(lambda uow: tasks.offer_by_hand(uow, event.task_id, "W-LSW09"))
    world.run(lambda uow: tasks.offer_by_hand(uow, event.task_id, "W-BLK09"))
    assert world.last_task_event(event.task_id).status is TaskStatus.OFFERED


def test_closing_the_escalation_cancels_the_tasks_still_open(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household())
    step = day1_call("HH-AAAAAA01")
    world.deliver(step)
    task_id = world.tasks()[0].task_id
    world.deliver(closed(step, EscalationClosure.CONTACT_CONFIRMED, T0 + timedelta(hours=1)))
    cancelled = world.last_task_event(task_id)
    assert cancelled.status is TaskStatus.CANCELLED
    assert cancelled.reason == "protocol closed: contact_confirmed"
    assert world.run(lambda uow: uow.repos.open_loads(["W-OFF01", "W-OFF02"])) == {}


def test_steps_cancelled_by_the_closure_make_no_task_and_the_open_visit_is_cancelled(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*seoul_dong_staff(), household())
    visit = day2_visit("HH-AAAAAA01")
    world.deliver(visit)
    [task] = world.tasks()
    at = T0 + timedelta(hours=2)
    door = task_action("open-door", TaskType.DOOR_OPENING, [Role.OFFICIAL], at)
    # What the detector publishes when a contact is confirmed while day2.door still waits.
    door_cancelled = step_executed(
        "HH-AAAAAA01", "day2.door", [door], escalation_id=visit.escalation_id, at=at
    ).model_copy(
        update={
            "change": EscalationChange.STEP_CANCELLED,
            "status": EscalationStatus.CLOSED,
            "closure": EscalationClosure.CONTACT_CONFIRMED,
        }
    )
    world.deliver(door_cancelled)
    world.deliver(closed(visit, EscalationClosure.CONTACT_CONFIRMED, at))
    assert {t.task_id for t in world.tasks()} == {task.task_id}  # no door-opening task
    assert world.last_task_event(task.task_id).status is TaskStatus.CANCELLED


def test_an_emergency_response_is_offered_to_the_duty_officer_and_a_partner(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(
        worker("W-DUTY1", Role.DUTY_OFFICER), worker("W-POL01", Role.POLICE_LIAISON), household()
    )
    respond = task_action(
        "respond", TaskType.EMERGENCY_RESPONSE, [Role.DUTY_OFFICER], T0 + timedelta(hours=1)
    )
    world.deliver(step_executed("HH-AAAAAA01", "now", [respond]))
    [task] = world.tasks()
    assert [r.value for r in task.team] == ["duty_officer", "official"]
    assert sorted(task.assignees) == ["W-DUTY1", "W-POL01"]  # no official: the 112 liaison


def test_protocol_messages_carry_what_the_templates_can_show(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(household())
    action = notify_action("police-112", RecipientKind.POLICE_LIAISON, "emergency.liaison_112")
    event = step_executed("HH-AAAAAA01", "day2.door", [action])
    world.deliver(event)
    [message] = world.published("notify.request.v1")
    assert message.request_key == f"{event.escalation_id}:day2.door:police-112"
    assert message.variables == {
        "household_id": "HH-AAAAAA01",
        "dong_code": DONG,
        "step": "day2.door",
        "protocol": "safety-not-confirmed",
        "link": f"https://console.example/escalations/{event.escalation_id}",
    }


def test_a_task_nobody_accepted_expires_a_grace_period_after_its_deadline(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(household())  # nobody on the roster
    world.deliver(day1_call("HH-AAAAAA01"))
    task_id = world.tasks()[0].task_id
    world.clock.advance(timedelta(hours=8 + 23))
    assert world.run(lambda uow: tasks.expire_stale(uow)) == 0
    world.clock.advance(timedelta(hours=1))
    assert world.run(lambda uow: tasks.expire_stale(uow)) == 1
    assert world.last_task_event(task_id).status is TaskStatus.EXPIRED


def test_a_burst_is_spread_by_load_and_nobody_gets_more_than_their_maximum(
    make_world: Any,
) -> None:
    world = make_world()
    staff = [worker(f"W-OFF0{i}", Role.OFFICIAL, max_open=3) for i in range(1, 4)]
    world.enrol(*staff)
    for n in range(10):
        world.enrol(household(f"HH-BURST{n:04d}"))
        world.deliver(day1_call(f"HH-BURST{n:04d}"))
    loads = Counter(w for e in world.tasks() for w in e.assignees)
    assert loads == {"W-OFF01": 3, "W-OFF02": 3, "W-OFF03": 3}
    assert [e.status for e in world.tasks()].count(TaskStatus.UNASSIGNED) == 1


def test_a_task_nobody_could_take_at_night_is_offered_when_the_morning_shift_starts(
    make_world: Any,
) -> None:
    night = T0.replace(hour=23)
    world = make_world(clock=ManualClock(night))
    world.enrol(worker("W-OFF01"), household())  # office hours only, no night duty
    world.deliver(day1_call("HH-AAAAAA01", at=night))
    [event] = world.tasks()
    assert event.status is TaskStatus.UNASSIGNED and event.assignees == []
    world.clock.advance(timedelta(minutes=30))
    assert world.run(lambda uow: tasks.retry_vacancies(uow)) == 0  # still night
    assert len(world.tasks()) == 1  # nothing new to say
    world.clock.set(T0.replace(hour=9, minute=5) + timedelta(days=1))
    assert world.run(lambda uow: tasks.retry_vacancies(uow)) == 1
    offered = world.last_task_event(event.task_id)
    assert offered.status is TaskStatus.OFFERED and offered.assignees == ["W-OFF01"]
    duty = [n for n in world.published("notify.request.v1") if n.template == "task.unassigned"]
    assert len(duty) == 1  # the duty officer was told once
