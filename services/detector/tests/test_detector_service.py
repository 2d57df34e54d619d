"""The detector's service layer against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from anbu_contracts import (
    TOPICS_BY_NAME,
    AlertEvent,
    ApprovalRecord,
    ArrearsSignal,
    ChannelEnrolment,
    DeviceStatusSignal,
    DisconnectionSignal,
    EscalationEvent,
    HeartbeatSignal,
    HospitalAdmissionSignal,
    HospitalDischargeSignal,
    HouseholdSnapshot,
    MailUncollectedSignal,
    OutcomeEvent,
    ReportSignal,
    SafetyCallSignal,
    SosSignal,
    WaterMeterSignal,
)
from anbu_contracts.topics import OUTREACH_OUTCOME, REGISTRY_HOUSEHOLD
from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.adapters.orm import (
    AlertRow,
    EscalationRow,
    StepExecutionRow,
    UnknownHouseholdRow,
    metadata,
)
from anbu_detector.domain.monitor import Monitor
from anbu_detector.handlers import Detector, Setup, repositories
from anbu_runtime.batch import Received
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Inbox, Outbox, install
from anbu_runtime.uow import Transactions

T0 = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
HH = "HH-SERVICE01"


class World:
    def __init__(self, url: str) -> None:
        tables = install(metadata)
        self.db = Database(url)
        self.db.create_all(metadata)
        self.clock = ManualClock(T0)
        self.outbox = Outbox(tables, "detector")
        setup = Setup(load_catalog(), load_protocols(), Monitor(), "test")
        transactions = Transactions(
            self.db,
            self.outbox,
            self.clock,
            repositories(setup),
            inbox=Inbox(tables, "detector"),
        )
        self.detector = Detector(setup, transactions)
        self.tables = tables
        self.seen = 0
        self.offset = 0

    async def send(self, *events: Any, partition: int = 3) -> None:
        items = []
        for event in events:
            self.offset += 1
            topic = (
                REGISTRY_HOUSEHOLD.name
                if isinstance(event, HouseholdSnapshot)
                else OUTREACH_OUTCOME.name
                if isinstance(event, OutcomeEvent)
                else "signals"
            )
            items.append(
                Received(
                    topic, partition, self.offset, event, int(self.clock.now().timestamp() * 1000)
                )
            )
        await self.detector.handle(items)

    def events(self) -> list[Any]:
        """Events staged in the outbox since the last call."""
        with self.db.session() as s:
            rows = s.execute(
                select(self.tables.outbox.c.topic, self.tables.outbox.c.value).order_by(
                    self.tables.outbox.c.id
                )
            ).all()
        fresh, self.seen = rows[self.seen :], len(rows)
        return [TOPICS_BY_NAME[t].model.model_validate_json(v) for t, v in fresh]


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    w = World(database_url)
    yield w
    w.db.dispose()


def household(
    revision: int = 1, channels: tuple[str, ...] = ("phone",), **extra: Any
) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=T0,
        source="registry",
        household_id=HH,
        revision=revision,
        district_code="11110",
        dong_code="1111051500",
        tier="high_risk",  # type: ignore[arg-type]
        channels=[ChannelEnrolment(channel=c, consent=True) for c in channels],  # type: ignore[arg-type]
        quiet_hours={"start": "00:00", "end": "00:00"},  # type: ignore[arg-type]
        **extra,
    )


# The fixed windows (24 h phone, 36 h smart plug) as a household's rules still allow:
# learned rhythms switched off by its own override.
FIXED_WINDOWS = {"absence.rhythm.enabled": 0.0}


def call(hours: float, outcome: str = "unanswered") -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=T0 + timedelta(hours=hours),
        source="ai",
        household_id=HH,
        partner_id="ai",
        partner_event_id=str(uuid4()),
        outcome=outcome,
    )  # type: ignore[arg-type]


def outcome(
    world: World, escalation_id: UUID, step_id: str, result: str, mode: str
) -> OutcomeEvent:
    return OutcomeEvent(
        occurred_at=world.clock.now(),
        source="outreach",
        outcome_id=uuid4(),
        household_id=HH,
        result=result,  # type: ignore[arg-type]
        contact_mode=mode,  # type: ignore[arg-type]
        recorded_by="W-DEMO001",
        escalation_id=escalation_id,
        step_id=step_id,
    )


def beat(hours: float, channel: str = "phone") -> HeartbeatSignal:
    at = T0 + timedelta(hours=hours)
    return HeartbeatSignal(
        occurred_at=at,
        source="telco",
        household_id=HH,
        partner_id="telco",
        partner_event_id=str(uuid4()),
        channel=channel,
        device_id="d-1",  # type: ignore[arg-type]
        last_active_at=at,
    )


def of(events: list[Any], kind: type, **match: Any) -> list[Any]:
    return [
        e
        for e in events
        if isinstance(e, kind) and all(getattr(e, k) == v for k, v in match.items())
    ]


async def test_three_unanswered_calls_open_an_alert_and_run_day1(world: World) -> None:
    await world.send(household())
    calls = [call(h) for h in (-3, -2, -1)]
    await world.send(*calls)
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed"
    assert [e.event_id for e in opened.evidence] == [c.event_id for c in calls]
    [step] = of(events, EscalationEvent, change="step_executed")
    assert step.step.step_id == "day1.contact"
    assert step.next_step_id == "day2.visit"
    assert step.next_step_due_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # 09:00 KST


async def test_a_dry_water_meter_opens_a_usage_drop_alert_and_a_welfare_check(
    world: World,
) -> None:
    await world.send(household())
    reading = WaterMeterSignal(
        occurred_at=T0,
        source="waterworks",
        household_id=HH,
        partner_id="waterworks",
        partner_event_id="wm-1",
        meter_id="wm-1",
        hours_without_flow=30,
        litres_last_24h=0,
    )
    await world.send(reading)
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.reason == "usage_drop" and opened.severity == "alert"
    assert opened.rule.rule_id == "water-meter.no-flow-or-drop"
    assert [e.event_id for e in opened.evidence] == [reading.event_id]
    [started] = of(events, EscalationEvent, change="started")
    assert started.protocol_id == "welfare-check"


async def test_a_redelivered_signal_is_applied_once(world: World) -> None:
    await world.send(household())
    calls = [call(h) for h in (-3, -2, -1)]
    await world.send(*calls)
    world.events()
    await world.send(*calls)  # the whole batch again (a consumer restart)
    assert world.events() == []


async def test_an_sos_starts_the_emergency_protocol_at_once(world: World) -> None:
    await world.send(household())
    sos = SosSignal(
        occurred_at=T0,
        source="button",
        household_id=HH,
        partner_id="button-co",
        partner_event_id="b-1",
        device_id="btn-7",
    )
    await world.send(sos)
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.severity == "critical" and opened.protocol_id == "emergency"
    [step] = of(events, EscalationEvent, change="step_executed")
    kinds = {a.recipient.kind.value for a in step.step.actions if a.action == "notify"}
    assert "fire_liaison" in kinds and "duty_officer" in kinds


async def test_the_day2_steps_run_when_their_timer_fires_and_a_confirmation_closes_all(
    world: World,
) -> None:
    await world.send(household(landlord_on_file=True))
    await world.send(*(call(h) for h in (-3, -2, -1)))
    [started] = of(world.events(), EscalationEvent, change="started")
    world.clock.set(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))
    await world.detector.fire(str(started.escalation_id))
    steps = {
        e.step.step_id: e.change
        for e in world.events()
        if isinstance(e, EscalationEvent) and e.step
    }
    assert steps["day2.visit"] == "step_executed"
    assert steps["day2.landlord"] == "step_executed"
    assert steps["day2.hospital"] == "step_skipped"
    assert steps["day2.door"] == "step_awaiting_approval"
    approval = ApprovalRecord(
        kind="door_opening",
        requested_by="U-1",
        approved_by="U-2",
        present=["W-DEMO001"],
        recorded_at=world.clock.now(),
    )
    await world.detector.record_approval(started.escalation_id, approval)
    door = [
        e
        for e in world.events()
        if isinstance(e, EscalationEvent) and e.step and e.step.step_id == "day2.door"
    ]
    assert [e.change for e in door] == ["approval_recorded", "step_executed"]
    assert door[-1].step.approval == approval
    await world.send(
        outcome(world, started.escalation_id, "day2.visit", "contact_confirmed", "visit")
    )
    events = world.events()
    [closed] = of(events, EscalationEvent, change="closed")
    assert closed.closure == "contact_confirmed"
    assert of(events, AlertEvent, change="resolved")
    world.clock.set(datetime(2026, 11, 26, 5, 0, tzinfo=UTC))  # 14:00 KST: nothing fires
    await world.detector.fire(str(started.escalation_id))
    assert world.events() == []


async def test_a_closed_escalation_records_its_pending_steps_as_cancelled_with_the_reason(
    world: World,
) -> None:
    await world.send(household(landlord_on_file=True))
    await world.send(*(call(h) for h in (-3, -2, -1)))
    [started] = of(world.events(), EscalationEvent, change="started")
    world.clock.set(datetime(2026, 11, 26, 0, 0, tzinfo=UTC))  # 09:00 KST, day 2
    await world.detector.fire(str(started.escalation_id))
    world.events()
    await world.send(
        outcome(world, started.escalation_id, "day2.visit", "contact_confirmed", "visit")
    )
    events = [e for e in world.events() if isinstance(e, EscalationEvent)]
    cancelled = of(events, EscalationEvent, change="step_cancelled")
    assert [e.step.step_id for e in cancelled] == ["day2.door", "day2.missing"]
    assert all("contact_confirmed" in (e.step.note or "") for e in cancelled)
    assert all(e.closure == "contact_confirmed" for e in cancelled)
    assert events[-1].change == "closed" and events[-1].next_step_id is None
    with world.db.session() as s:
        row = s.get(EscalationRow, started.escalation_id)
        assert row is not None and row.next_due_at is None
        assert row.steps["day2.door"] == "cancelled" and row.steps["day2.missing"] == "cancelled"
        assert "awaiting_approval" not in row.steps.values()
        history = s.execute(
            select(StepExecutionRow.step_id, StepExecutionRow.state).where(
                StepExecutionRow.escalation_id == started.escalation_id,
                StepExecutionRow.state == "cancelled",
            )
        ).all()
        assert sorted(tuple(h) for h in history) == [
            ("day2.door", "cancelled"),
            ("day2.missing", "cancelled"),
        ]


async def test_absence_one_silent_channel_is_watch_all_silent_is_safety_not_confirmed(
    world: World,
) -> None:
    await world.send(household(channels=("phone", "smart_plug"), rule_overrides=FIXED_WINDOWS))
    world.clock.set(T0 + timedelta(hours=24))
    await world.detector.sweep()
    [watch] = of(world.events(), AlertEvent, change="opened")
    assert watch.reason == "channel_silent" and watch.severity == "watch"
    assert watch.rule.thresholds["silent_channels"] == "phone"
    world.clock.set(T0 + timedelta(hours=36))
    await world.detector.sweep()
    events = world.events()
    [safety] = of(events, AlertEvent, change="opened")
    assert safety.reason == "safety_not_confirmed" and safety.protocol_id == "safety-not-confirmed"
    assert of(events, EscalationEvent, change="step_executed")


async def test_activity_again_resolves_the_absence_alerts_and_closes_the_protocol(
    world: World,
) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    world.clock.set(T0 + timedelta(hours=26))
    await world.detector.sweep()
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert [e.kind for e in opened.evidence] == ["heartbeat"]
    await world.send(beat(27))
    events = world.events()
    [closed] = of(events, EscalationEvent, change="closed")
    assert closed.closure == "activity_resumed"
    [resolved] = of(events, AlertEvent, change="resolved")
    assert resolved.resolution == "recovery"


async def test_withdrawn_consent_stops_absence_detection_at_once(world: World) -> None:
    await world.send(household(channels=("phone", "smart_plug"), rule_overrides=FIXED_WINDOWS))
    await world.send(household(revision=2, channels=("smart_plug",), rule_overrides=FIXED_WINDOWS))
    world.clock.set(T0 + timedelta(hours=30))
    await world.detector.sweep()
    assert world.events() == []  # the phone would have fallen silent at 24 h
    await world.send(beat(31, "phone"))  # heartbeats of a withdrawn channel are not processed
    world.clock.set(T0 + timedelta(hours=36))
    await world.detector.sweep()
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert opened.rule.thresholds["enrolled_channels"] == "smart_plug"


def busy_weeks(weeks: int) -> list[HeartbeatSignal]:
    """A phone active in every 4-hour block for ``weeks`` weeks from T0 (a busy person)."""
    return [beat(h) for h in range(2, weeks * 7 * 24, 4)]


async def learn_busy_rhythm(world: World, weeks: int = 8) -> datetime:
    """A household whose phone learned a busy week; returns its last activity."""
    await world.send(household())
    beats = busy_weeks(weeks)
    world.clock.set(beats[-1].last_active_at)
    for i in range(0, len(beats), 100):
        await world.send(*beats[i : i + 100])
    await world.detector.sweep()
    await world.detector.flush()
    assert world.events() == []  # a busy person reporting in is never silent
    return beats[-1].last_active_at


async def test_a_short_silence_unusual_for_a_busy_household_checks_first_with_the_factors(
    world: World,
) -> None:
    last = await learn_busy_rhythm(world)
    world.clock.set(last + timedelta(hours=20))  # short of the 24 h window, unusual here
    await world.detector.sweep()
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed" and opened.severity == "caution"
    assert opened.protocol_id == "safety-check-first"
    factors = opened.rule.thresholds
    assert factors["model"] == "rhythm-1" and factors["at_floor"] is False
    assert 6.0 <= factors["score_nats"] < factors["person_at_nats"]
    assert factors["phone.weeks_learned"] >= 7.9
    assert factors["phone.baseline_blocks_per_week"] > 30  # active nearly every block
    assert factors["phone.reliability"] == 1.0
    [step] = of(events, EscalationEvent, change="step_executed")
    assert step.step.step_id == "check"


async def test_a_quiet_household_gets_a_person_at_the_floor_not_after_the_fixed_window(
    world: World,
) -> None:
    await world.send(household())
    # Active only in one 4-hour block a week: a long silence is its normal.
    quiet = [beat(h) for h in range(2, 8 * 7 * 24, 7 * 24)]
    world.clock.set(quiet[-1].last_active_at)
    await world.send(*quiet)
    last = quiet[-1].last_active_at
    world.clock.set(last + timedelta(hours=47))  # long past the 24 h window: still normal
    await world.detector.sweep()
    assert of(world.events(), AlertEvent, change="opened") == []
    world.clock.set(last + timedelta(hours=48))  # the floor: a person goes, whatever the score
    await world.detector.sweep()
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed" and opened.severity == "alert"
    assert opened.protocol_id == "safety-not-confirmed"
    assert opened.rule.thresholds["at_floor"] is True
    assert opened.rule.thresholds["floor_hours"] == 48


async def test_learned_rhythms_survive_a_restart(world: World, database_url: str) -> None:
    last = await learn_busy_rhythm(world)
    restarted = World(database_url)  # a new instance: an empty index, the same database
    try:
        world.events()
        restarted.seen = world.seen  # what the first instance staged is not news
        restarted.clock.set(last + timedelta(hours=20))
        await restarted.detector.load_partitions({3})
        await restarted.detector.sweep()
        [opened] = of(restarted.events(), AlertEvent, change="opened")
        assert opened.protocol_id == "safety-check-first"
        assert opened.rule.thresholds["phone.weeks_learned"] >= 7.9
    finally:
        restarted.db.dispose()


# -- a device its partner reports offline is blind, not silent (issue 14) ---------------------


def device(status: str, since: datetime, sent: datetime | None = None) -> DeviceStatusSignal:
    return DeviceStatusSignal(
        occurred_at=sent or since,
        source="telco",
        household_id=HH,
        partner_id="telco",
        partner_event_id=str(uuid4()),
        channel="phone",  # type: ignore[arg-type]
        device_id="d-1",
        status=status,  # type: ignore[arg-type]
        since=since,
    )


async def sweep_after(world: World, last: datetime, hours: float) -> list[AlertEvent]:
    world.clock.set(last + timedelta(hours=hours))
    await world.detector.sweep()
    return of(world.events(), AlertEvent, change="opened")


async def test_a_phone_reported_switched_off_is_judged_at_the_floor_not_by_its_rhythm(
    world: World,
) -> None:
    last = await learn_busy_rhythm(world)
    await world.send(device("offline", last + timedelta(hours=1)))
    assert await sweep_after(world, last, 20) == []  # unusual for this phone, but it is off
    assert await sweep_after(world, last, 47.9) == []
    [opened] = await sweep_after(world, last, 48)  # the floor holds: no sign of life for 48 h
    assert opened.protocol_id == "safety-not-confirmed" and opened.rule.thresholds["at_floor"]


async def test_back_online_the_phones_silence_counts_from_the_return(world: World) -> None:
    last = await learn_busy_rhythm(world)
    await world.send(device("offline", last + timedelta(hours=1)))
    world.clock.set(last + timedelta(hours=30))
    await world.send(device("online", last + timedelta(hours=30)))
    assert await sweep_after(world, last, 31) == []  # 31 h since its last use: from the return
    [opened] = await sweep_after(world, last, 30 + 20)  # as unusual as 20 h was before
    assert opened.protocol_id == "safety-check-first"


async def test_a_late_notice_older_than_the_one_on_file_changes_nothing(world: World) -> None:
    last = await learn_busy_rhythm(world)
    await world.send(device("offline", last + timedelta(hours=2)))
    # the carrier's "back online" of an earlier outage, delivered late
    await world.send(device("online", last + timedelta(hours=1), sent=last + timedelta(hours=3)))
    assert await sweep_after(world, last, 30) == []  # still off: nothing until the floor


async def test_a_switched_off_phone_is_remembered_across_a_restart(
    world: World, database_url: str
) -> None:
    last = await learn_busy_rhythm(world)
    await world.send(device("offline", last + timedelta(hours=1)))
    await world.detector.flush()
    restarted = World(database_url)  # a new instance: an empty index, the same database
    try:
        world.events()
        restarted.seen = world.seen
        assert await sweep_after_load(restarted, last, 20) == []
        assert await sweep_after(restarted, last, 48) != []
    finally:
        restarted.db.dispose()


async def test_fixed_windows_ignore_device_notices_back_online_too(world: World) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    await world.send(device("offline", T0 + timedelta(hours=2)))
    world.clock.set(T0 + timedelta(hours=20))
    await world.send(device("online", T0 + timedelta(hours=20)))
    # the 24 h window still runs from the last activity, not from the return
    [opened] = await sweep_after(world, T0, 25)
    assert opened.reason == "safety_not_confirmed"


async def sweep_after_load(world: World, last: datetime, hours: float) -> list[AlertEvent]:
    world.clock.set(last + timedelta(hours=hours))
    await world.detector.load_partitions({3})
    return await sweep_after(world, last, hours)


async def test_with_offline_at_floor_off_a_notice_changes_nothing(world: World) -> None:
    await world.send(household(rule_overrides={"absence.rhythm.offline_at_floor": 0.0}))
    beats = busy_weeks(8)
    last = beats[-1].last_active_at
    world.clock.set(last)
    for i in range(0, len(beats), 100):
        await world.send(*beats[i : i + 100])
    await world.send(device("offline", last + timedelta(hours=1)))
    [opened] = await sweep_after(world, last, 20)
    assert opened.protocol_id == "safety-check-first"


async def test_device_activity_after_the_first_missed_call_holds_the_streak(
    world: World,
) -> None:
    await world.send(household())
    await world.send(call(1), beat(1.5), call(2), call(3))
    assert of(world.events(), AlertEvent, change="opened") == []


async def test_uncollected_mail_of_a_household_active_today_raises_nothing(world: World) -> None:
    await world.send(household())
    await world.send(beat(1))
    mail = MailUncollectedSignal(
        occurred_at=T0 + timedelta(hours=3),
        source="post",
        household_id=HH,
        partner_id="post",
        partner_event_id="m-1",
        days_uncollected=9,
    )
    await world.send(mail)
    assert of(world.events(), AlertEvent, change="opened") == []


async def test_a_moved_household_stands_down_and_its_signals_rest(world: World) -> None:
    await world.send(household())
    await world.send(*(call(h) for h in (-3, -2, -1)))
    world.events()
    await world.send(household(revision=2, status="moved"))
    events = world.events()
    assert of(events, EscalationEvent, change="closed")[0].closure == "household_inactive"
    await world.send(*(call(h) for h in (1, 2, 3)))
    assert world.events() == []


# -- a partner hospital's stay explains a silence (issue 14) -----------------------------------


def admitted(expected: date | None, on: date = date(2026, 11, 25)) -> HospitalAdmissionSignal:
    return HospitalAdmissionSignal(
        occurred_at=T0 + timedelta(hours=1),
        source="hospital",
        household_id=HH,
        partner_id="hospital",
        partner_event_id=str(uuid4()),
        admitted_on=on,
        expected_discharge=expected,
    )


def discharged(on: date, hours: float) -> HospitalDischargeSignal:
    return HospitalDischargeSignal(
        occurred_at=T0 + timedelta(hours=hours),
        source="hospital",
        household_id=HH,
        partner_id="hospital",
        partner_event_id=str(uuid4()),
        discharge_date=on,
    )


async def sweep_at(world: World, hours: float) -> list[Any]:
    world.clock.set(T0 + timedelta(hours=hours))
    await world.detector.sweep()
    return world.events()


# Noon in Seoul on 2026-11-30 is T0 + 122 h (T0 is 10:00 on the 25th).
BACK_ON_30TH = 122


async def test_an_admission_rests_the_watch_until_noon_on_the_planned_discharge_day(
    world: World,
) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(admitted(date(2026, 11, 30)))
    assert await sweep_at(world, 30) == []  # the phone's 24 h window ended in the ward
    await world.send(*(call(h) for h in (40, 41, 42)))  # calls unanswered in the ward: rest
    assert world.events() == []
    assert await sweep_at(world, BACK_ON_30TH + 23.9) == []
    [opened] = of(await sweep_at(world, BACK_ON_30TH + 24), AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed"  # the window started again at noon


async def test_an_sos_from_the_ward_is_still_heard(world: World) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(admitted(date(2026, 11, 30)))
    world.clock.set(T0 + timedelta(hours=5))
    await world.send(sos())
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert opened.reason == "sos" and opened.protocol_id == "emergency"


async def test_an_admission_explains_an_open_absence_alert_and_closes_its_protocol(
    world: World,
) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    [opened] = of(await sweep_at(world, 24), AlertEvent, change="opened")
    await world.send(admitted(date(2026, 11, 30), on=date(2026, 11, 26)))
    events = world.events()
    [resolved] = of(events, AlertEvent, change="resolved")
    assert resolved.alert_id == opened.alert_id and resolved.resolution == "household_inactive"
    [closed] = of(events, EscalationEvent, change="closed")
    assert closed.closure == "household_inactive"


async def test_a_discharge_notice_brings_the_return_forward(world: World) -> None:
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(admitted(date(2026, 12, 5)))
    await world.send(discharged(date(2026, 11, 27), hours=30))  # noon on the 27th: T0 + 50 h
    events = world.events()
    assert [e.protocol_id for e in of(events, AlertEvent, change="opened")] == ["transition-care"]
    assert await sweep_at(world, 50 + 23.9) == []
    [opened] = of(await sweep_at(world, 50 + 24), AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed"


async def test_with_the_pause_off_an_admission_changes_nothing(world: World) -> None:
    off = {**FIXED_WINDOWS, "hospital_stay.pause_watch": 0.0}
    await world.send(household(rule_overrides=off))
    await world.send(admitted(date(2026, 11, 30)))
    assert world.events() == []  # an admission itself never sends anyone
    [opened] = of(await sweep_at(world, 24), AlertEvent, change="opened")
    assert opened.reason == "safety_not_confirmed"


async def test_signals_for_an_unknown_household_are_counted_not_dropped(world: World) -> None:
    sos = SosSignal(
        occurred_at=T0,
        source="button",
        household_id="HH-NOBODY1",
        partner_id="button-co",
        partner_event_id="b-2",
        device_id="btn-8",
    )
    await world.send(sos)
    assert of(world.events(), AlertEvent, change="opened")  # an SOS is never ignored
    with world.db.session() as s:
        row = s.get(UnknownHouseholdRow, "HH-NOBODY1")
    assert row is not None and row.signals == 1 and row.kinds == {"sos": 1}


# -- one active response per household (issue 14) ------------------------------------------


def arrears(
    arrears_type: str = "rent", event_id: str = "a-1", months: int = 4, days: int = 0
) -> ArrearsSignal:
    return ArrearsSignal(
        occurred_at=T0 + timedelta(days=days),
        source="lh",
        household_id=HH,
        partner_id="lh",
        partner_event_id=event_id,
        arrears_type=arrears_type,  # type: ignore[arg-type]
        months_overdue=months,
        amount_krw=1_200_000,
        as_of=(T0 + timedelta(days=days)).date(),
    )


def gas_cut() -> DisconnectionSignal:
    return DisconnectionSignal(
        occurred_at=T0,
        source="gas-co",
        household_id=HH,
        partner_id="gas-co",
        partner_event_id="g-1",
        utility="gas",  # type: ignore[arg-type]
        state="cut",  # type: ignore[arg-type]
    )


def meter_reader_report() -> ReportSignal:
    return ReportSignal(
        occurred_at=T0,
        source="meter",
        household_id=HH,
        partner_id="meter-co",
        partner_event_id="r-1",
        reporter_role="meter_reader",  # type: ignore[arg-type]
        reporter_id="MR-17",
        category="no_response",  # type: ignore[arg-type]
    )


def sos(event_id: str = "b-1") -> SosSignal:
    return SosSignal(
        occurred_at=T0,
        source="button",
        household_id=HH,
        partner_id="button-co",
        partner_event_id=event_id,
        device_id="btn-7",
    )


def tasks_by_step(events: list[Any]) -> dict[str, list[str]]:
    """The tasks each executed step asked people for, by step id."""
    found: dict[str, list[str]] = {}
    for e in of(events, EscalationEvent, change="step_executed"):
        kinds = [a.task_type.value for a in e.step.actions if a.action == "task"]
        found.setdefault(e.step.step_id, []).extend(kinds)
    return found


def alert_links(world: World) -> dict[str, UUID | None]:
    with world.db.session() as s:
        rows = s.execute(select(AlertRow.reason, AlertRow.escalation_id)).all()
    return {reason: escalation_id for reason, escalation_id in rows}


async def test_a_debt_a_welfare_check_found_well_is_not_news_next_month(world: World) -> None:
    await world.send(household())
    await world.send(arrears())
    [started] = of(world.events(), EscalationEvent, change="started")
    world.clock.set(T0 + timedelta(days=2))
    await world.send(outcome(world, started.escalation_id, "phone", "no_need", "phone"))
    assert of(world.events(), EscalationEvent, change="closed")
    await world.send(arrears(event_id="a-2", months=5, days=30))
    assert of(world.events(), AlertEvent, change="opened") == []  # the same debt, seen
    await world.send(arrears(event_id="a-3", months=6, days=60))
    [opened] = of(world.events(), AlertEvent, change="opened")
    assert opened.reason == "arrears"  # two months worse than when a person saw it


async def test_a_second_alert_of_the_same_protocol_joins_the_running_escalation(
    world: World,
) -> None:
    await world.send(household())
    await world.send(arrears())
    [started] = of(world.events(), EscalationEvent, change="started")
    await world.send(gas_cut())
    events = world.events()
    [opened] = of(events, AlertEvent, change="opened")
    assert opened.reason == "disconnection"  # its own alert, with its own evidence
    assert of(events, EscalationEvent, change="started") == []
    [joined] = of(events, EscalationEvent, change="alert_joined")
    assert joined.escalation_id == started.escalation_id
    assert joined.joined_alert_id == opened.alert_id
    assert joined.protocol_id == "welfare-check" and joined.step is None
    assert of(events, EscalationEvent, change="step_executed") == []
    assert alert_links(world) == {
        "arrears": started.escalation_id,
        "disconnection": started.escalation_id,
    }


async def test_a_stronger_alert_upgrades_welfare_check_to_safety_not_confirmed(
    world: World,
) -> None:
    await world.send(household())
    await world.send(arrears())
    events = world.events()
    [started] = of(events, EscalationEvent, change="started")
    assert tasks_by_step(events) == {"phone": ["phone_check"]}
    world.clock.set(T0 + timedelta(hours=2))
    await world.send(*(call(h) for h in (-1, 0, 1)))  # three unanswered calls
    events = world.events()
    assert of(events, EscalationEvent, change="started") == []
    [upgraded] = of(events, EscalationEvent, change="upgraded")
    assert upgraded.escalation_id == started.escalation_id
    assert upgraded.protocol_id == "safety-not-confirmed"
    assert upgraded.previous_protocol_id == "welfare-check"
    assert upgraded.triggered_at == world.clock.now()  # day 1 is the day of the upgrade
    superseded = of(events, EscalationEvent, change="step_cancelled")
    assert sorted(e.step.step_id for e in superseded) == ["decision", "visit"]
    assert all("safety-not-confirmed" in (e.step.note or "") for e in superseded)
    # Day 1 runs (text, log) but the official already has a phone task: not a second one.
    assert tasks_by_step(events) == {"day1.contact": []}
    [day1] = of(events, EscalationEvent, change="step_executed")
    assert "phone_check" in (day1.step.note or "")
    with world.db.session() as s:
        row = s.get(EscalationRow, started.escalation_id)
        assert row is not None and row.protocol_id == "safety-not-confirmed"
        assert row.steps["phone"] == "executed" and row.steps["day1.contact"] == "executed"
    assert set(alert_links(world).values()) == {started.escalation_id}


async def test_an_sos_upgrades_a_running_safety_protocol_to_emergency_at_once(
    world: World,
) -> None:
    await world.send(household())
    await world.send(*(call(h) for h in (-3, -2, -1)))
    [started] = of(world.events(), EscalationEvent, change="started")
    world.clock.set(T0 + timedelta(hours=1))
    await world.send(sos())
    events = world.events()
    assert of(events, EscalationEvent, change="started") == []
    [upgraded] = of(events, EscalationEvent, change="upgraded")
    assert upgraded.escalation_id == started.escalation_id
    assert (upgraded.previous_protocol_id, upgraded.protocol_id) == (
        "safety-not-confirmed",
        "emergency",
    )
    [now] = of(events, EscalationEvent, change="step_executed")
    assert now.step.step_id == "now" and now.protocol_id == "emergency"
    kinds = {a.recipient.kind.value for a in now.step.actions if a.action == "notify"}
    assert "fire_liaison" in kinds
    cancelled = {e.step.step_id for e in of(events, EscalationEvent, change="step_cancelled")}
    assert "day2.visit" in cancelled and "day1.contact" not in cancelled  # done stays done


async def test_a_weaker_alert_never_downgrades_a_running_emergency(world: World) -> None:
    await world.send(household())
    await world.send(sos())
    [started] = of(world.events(), EscalationEvent, change="started")
    await world.send(arrears())
    events = world.events()
    [joined] = of(events, EscalationEvent, change="alert_joined")
    assert joined.escalation_id == started.escalation_id and joined.protocol_id == "emergency"
    assert of(events, EscalationEvent, change="upgraded") == []
    assert of(events, EscalationEvent, change="started") == []
    assert of(events, EscalationEvent, change="step_executed") == []
    with world.db.session() as s:
        row = s.get(EscalationRow, started.escalation_id)
        assert row is not None and row.protocol_id == "emergency"


async def test_a_closed_escalation_does_not_absorb_a_new_alert_a_new_one_starts(
    world: World,
) -> None:
    await world.send(household())
    await world.send(arrears())
    [first] = of(world.events(), EscalationEvent, change="started")
    await world.send(outcome(world, first.escalation_id, "phone", "no_need", "phone"))
    assert of(world.events(), EscalationEvent, change="closed")
    await world.send(gas_cut())
    events = world.events()
    [second] = of(events, EscalationEvent, change="started")
    assert second.escalation_id != first.escalation_id
    assert of(events, EscalationEvent, change="alert_joined") == []
    assert alert_links(world)["disconnection"] == second.escalation_id


async def test_arrears_a_gas_cut_off_and_a_meter_readers_report_make_one_escalation(
    world: World,
) -> None:
    """The partner's case: three alerts, one welfare check, one task per step."""
    await world.send(household())
    await world.send(arrears())
    await world.send(gas_cut())
    await world.send(meter_reader_report())
    events = world.events()
    assert sorted(e.reason for e in of(events, AlertEvent, change="opened")) == [
        "arrears",
        "disconnection",
        "human_report",
    ]
    [started] = of(events, EscalationEvent, change="started")
    assert len(of(events, EscalationEvent, change="alert_joined")) == 2
    for day in (3, 14):
        world.clock.set(T0 + timedelta(days=day))
        await world.detector.fire(str(started.escalation_id))
    events += world.events()
    assert {e.escalation_id for e in events if isinstance(e, EscalationEvent)} == {
        started.escalation_id
    }
    assert tasks_by_step(events) == {
        "phone": ["phone_check"],
        "visit": ["home_visit"],
        "decision": ["case_decision"],
    }
    assert set(alert_links(world).values()) == {started.escalation_id}


async def test_when_the_reason_for_the_stronger_protocol_ends_the_response_steps_back(
    world: World,
) -> None:
    """Activity again ends the absence that upgraded a welfare check: no day-2 police step
    for a person who is up and about, but the arrears still get their welfare check."""
    await world.send(household(rule_overrides=FIXED_WINDOWS))
    await world.send(beat(1))
    await world.send(arrears())
    [first] = of(world.events(), EscalationEvent, change="started")
    world.clock.set(T0 + timedelta(hours=26))
    await world.detector.sweep()
    [upgraded] = of(world.events(), EscalationEvent, change="upgraded")
    assert upgraded.protocol_id == "safety-not-confirmed"
    await world.send(beat(27))
    events = world.events()
    [closed] = of(events, EscalationEvent, change="closed")
    assert closed.escalation_id == first.escalation_id and closed.closure == "activity_resumed"
    assert [e.reason for e in of(events, AlertEvent, change="resolved")] == ["safety_not_confirmed"]
    [again] = of(events, EscalationEvent, change="started")
    assert again.protocol_id == "welfare-check" and again.escalation_id != first.escalation_id
    assert alert_links(world)["arrears"] == again.escalation_id
