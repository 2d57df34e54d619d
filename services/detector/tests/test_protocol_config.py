"""The shipped rule and protocol files load, and the protocol machine runs them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from anbu_contracts import (
    AlertReason,
    EscalationClosure,
    EscalationStatus,
    NotifyAction,
    OutcomeResult,
    RecipientKind,
    TaskAction,
)
from anbu_detector.adapters.config_files import load_protocols, load_ruleset
from anbu_detector.domain import protocols

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_the_rules_start_the_safety_protocol_for_safety_not_confirmed() -> None:
    ruleset = load_ruleset()
    assert ruleset.protocol_for(AlertReason.SAFETY_NOT_CONFIRMED) == "safety-not-confirmed"
    assert set(load_protocols()) >= {"safety-not-confirmed"}


def test_day1_runs_at_once_with_a_text_to_the_resident_a_log_record_and_a_follow_up_call() -> None:
    protocol = load_protocols()["safety-not-confirmed"]
    escalation = protocols.start(protocol, uuid4(), uuid4(), "HH-AAAAAA", T0)
    [step] = protocols.due_steps(protocol, escalation, T0)
    after, record = protocols.execute(escalation, step, T0)
    assert record.step_id == "day1.contact"
    assert after.executed_steps == ("day1.contact",)
    notify = [a for a in record.actions if isinstance(a, NotifyAction)]
    tasks = [a for a in record.actions if isinstance(a, TaskAction)]
    assert notify[0].recipient.kind is RecipientKind.RESIDENT
    assert notify[0].recipient.household_id == "HH-AAAAAA"
    assert tasks[0].deadline == T0 + timedelta(hours=8)
    assert {a.action for a in record.actions} == {"notify", "task", "log"}
    assert protocols.due_steps(protocol, after, T0 + timedelta(days=3)) == []


def test_contact_confirmed_closes_and_not_found_does_not() -> None:
    protocol = load_protocols()["safety-not-confirmed"]
    assert (
        protocols.closure_for(protocol, OutcomeResult.CONTACT_CONFIRMED)
        is EscalationClosure.CONTACT_CONFIRMED
    )
    assert protocols.closure_for(protocol, OutcomeResult.NOT_FOUND) is None
    escalation = protocols.start(protocol, uuid4(), uuid4(), "HH-AAAAAA", T0)
    closed = protocols.close(escalation, EscalationClosure.CONTACT_CONFIRMED, T0)
    assert closed.status is EscalationStatus.CLOSED
    assert protocols.due_steps(protocol, closed, T0) == []
