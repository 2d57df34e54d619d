"""The detector's events are built without pydantic's validation of each field
(``adapters.events._event``): the bytes on the wire must be exactly what the validated
event serialises to, for every shape of alert and escalation event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from anbu_contracts import (
    AlertChange,
    AlertEvent,
    AlertReason,
    AlertResolution,
    AlertStatus,
    ApprovalRecord,
    EscalationChange,
    EscalationClosure,
    EscalationEvent,
    EscalationStatus,
    EvidenceRef,
    NotifyAction,
    RecipientRef,
    RuleRef,
    Severity,
    SignalKind,
    StepRecord,
    TaskAction,
)
from anbu_detector.adapters.events import alert_event, escalation_event
from anbu_detector.domain.alerts import Alert
from anbu_detector.domain.protocols import Escalation

NOW = datetime(2026, 11, 25, 1, 2, 3, 456789, tzinfo=UTC)
SEOUL = timezone(timedelta(hours=9))


def alert(**changes: Any) -> Alert:
    values: dict[str, Any] = {
        "alert_id": uuid4(),
        "household_id": "HH-BYTES01",
        "reason": AlertReason.ARREARS,
        "severity": Severity.ALERT,
        "status": AlertStatus.OPEN,
        "opened_at": NOW,
        "rule": RuleRef(rule_id="arrears", rule_version="3", thresholds={"months": 3, "r": 0.5}),
        "evidence": tuple(
            EvidenceRef(
                event_id=uuid4(),
                kind=SignalKind.ARREARS,
                partner_id="lh",
                occurred_at=NOW - timedelta(days=n),
            )
            for n in range(3)
        ),
        "protocol_id": "arrears_check",
    }
    return Alert(**{**values, **changes})


def escalation(**changes: Any) -> Escalation:
    values: dict[str, Any] = {
        "escalation_id": uuid4(),
        "alert_id": uuid4(),
        "household_id": "HH-BYTES01",
        "protocol_id": "arrears_check",
        "protocol_version": "2",
        "status": EscalationStatus.RUNNING,
        "triggered_at": NOW,
    }
    return Escalation(**{**values, **changes})


def step() -> StepRecord:
    return StepRecord(
        step_id="phone",
        title="전화 확인",
        due_at=NOW,
        executed_at=NOW + timedelta(seconds=1),
        actions=[
            TaskAction(action_id="t1", task_type="phone_check", team=["official"], deadline=NOW),
            NotifyAction(
                action_id="n1",
                recipient=RecipientRef(kind="guardian", household_id="HH-BYTES01", ref="G-1"),
                template="guardian_alert",
                urgency="high",
                variables={"dong": "청운효자동"},
            ),
        ],
        note='waiting for "approval"',
        approval=ApprovalRecord(
            kind="door_opening", requested_by="W-ABC", approved_by="W-DEF", recorded_at=NOW
        ),
    )


def validated(event: BaseModel) -> BaseModel:
    """The same event built by pydantic from the same values (validated)."""
    return type(event)(**{name: getattr(event, name) for name in event.model_fields_set})


def assert_same(event: BaseModel) -> None:
    again = validated(event)
    assert event.model_dump_json().encode() == again.model_dump_json().encode()
    assert event == again
    assert event.model_fields_set == again.model_fields_set
    assert event.model_dump() == again.model_dump()


ALERTS = {
    "opened": (alert(), AlertChange.OPENED),
    "no evidence, no protocol": (alert(evidence=(), protocol_id=None), AlertChange.OPENED),
    "resolved": (
        alert(
            status=AlertStatus.RESOLVED,
            resolved_at=NOW + timedelta(hours=1),
            resolution=AlertResolution.OPERATOR,
        ),
        AlertChange.RESOLVED,
    ),
    "opened in Seoul time": (alert(opened_at=NOW.astimezone(SEOUL)), AlertChange.OPENED),
    "enum values as stored text": (
        alert(reason="sos", severity="critical", status="open"),
        AlertChange.SEVERITY_RAISED,
    ),
}


@pytest.mark.parametrize("case", ALERTS)
def test_an_alert_event_is_the_validated_bytes(case: str) -> None:
    made, change = ALERTS[case]
    event = alert_event(made, change, NOW, "corr-1", f"cause-{case}")
    assert isinstance(event, AlertEvent)
    assert_same(event)


ESCALATIONS: dict[str, dict[str, Any]] = {
    "started": {"change": EscalationChange.STARTED, "step": None, "upcoming": None},
    "step executed, next due": {
        "change": EscalationChange.STEP_EXECUTED,
        "step": step(),
        "upcoming": (SimpleNamespace(id="visit"), NOW + timedelta(days=2)),
    },
    "joined": {
        "change": EscalationChange.ALERT_JOINED,
        "step": None,
        "upcoming": None,
        "joined_alert_id": uuid4(),
    },
    "upgraded": {
        "change": EscalationChange.UPGRADED,
        "step": None,
        "upcoming": None,
        "previous_protocol_id": "arrears_check_light",
    },
}


@pytest.mark.parametrize("case", ESCALATIONS)
def test_an_escalation_event_is_the_validated_bytes(case: str) -> None:
    given = dict(ESCALATIONS[case])
    change, record, upcoming = given.pop("change"), given.pop("step"), given.pop("upcoming")
    event = escalation_event(escalation(), change, record, upcoming, NOW, "c", "x", **given)
    assert isinstance(event, EscalationEvent)
    assert_same(event)


def test_a_closed_escalation_event_is_the_validated_bytes() -> None:
    closed = escalation(status="closed", closure=EscalationClosure.OPERATOR)
    assert_same(escalation_event(closed, EscalationChange.CLOSED, None, None, NOW, "c", "x"))


def test_what_validation_refuses_is_still_refused() -> None:
    """Values the domain does not check itself go through pydantic: refused as before."""
    with pytest.raises(ValidationError):
        alert_event(alert(), AlertChange.OPENED, NOW, "c" * 65, "x")
    with pytest.raises(ValidationError):
        alert_event(alert(), AlertChange.OPENED, NOW.replace(tzinfo=None), "c", "x")
    with pytest.raises(ValidationError):
        escalation_event(escalation(), EscalationChange.STARTED, None, None, NOW, "c", "x" * 65)
