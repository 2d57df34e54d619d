"""The protocol machine on the shipped protocol files (domain brief §5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from anbu_contracts import (
    ApprovalRecord,
    EscalationClosure,
    EscalationStatus,
    NotifyAction,
    OutcomeResult,
    RecipientKind,
    TaskAction,
    TaskType,
)
from anbu_detector.adapters.config_files import load_protocols
from anbu_detector.domain import protocols
from anbu_detector.domain.calendar import add_working_days, is_working_day
from anbu_detector.domain.protocols import Context, StepState

SEOUL = ZoneInfo("Asia/Seoul")
PROTOCOLS = load_protocols()
SAFETY = PROTOCOLS["safety-not-confirmed"]
WELFARE = PROTOCOLS["welfare-check"]


def kst(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SEOUL).astimezone(UTC)


def started(protocol: protocols.ProtocolSpec, at: datetime) -> protocols.Escalation:
    return protocols.start(protocol, uuid4(), uuid4(), "HH-AAAAAA", at)


def run(
    escalation: protocols.Escalation,
    at: datetime,
    ctx: Context | None = None,
    protocol: protocols.ProtocolSpec = SAFETY,
):
    return protocols.run_due(protocol, escalation, ctx or Context(), at)


def test_day1_runs_at_once_with_a_text_a_log_record_and_a_follow_up_call() -> None:
    _, results = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    [day1] = results
    assert day1.record.step_id == "day1.contact" and day1.state is StepState.EXECUTED
    notify = [a for a in day1.record.actions if isinstance(a, NotifyAction)]
    tasks = [a for a in day1.record.actions if isinstance(a, TaskAction)]
    assert notify[0].recipient.kind is RecipientKind.RESIDENT
    assert [t.task_type for t in tasks] == [TaskType.PHONE_CHECK]  # no visit sticker: not a visit
    assert tasks[0].deadline == kst(25, 18)


def test_day2_morning_is_at_0900_local_on_the_next_day_whatever_the_trigger_time() -> None:
    for trigger in (kst(25, 10), kst(25, 23, 30), kst(25, 0, 5)):
        escalation, _ = run(started(SAFETY, trigger), trigger)
        step, due = protocols.next_due(SAFETY, escalation, Context())  # type: ignore[misc]
        assert step.id == "day2.visit"
        assert due == kst(26, 9)


def test_the_day2_visit_is_a_team_of_three_never_one_person() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    _, results = run(escalation, kst(26, 9))
    visit = next(r for r in results if r.record.step_id == "day2.visit")
    [task] = [a for a in visit.record.actions if isinstance(a, TaskAction)]
    assert [r.value for r in task.team] == ["official", "life_support_worker", "block_leader"]


def test_conditional_steps_run_only_when_their_condition_holds() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    ctx = Context(medical_aid=False, landlord_on_file=True, guardians_on_file=False)
    escalation, results = run(escalation, kst(26, 9), ctx)
    states = {r.record.step_id: r.state for r in results}
    assert states["day2.hospital"] is StepState.SKIPPED
    assert states["day2.landlord"] is StepState.EXECUTED
    assert states["day2.guardians"] is StepState.SKIPPED
    assert states["day2.door"] is StepState.AWAITING_APPROVAL


def test_the_door_is_opened_only_after_a_recorded_approval_with_who_was_present() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    escalation, _ = run(escalation, kst(26, 9))
    escalation, again = run(escalation, kst(26, 9, 30))
    assert all(r.record.step_id != "day2.door" for r in again)  # still waiting, not repeated
    approval = ApprovalRecord(
        kind="door_opening",
        requested_by="U-OFFICIAL",
        approved_by="U-CHIEF",
        present=["W-DEMO001", "police:종로-112"],
        recorded_at=kst(26, 10),
    )
    escalation = protocols.record_approval(escalation, approval)
    escalation, results = run(escalation, kst(26, 10))
    [door] = [r for r in results if r.record.step_id == "day2.door"]
    assert door.state is StepState.EXECUTED and door.record.approval == approval
    [task] = [a for a in door.record.actions if isinstance(a, TaskAction)]
    assert task.task_type is TaskType.DOOR_OPENING
    assert "police_liaison" in [r.value for r in task.team]


def test_the_missing_person_report_is_due_at_1400_local_on_day2() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    escalation, _ = run(escalation, kst(26, 9))
    escalation, early = run(escalation, kst(26, 13, 59))
    assert all(r.record.step_id != "day2.missing" for r in early)
    escalation, results = run(escalation, kst(26, 14))
    [missing] = results
    assert missing.record.step_id == "day2.missing" and missing.record.due_at == kst(26, 14)


def test_a_confirmed_contact_closes_and_a_late_outcome_changes_nothing() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    same, closure = protocols.apply_outcome(
        SAFETY, escalation, OutcomeResult.CONTACT_CONFIRMED, "day1.contact"
    )
    assert closure is EscalationClosure.CONTACT_CONFIRMED
    closed, _ = protocols.close(SAFETY, same, closure, kst(25, 11), Context())
    assert closed.status is EscalationStatus.CLOSED
    assert protocols.run_due(SAFETY, closed, Context(), kst(27, 9)) == (closed, [])
    late, nothing = protocols.apply_outcome(SAFETY, closed, OutcomeResult.NOT_FOUND, None)
    assert late == closed and nothing is None


def test_contact_confirmed_at_the_day2_visit_cancels_the_door_and_missing_person_steps() -> None:
    escalation, _ = run(started(SAFETY, kst(25, 10)), kst(25, 10))
    escalation, _ = run(escalation, kst(26, 9))
    assert escalation.steps["day2.door"] is StepState.AWAITING_APPROVAL
    same, closure = protocols.apply_outcome(
        SAFETY, escalation, OutcomeResult.CONTACT_CONFIRMED, "day2.visit"
    )
    assert closure is EscalationClosure.CONTACT_CONFIRMED

    closed, cancelled = protocols.close(SAFETY, same, closure, kst(26, 11), Context())

    assert [r.record.step_id for r in cancelled] == ["day2.door", "day2.missing"]
    for result in cancelled:
        assert result.state is StepState.CANCELLED
        assert result.record.executed_at == kst(26, 11) and result.record.actions == []
        assert result.record.note is not None and "contact_confirmed" in result.record.note
    assert closed.steps["day2.door"] is StepState.CANCELLED
    assert closed.steps["day2.missing"] is StepState.CANCELLED
    assert StepState.AWAITING_APPROVAL not in closed.steps.values()
    assert protocols.pending(SAFETY, closed) == []
    assert protocols.next_due(SAFETY, closed, Context()) is None  # no timer left
    assert protocols.close(SAFETY, closed, closure, kst(27, 9), Context()) == (closed, [])


def test_welfare_check_phone_within_three_working_days_skipping_holidays() -> None:
    assert not is_working_day(date(2026, 1, 1))  # New Year's Day
    trigger = datetime(2025, 12, 31, 10, tzinfo=SEOUL).astimezone(UTC)  # a Wednesday
    assert add_working_days(trigger, 3, SEOUL) == datetime(2026, 1, 6, 18, tzinfo=SEOUL)
    _, [phone] = run(started(WELFARE, trigger), trigger, protocol=WELFARE)
    [task] = [a for a in phone.record.actions if isinstance(a, TaskAction)]
    assert task.deadline == datetime(2026, 1, 6, 18, tzinfo=SEOUL)


def test_welfare_check_a_failed_phone_contact_brings_the_visit_forward() -> None:
    escalation, _ = run(started(WELFARE, kst(25, 10)), kst(25, 10), protocol=WELFARE)
    step, due = protocols.next_due(WELFARE, escalation, Context())  # type: ignore[misc]
    assert step.id == "visit" and due == kst(28, 10)
    advanced, closure = protocols.apply_outcome(
        WELFARE, escalation, OutcomeResult.NOT_FOUND, "phone"
    )
    assert closure is None
    _, results = run(advanced, kst(25, 12), protocol=WELFARE)
    assert [r.record.step_id for r in results] == ["visit"]


def test_welfare_check_ends_with_the_decision_and_not_with_the_phone_call() -> None:
    escalation, _ = run(started(WELFARE, kst(25, 10)), kst(25, 10), protocol=WELFARE)
    _, on_phone = protocols.apply_outcome(
        WELFARE, escalation, OutcomeResult.CONTACT_CONFIRMED, "phone"
    )
    assert on_phone is None
    _, on_decision = protocols.apply_outcome(
        WELFARE, escalation, OutcomeResult.CONTACT_CONFIRMED, "decision"
    )
    assert on_decision is EscalationClosure.COMPLETED
    _, no_need = protocols.apply_outcome(WELFARE, escalation, OutcomeResult.NO_NEED, "visit")
    assert no_need is EscalationClosure.NO_NEED


def test_emergency_calls_119_for_an_sos_and_112_for_abuse() -> None:
    emergency = PROTOCOLS["emergency"]
    _, [sos] = protocols.run_due(emergency, started(emergency, kst(25, 3)), Context(), kst(25, 3))
    _, [abuse] = protocols.run_due(
        emergency, started(emergency, kst(25, 3)), Context(abuse=True), kst(25, 3)
    )

    def kinds(result: protocols.StepResult) -> set[str]:
        return {
            a.recipient.kind.value for a in result.record.actions if isinstance(a, NotifyAction)
        }

    assert "fire_liaison" in kinds(sos) and "police_liaison" not in kinds(sos)
    assert "police_liaison" in kinds(abuse)
    assert sos.record.executed_at - kst(25, 3) == timedelta(0)


def test_the_emergency_response_is_a_pair_never_one_person_alone() -> None:
    emergency = PROTOCOLS["emergency"]
    _, [now] = protocols.run_due(emergency, started(emergency, kst(25, 3)), Context(), kst(25, 3))
    [respond] = [a for a in now.record.actions if isinstance(a, TaskAction)]
    assert respond.task_type is TaskType.EMERGENCY_RESPONSE
    assert [r.value for r in respond.team] == ["duty_officer", "official"]


def test_a_step_heading_is_written_from_its_timing_so_a_time_is_changed_in_one_place() -> None:
    visit = PROTOCOLS["safety-not-confirmed"].step("day2.visit")
    assert visit.heading.en.startswith("Day 2, 09:00 — home visit")
    assert visit.heading.ko.startswith("2일차 09:00 — ")
    assert "09:00" not in visit.title.en + visit.title.ko  # the time lives in `at` only
    moved = visit.model_copy(update={"at": visit.at.replace(hour=8, minute=30)})  # type: ignore[union-attr]
    assert moved.heading.en.startswith("Day 2, 08:30 — ")
    at_once = PROTOCOLS["emergency"].step("now")
    assert at_once.heading.ko == "즉시 — 119·112 통보 및 당직 출동"
    assert PROTOCOLS["welfare-check"].steps[1].heading.en.startswith("Day 4 — ")


def test_every_message_a_protocol_sends_has_a_notifier_template() -> None:
    # A template the notifier lacks fails its request at send time, mid-protocol: caught here.
    from anbu_notifier.domain.rendering import Renderer

    named = {
        action.template
        for protocol in PROTOCOLS.values()
        for step in protocol.steps
        for action in step.actions
        if isinstance(action, protocols.NotifySpec)
    }
    assert "safety_check.ai_call" in named
    assert named - set(Renderer().templates()) == set()
