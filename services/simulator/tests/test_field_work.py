"""What simulated field staff record: the world's truth, as a phone or a visit can see it."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from anbu_contracts import ContactMode, MonitoringChannel, OutcomeResult, TaskType, Tier
from anbu_simulator.domain.crises import CrisisKind, make_crisis
from anbu_simulator.domain.field_work import what_staff_find
from anbu_simulator.domain.population import draw_profile
from anbu_simulator.domain.simulation import SEOUL
from anbu_simulator.entrypoints.cli import clock_start

ONSET = datetime(2026, 3, 2, 10, tzinfo=SEOUL)
PERSON = draw_profile(
    random.Random(1), "HH-TEST000002", "1111053000", Tier.HIGH_RISK, (MonitoringChannel.PHONE,)
)


def test_a_phone_call_cannot_find_a_death_but_a_visit_does():
    death = make_crisis(random.Random(1), PERSON, CrisisKind.DEATH, ONSET)
    later = ONSET + timedelta(days=1)
    assert what_staff_find(TaskType.PHONE_CHECK, death, later).result is OutcomeResult.NOT_FOUND
    found = what_staff_find(TaskType.HOME_VISIT, death, later)
    assert (found.result, found.contact_mode) == (OutcomeResult.DECEASED, ContactMode.VISIT)


def test_a_household_without_crisis_is_found_well():
    assert (
        what_staff_find(TaskType.PHONE_CHECK, None, ONSET).result is OutcomeResult.CONTACT_CONFIRMED
    )
    assert what_staff_find(TaskType.INVESTIGATION, None, ONSET).result is OutcomeResult.NO_NEED


def test_a_fall_found_at_the_door_goes_to_emergency_services():
    fall = make_crisis(random.Random(1), PERSON, CrisisKind.FALL, ONSET)
    assert (
        what_staff_find(TaskType.HOME_VISIT, fall, ONSET + timedelta(hours=20)).result
        is OutcomeResult.EMERGENCY_SERVICES
    )


def test_the_demo_clock_never_starts_behind_a_past_run(tmp_path):
    now = datetime(2026, 3, 2, 1, 0, tzinfo=SEOUL)  # 01:00 KST
    assert clock_start(None, "13:30", now) == datetime(2026, 3, 2, 13, 30, tzinfo=SEOUL)
    state = tmp_path / "clock.txt"
    state.write_text(datetime(2026, 3, 4, 15, 0, tzinfo=SEOUL).isoformat())
    assert clock_start(state, "13:30", now) == datetime(2026, 3, 5, 13, 30, tzinfo=SEOUL)
