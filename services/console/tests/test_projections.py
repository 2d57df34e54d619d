"""The read model is a pure fold of the topics: replaying them gives the same figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from anbu_console import projections
from anbu_console.adapters.orm import metadata
from anbu_contracts import AlertEvent, EscalationEvent, HouseholdSnapshot, RuleRef
from anbu_runtime.db import Database

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def household(n: int, tier: str = "high_risk") -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=T0,
        source="registry",
        household_id=f"HH-CON{n:04d}",
        revision=1,
        district_code="11110",
        dong_code="1111051500",
        tier=tier,  # type: ignore[arg-type]
    )


def alert(alert_id: object, change: str, status: str, at: datetime) -> AlertEvent:
    return AlertEvent(
        occurred_at=at,
        produced_at=at,
        source="detector",
        alert_id=alert_id,  # type: ignore[arg-type]
        household_id="HH-CON0001",
        reason="safety_not_confirmed",
        change=change,  # type: ignore[arg-type]
        severity="alert",
        status=status,
        opened_at=T0,  # type: ignore[arg-type]
        rule=RuleRef(rule_id="r", rule_version="1"),
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'console.db'}")
    database.create_all(metadata)
    yield database
    database.dispose()


def events() -> list[object]:
    alert_id, escalation_id = uuid4(), uuid4()
    started = EscalationEvent(
        occurred_at=T0,
        produced_at=T0,
        source="detector",
        escalation_id=escalation_id,
        alert_id=alert_id,
        household_id="HH-CON0001",
        protocol_id="safety-not-confirmed",
        protocol_version="1",
        change="started",
        status="running",
        triggered_at=T0,  # type: ignore[arg-type]
    )
    return [
        household(1),
        household(2, "watch"),
        household(3),
        alert(alert_id, "opened", "open", T0),
        started,
        alert(uuid4(), "opened", "open", T0 + timedelta(minutes=1)),
        alert(alert_id, "resolved", "resolved", T0 + timedelta(hours=1)),
    ]


def fold(db: Database, stream: list[object]) -> dict[str, object]:
    for event in stream:
        with db.session() as s:
            projections.project(s, event)
    with db.session() as s:
        return projections.overview(s)


def test_the_overview_counts_households_alerts_and_protocols(db: Database) -> None:
    figures = fold(db, events())
    assert figures["households_by_tier"] == {"high_risk": 2, "watch": 1}
    assert figures["open_alerts_by_severity"] == {"alert": 1}
    assert figures["running_escalations"] == 1


def test_replaying_the_topics_gives_the_same_figures(db: Database, tmp_path: Path) -> None:
    stream = events()
    once = fold(db, stream)
    assert fold(db, stream) == once  # duplicates change nothing
    fresh = Database(f"sqlite:///{tmp_path / 'rebuilt.db'}")
    fresh.create_all(metadata)
    assert fold(fresh, stream) == once  # a dropped read model rebuilds to the same state
    fresh.dispose()


def test_an_older_duplicate_does_not_undo_a_newer_state(db: Database) -> None:
    stream = events()
    fold(db, stream)
    opened_again = stream[3]  # the "opened" event redelivered after "resolved"
    assert fold(db, [opened_again])["open_alerts_by_severity"] == {"alert": 1}
