"""The repository's statements, as the database plans them: a batch's look-ups search an
index instead of reading every receipt or delivery ever kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import create_engine, event
from sqlmodel import Session

from anbu_contracts import DeliveryStatus
from anbu_notifier.adapters.orm import metadata
from anbu_notifier.adapters.repository import NotifierRepository
from anbu_notifier.domain.delivery import Notification

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def plans_of(tmp_path: Path, calls: Any) -> list[str]:
    """EXPLAIN QUERY PLAN of every statement ``calls(repository)`` executes on SQLite."""
    engine = create_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    metadata.create_all(engine)
    executed: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    with Session(engine) as session:
        calls(NotifierRepository(session))
        session.rollback()
    event.remove(engine, "before_cursor_execute", keep)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in executed:
            if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                plans.append(" | ".join(str(row[-1]) for row in rows))
    engine.dispose()
    return plans


def test_receipts_and_deliveries_are_found_by_message_through_their_indexes(
    tmp_path: Path,
) -> None:
    refs = [("sms", "m-1"), ("sms", "m-2"), ("alimtalk", "a-1")]

    def lookups(repos: NotifierRepository) -> None:
        repos.held_receipts(refs)
        repos.deliveries_for(refs)

    plans = plans_of(tmp_path, lookups)

    assert len(plans) == 4  # one look-up per provider, for receipts and for deliveries
    for plan in plans:
        assert "SCAN delivery" not in plan, plan  # a whole-table scan per batch
        assert "SEARCH" in plan, plan


def due_request(key: str, priority: int = 2) -> Notification:
    return Notification(
        request_key=key,
        request_id=uuid4(),
        event_id=uuid4(),
        household_id=None,
        template="checkin",
        urgency="routine",
        priority=priority,
        status=DeliveryStatus.QUEUED,
        request="{}",
        correlation_id=None,
        created_at=NOW,
        updated_at=NOW,
        next_at=NOW,
    )


def test_a_claim_picks_leases_and_reads_in_one_statement_most_urgent_first(
    tmp_path: Path,
) -> None:
    claimed: list[Notification] = []

    def claim(repos: NotifierRepository) -> None:
        for key, priority in (("routine", 2), ("critical", 0), ("busy", 0), ("high", 1)):
            repos.add(due_request(key, priority))
        repos.save()
        claimed.extend(
            repos.claim("me", 16, frozenset({"busy"}), NOW, NOW, NOW + timedelta(minutes=5))
        )

    plans = plans_of(tmp_path, claim)

    assert [n.request_key for n in claimed] == ["critical", "high", "routine"]
    assert all(n.claimed_by == "me" for n in claimed)
    # the UPDATE … RETURNING and the deliveries' SELECT (it was four statements)
    [pick, deliveries] = plans
    assert "ix_notification_request_due" in pick
    assert "SCAN" not in deliveries
