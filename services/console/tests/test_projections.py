"""The read model is a pure fold of the topics: replaying them gives the same figures."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlmodel import select

from anbu_console import views
from anbu_console.adapters.orm import (
    CaseView,
    EscalationView,
    JobView,
    PartnerSignalSeen,
    TaskView,
    metadata,
)
from anbu_console.adapters.replay import prepare, reset
from anbu_console.domain.scope import EVERYTHING, Scope
from anbu_console.entrypoints.consumers import INPUT_TOPICS
from anbu_console.handlers import HANDLERS, stamp
from anbu_contracts import SosSignal
from anbu_runtime.db import Database

from .builders import (
    DONG_A,
    DONG_B,
    T0,
    alert,
    case,
    escalation,
    heartbeat,
    household,
    job,
    project,
    project_batch,
    sos,
    story,
    task,
)

NOW = T0 + timedelta(hours=6)


def database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}")
    db.create_all(metadata)
    return db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database_ = database(tmp_path / "console.db")
    yield database_
    database_.dispose()


def fold(db: Database, stream: list[Any], scope: Scope = EVERYTHING) -> dict[str, Any]:
    for event in stream:
        with db.session() as s:
            project(s, event)
    return figures(db, scope)


def figures(db: Database, scope: Scope = EVERYTHING) -> dict[str, Any]:
    with db.session() as s:
        return {
            "overview": views.overview(s, scope, NOW),
            "kpis": views.kpi_actuals(s, scope),
            "grid": views.dong_grid(s, scope),
            "feeds": [(f.partner_id, f.kind, f.last_produced_at) for f in views.partner_feeds(s)],
            "timeline": len(views.recent_feed(s, scope, limit=1000)),
            "signal_hours": views.partner_signal_hours(s, T0 - timedelta(days=7)),
        }


def test_the_overview_counts_households_alerts_protocols_tasks_and_notifications(
    db: Database,
) -> None:
    overview = fold(db, story())["overview"]
    assert overview["households_by_tier"] == {"high_risk": 1, "watch": 1, "caution": 2}
    assert overview["households_by_dong"][DONG_B] == {"caution": 1}
    assert overview["open_alerts_by_severity"] == {"critical": 1, "caution": 1}
    assert overview["open_alerts_by_source"] == {"safety_call": 2}
    assert overview["running_escalations"] == 0
    assert overview["unassigned_tasks"] == 1
    assert overview["late_tasks"] == 2  # the unassigned one and the one due at T0 + 2 h
    assert overview["failed_notifications"] == 1
    assert overview["funnel"] == {
        "found": 3,
        "confirmed": 2,
        "case_opened": 1,  # household 2's case (household 4's closed before opening)
        "services_linked": 2,  # household 1's checked item, household 2's case linkage
    }


def test_a_running_protocol_is_counted_by_its_current_step(db: Database) -> None:
    stream = story()
    overview = fold(db, [e for e in stream if getattr(e, "change", None) != "closed"])
    assert overview["overview"]["escalations_by_step"] == [
        {"protocol_id": "safety-not-confirmed", "step_id": "day1.contact", "count": 1}
    ]


def test_an_upgraded_escalation_is_shown_under_its_stronger_protocol(db: Database) -> None:
    escalation_id, alert_id = uuid4(), uuid4()
    started = escalation(escalation_id, alert_id, 1)
    upgraded = escalation(
        escalation_id, alert_id, 1, change="upgraded", at=T0 + timedelta(hours=1), step=None
    ).model_copy(update={"protocol_id": "emergency", "previous_protocol_id": started.protocol_id})
    fold(db, [started, upgraded])
    with db.session() as s:
        row = s.get(EscalationView, escalation_id)
        assert row is not None and row.protocol_id == "emergency"


def test_replaying_the_topics_in_any_order_with_duplicates_gives_the_same_figures(
    db: Database, tmp_path: Path
) -> None:
    stream = story()
    once = fold(db, stream)
    assert fold(db, stream) == once  # every event delivered twice changes nothing
    shuffled = stream * 2
    random.Random(7).shuffle(shuffled)
    other = database(tmp_path / "shuffled.db")
    with other.session() as s:
        project_batch(s, shuffled)  # one batch, partitions interleaved
    assert figures(other) == once
    other.dispose()


def test_a_dropped_read_model_rebuilds_to_the_same_figures(db: Database) -> None:
    stream = story()
    before = fold(db, stream)
    with db.session() as s:
        reset(s)
    assert figures(db)["overview"]["households_by_tier"] == {}
    with db.session() as s:
        project_batch(s, stream)
    assert figures(db) == before


def test_an_older_duplicate_does_not_undo_a_newer_state(db: Database) -> None:
    alert_id = uuid4()
    opened, resolved = alert(alert_id, 1), alert(alert_id, 1, "resolved", T0 + timedelta(hours=1))
    fold(db, [household(1), opened, resolved])
    assert fold(db, [opened])["overview"]["open_alerts_by_severity"] == {}


def test_an_older_household_revision_does_not_overwrite_a_newer_one(db: Database) -> None:
    fold(db, [household(1, "caution", revision=3)])
    assert fold(db, [household(1, "watch", revision=2)])["overview"]["households_by_tier"] == {
        "caution": 1
    }


def test_task_acceptance_and_completion_keep_their_first_instants(db: Database) -> None:
    task_id = uuid4()
    late_copy = task(task_id, 1, "accepted", T0 + timedelta(hours=3))
    fold(db, [task(task_id, 1, "completed", T0 + timedelta(hours=2)), late_copy])
    fold(
        db,
        [task(task_id, 1, "offered", T0), task(task_id, 1, "accepted", T0 + timedelta(minutes=5))],
    )
    with db.session() as s:
        row = s.get(TaskView, task_id)
        assert row is not None
        assert row.created_at == T0
        assert row.accepted_at == T0 + timedelta(minutes=5)
        assert row.status == "accepted"  # the newest event's state
    assert fold(db, [])["kpis"]["task_acceptance_minutes"] == 5.0


def test_a_partner_feed_keeps_the_newest_signal_whatever_the_order(db: Database) -> None:
    newest, older = sos(1, T0), sos(1, T0 - timedelta(hours=5))
    assert fold(db, [newest, older])["feeds"] == [("sos-button-co", "sos", T0)]


def test_a_dong_official_sees_only_their_dong(db: Database) -> None:
    fold(db, story())
    mine = figures(db, Scope(dong_codes=frozenset({DONG_B})))
    assert mine["overview"]["households_by_tier"] == {"caution": 1}
    assert mine["overview"]["open_alerts_by_severity"] == {"caution": 1}
    assert [c["dong_code"] for c in mine["grid"]] == [DONG_B]
    district = figures(db, Scope(district_codes=frozenset({DONG_A[:5]})))
    assert district["overview"] == figures(db)["overview"]
    nobody = figures(db, Scope(dong_codes=frozenset({"9999999999"})))
    assert nobody["overview"]["households_by_tier"] == {}
    assert nobody["overview"]["open_alerts_by_severity"] == {}


def test_an_official_sees_their_dongs_running_protocols_behind_a_citys_more_urgent_ones(
    db: Database,
) -> None:
    city = [household(n) for n in range(1, 6)] + [household(9, dong=DONG_B)]
    urgent = [
        escalation(uuid4(), uuid4(), n, next_due=T0 + timedelta(minutes=n)) for n in range(1, 6)
    ]
    later = escalation(uuid4(), uuid4(), 9, next_due=T0 + timedelta(hours=20))
    fold(db, [*city, *urgent, later])
    with db.session() as s:
        mine = views.running_escalations(s, Scope(dong_codes=frozenset({DONG_B})), limit=3)
        everyone = views.running_escalations(s, EVERYTHING, limit=3)
    assert [(e.household_id, dong) for e, dong in mine] == [("HH-CON0009", DONG_B)]
    assert [e.household_id for e, _ in everyone] == ["HH-CON0001", "HH-CON0002", "HH-CON0003"]


def test_a_file_job_keeps_its_newest_progress_whatever_the_order(db: Database) -> None:
    early, later = job("SUB-1", 500_000, T0), job("SUB-1", 850_000, T0 + timedelta(seconds=20))
    fold(db, [later, early, later])
    with db.session() as s:
        row = s.get(JobView, "SUB-1")
        assert row is not None and (row.rows, row.progress) == (850_000, 0.425)
        assert row.eta_seconds == 46.0 and not row.finished
        changes = project_batch(
            s, [early, job("SUB-1", 2_000_000, T0 + timedelta(minutes=2), finished=True)]
        )
    assert [(c.kind, c.ref, c.summary) for c in changes] == [
        ("job", "SUB-1", "partner_file completed")
    ]
    with db.session() as s:
        shown = views.file_jobs(s, T0 + timedelta(minutes=3))
    assert [(r["job"].job_id, r["percent"], r["job"].finished) for r in shown] == [
        ("SUB-1", 100.0, True)
    ]


def test_a_signal_without_produced_at_takes_its_record_timestamp_on_every_replay() -> None:
    payload = sos(1, T0).model_dump(mode="json")
    del payload["produced_at"]
    first, again = SosSignal.model_validate(payload), SosSignal.model_validate(payload)
    stamp_ms = int(T0.timestamp() * 1000)
    assert stamp(first, stamp_ms).produced_at == stamp(again, stamp_ms).produced_at == T0
    kept = sos(1, T0 - timedelta(hours=1))
    assert stamp(kept, stamp_ms).produced_at == kept.produced_at  # a given value stays


def test_a_read_model_of_an_older_shape_is_recreated_for_a_replay(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    with db.session() as s:
        s.connection().exec_driver_sql("CREATE TABLE feed (id INTEGER PRIMARY KEY)")
        s.connection().exec_driver_sql("CREATE TABLE alert_view (alert_id TEXT PRIMARY KEY)")
    db.create_all(metadata)
    with db.session() as s:
        assert prepare(s) is True  # no version row: an older console built it
    with db.session() as s:
        assert prepare(s) is False  # now current
        project_batch(s, story())
    assert figures(db)["overview"]["open_alerts_by_severity"] == {"critical": 1, "caution": 1}
    with db.session() as s:
        tables = {r[0] for r in s.connection().exec_driver_sql("SELECT name FROM sqlite_master")}
    assert "feed" not in tables
    db.dispose()


def test_the_funnel_counts_households_whose_case_opened_and_had_services_linked(
    db: Database,
) -> None:
    h = timedelta(hours=1)
    stream = [
        household(1),
        household(2),
        household(3, dong=DONG_B),
        case(1, "discovered", T0, "discovered"),  # found, never opened
        case(2, "discovered", T0, "discovered"),
        case(2, "opened", T0 + h, "opened", level="joint"),
        case(2, "opened", T0 + h, "opened", level="joint"),  # a redelivered duplicate
        case(2, "services_linked", T0 + 2 * h, "planned", level="joint", services=["food"]),
        case(2, "services_linked", T0 + 3 * h, "linked", level="joint", services=["legal_aid"]),
        case(3, "opened", T0, "opened", dong=DONG_B, level="ordinary"),
    ]
    funnel = fold(db, stream)["overview"]["funnel"]
    assert (funnel["case_opened"], funnel["services_linked"]) == (2, 1)
    assert funnel["confirmed"] == 0  # no outcomes: case events alone fill these two stages
    official = Scope(dong_codes=frozenset({DONG_B}))
    scoped = figures(db, official)["overview"]["funnel"]
    assert (scoped["case_opened"], scoped["services_linked"]) == (1, 0)


def test_an_older_case_event_does_not_reopen_a_closed_case(db: Database) -> None:
    h = timedelta(hours=1)
    closed = case(1, "closed", T0 + 2 * h, "closed", closure_reason="goals_met")
    fold(db, [household(1), closed, case(1, "opened", T0 + h, "opened", level="ordinary")])
    with db.session() as s:
        row = s.get(CaseView, "C-CON0001")
        assert row is not None
        assert (row.state, row.closure_reason) == ("closed", "goals_met")
        assert row.opened_at == T0 + h  # the opening still counts for the funnel


def test_signals_are_counted_per_partner_kind_and_hour_once_each(db: Database) -> None:
    m = timedelta(minutes=1)
    first, second, later = heartbeat(1, T0 + 10 * m), heartbeat(2, T0 + 50 * m), sos(1, T0 + 65 * m)
    other = heartbeat(3, T0 + 20 * m, partner="motion-co")
    fold(db, [first, second, later, other])
    # Redelivered, replayed in a batch, and resent with a fresh event id (a partner's
    # producer that leaves it out gets a new one on every decode): still counted once.
    fold(db, [first, later])
    with db.session() as s:
        project_batch(s, [second, other, second, first.model_copy(update={"event_id": uuid4()})])
    hours = figures(db)["signal_hours"]
    assert hours == {
        ("plug-co", "heartbeat"): {T0: 2},
        ("sos-button-co", "sos"): {T0 + timedelta(hours=1): 1},
        ("motion-co", "heartbeat"): {T0: 1},
    }


def test_signal_hours_older_than_a_week_behind_the_newest_are_dropped(db: Database) -> None:
    old = heartbeat(1, T0)
    fold(db, [old, heartbeat(1, T0 + timedelta(days=6))])
    fold(db, [heartbeat(1, T0 + timedelta(days=7, hours=1))])
    fold(db, [old])  # a late replay of a dropped hour is not counted again
    assert figures(db)["signal_hours"] == {
        ("plug-co", "heartbeat"): {T0 + timedelta(days=6): 1, T0 + timedelta(days=7, hours=1): 1}
    }
    with db.session() as s:
        assert len(s.exec(select(PartnerSignalSeen)).all()) == 2  # pruned with the hours


def test_every_topic_the_console_reads_has_a_handler_for_its_events() -> None:
    """A topic added to the consumer without an entry in the handler table fails here,
    not on its first record in production (each signal kind is found by its base)."""
    for topic in INPUT_TOPICS:
        assert issubclass(topic.model, HANDLERS.types), topic.name
