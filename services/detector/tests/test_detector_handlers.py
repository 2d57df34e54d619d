"""The detector's service layer against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from anbu_contracts import (
    TOPICS_BY_NAME,
    AlertEvent,
    EscalationEvent,
    HouseholdSnapshot,
    OutcomeEvent,
    SafetyCallSignal,
)
from anbu_detector.adapters.config_files import load_protocols, load_ruleset
from anbu_detector.adapters.orm import metadata
from anbu_detector.handlers import Detector
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
HH = "HH-HANDLER1"


class World:
    def __init__(self, url: str) -> None:
        self.tables = install(metadata)
        self.db = Database(url)
        self.db.create_all(metadata)
        self.clock = ManualClock(T0)
        self.outbox = Outbox(self.tables, "detector")
        self.detector = Detector(load_ruleset(), load_protocols(), self.outbox, self.clock)
        self.seen = 0

    def call(self, hours: float, outcome: str = "unanswered") -> SafetyCallSignal:
        signal = SafetyCallSignal(
            occurred_at=T0 + timedelta(hours=hours),
            source="ai",
            household_id=HH,
            partner_id="ai",
            partner_event_id=str(uuid4()),
            outcome=outcome,  # type: ignore[arg-type]
        )
        with self.db.session() as s:
            self.detector.on_safety_call(s, signal)
        return signal

    def events(self) -> list[AlertEvent | EscalationEvent]:
        """Events staged in the outbox since the last call."""
        with self.db.session() as s:
            rows = s.execute(
                select(self.tables.outbox.c.topic, self.tables.outbox.c.value).order_by(
                    self.tables.outbox.c.id
                )
            ).all()
        fresh = rows[self.seen :]
        self.seen = len(rows)
        return [TOPICS_BY_NAME[t].model.model_validate_json(v) for t, v in fresh]  # type: ignore[misc]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url)
    yield w
    w.db.dispose()


def test_three_unanswered_calls_open_an_alert_and_run_day1(world: World) -> None:
    calls = [world.call(h) for h in (0, 1, 2)]
    opened, started, step = world.events()
    assert isinstance(opened, AlertEvent) and opened.change == "opened"
    assert [e.event_id for e in opened.evidence] == [c.event_id for c in calls]
    assert opened.rule.rule_version == load_ruleset().version
    assert opened.correlation_id == str(calls[-1].event_id)
    assert isinstance(started, EscalationEvent) and started.change == "started"
    assert isinstance(step, EscalationEvent) and step.change == "step_executed"
    assert step.step is not None and step.step.step_id == "day1.contact"
    assert step.alert_id == opened.alert_id


def test_a_fourth_unanswered_call_adds_evidence_without_a_second_alert_or_protocol(
    world: World,
) -> None:
    for h in (0, 1, 2):
        world.call(h)
    world.events()
    world.call(3)
    [update] = world.events()
    assert isinstance(update, AlertEvent) and update.change == "evidence_added"
    assert len(update.evidence) == 4


def test_contact_confirmed_closes_the_protocol_and_resolves_the_alert_once(world: World) -> None:
    for h in (0, 1, 2):
        world.call(h)
    _, started, _ = world.events()
    assert isinstance(started, EscalationEvent)
    outcome = OutcomeEvent(
        occurred_at=T0 + timedelta(hours=4),
        source="outreach",
        outcome_id=uuid4(),
        household_id=HH,
        result="contact_confirmed",
        contact_mode="phone",  # type: ignore[arg-type]
        recorded_by="W-AAA",
        escalation_id=started.escalation_id,
    )
    with world.db.session() as s:
        world.detector.on_outcome(s, outcome)
    closed, resolved = world.events()
    assert isinstance(closed, EscalationEvent) and closed.closure == "contact_confirmed"
    assert isinstance(resolved, AlertEvent) and resolved.change == "resolved"
    with world.db.session() as s:  # the same outcome again (a replay) changes nothing
        world.detector.on_outcome(s, outcome)
    assert world.events() == []
    # the streak restarted: one more unanswered call does not reopen anything
    world.call(5)
    assert world.events() == []


def test_a_moved_household_stands_down_and_its_signals_do_nothing(world: World) -> None:
    for h in (0, 1, 2):
        world.call(h)
    world.events()
    moved = HouseholdSnapshot(
        occurred_at=T0,
        source="registry",
        household_id=HH,
        revision=2,
        district_code="11110",
        dong_code="1111051500",
        tier="high_risk",
        status="moved",  # type: ignore[arg-type]
    )
    with world.db.session() as s:
        world.detector.on_household(s, moved)
    closed, resolved = world.events()
    assert isinstance(closed, EscalationEvent) and closed.closure == "household_inactive"
    assert isinstance(resolved, AlertEvent) and resolved.resolution == "household_inactive"
    for h in (6, 7, 8):
        world.call(h)
    assert world.events() == []
