"""A partition load rebuilds the index exactly as it was: each household's configuration
(decoded once per distinct stored form, not per row), its clocks, silent flags, learned
weeks and deadlines — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

from anbu_contracts import ChannelEnrolment, HouseholdSnapshot, MonitoringChannel
from anbu_detector.domain.monitor import Monitor

from .test_detector_service import FIXED_WINDOWS, T0, World, beat, household
from .test_detector_service import world as world  # the fixture

PHONE = MonitoringChannel.PHONE


def variant(household_id: str, **extra: Any) -> HouseholdSnapshot:
    base = household().model_dump()
    return HouseholdSnapshot.model_validate({**base, "household_id": household_id, **extra})


def enrolment(channel: str, hours: float | None = None) -> dict[str, Any]:
    return ChannelEnrolment(channel=channel, consent=True, window_hours=hours).model_dump()  # type: ignore[arg-type]


VARIANTS = [
    variant("HH-LOAD01"),
    variant("HH-LOAD02"),  # the same stored form as HH-LOAD01: one decode, shared
    variant("HH-LOAD03", rule_overrides=FIXED_WINDOWS),
    variant("HH-LOAD04", programme="cold-wave"),
    variant("HH-LOAD05", status="suspended", suspended_until=T0 + timedelta(days=3)),
    variant("HH-LOAD06", status="moved"),
    variant("HH-LOAD07", quiet_hours={"start": "23:00", "end": "07:00"}),
    variant("HH-LOAD08", channels=[enrolment("phone"), enrolment("smart_plug")]),
    variant("HH-LOAD09", timezone="Europe/Berlin", channels=[enrolment("phone", 12)]),
]


def state(monitor: Monitor) -> dict[str, Any]:
    """Everything the index keeps that a restart must bring back."""
    found = {}
    for household_id, watch in sorted(monitor.households.items()):
        clocks = {}
        for channel, clock in sorted(watch.channels.items()):
            rhythm = clock.rhythm
            clocks[channel] = (
                clock.last_active,
                clock.silent,
                monitor.deadline_of(household_id, channel),
                None
                if rhythm is None
                else (rhythm.since, rhythm.last_block, rhythm.outages, list(rhythm.hits)),
            )
        found[household_id] = (watch.partition, watch.config, clocks)
    return found


async def test_a_restart_loads_every_configuration_clock_and_learned_week_back(
    world: World, database_url: str
) -> None:
    await world.send(*VARIANTS)
    for hours in (1, 5, 9, 30):
        for snapshot in VARIANTS:
            await world.send(beat(hours).model_copy(update={"household_id": snapshot.household_id}))
    world.clock.set(T0 + timedelta(hours=60))
    await world.detector.sweep()  # some channels fall silent
    before = state(world.detector.monitor)
    await world.detector.drop_partitions({3})  # written exactly, as at a clean stop
    restarted = World(database_url)
    try:
        restarted.clock.set(world.clock.now())
        await restarted.detector.load_partitions({3})
        after = state(restarted.detector.monitor)
    finally:
        restarted.db.dispose()
    assert len(after) == len(VARIANTS)
    assert after == before
    assert any(c[1] for _, _, clocks in after.values() for c in clocks.values())  # silent ones


def test_a_clock_keeps_its_last_heartbeat_id_and_partner_once_per_partner() -> None:
    """The evidence of a silence is the last heartbeat (its id and partner); a clock keeps
    the id as its number and the partner as the one shared string, a million clocks."""
    monitor = Monitor()
    first, second = uuid4(), uuid4()
    for household_id, event_id in (("HH-EVID01", first), ("HH-EVID02", second)):
        partner = "".join(["tel", "co"])  # a decoded event's own copy
        monitor.heartbeat(household_id, 3, PHONE, T0, event_id, partner)
    one = monitor.households["HH-EVID01"].channels[PHONE]
    two = monitor.households["HH-EVID02"].channels[PHONE]
    assert (one.last_event, two.last_event) == (first, second)
    assert one.last_partner == "telco" and one.last_partner is two.last_partner
    assert monitor.last_activity("HH-EVID01") == T0
    monitor.restore_seconds("HH-EVID03", 3, PHONE, T0.timestamp(), silent=False)
    assert monitor.households["HH-EVID03"].channels[PHONE].last_event is None
    assert monitor.last_activity("HH-EVID03") is None  # nothing heard since the load
