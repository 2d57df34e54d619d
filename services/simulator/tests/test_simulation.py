"""The pure generator: same seed same world, daily rhythms, crisis traces, flaky partners."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from anbu_contracts import CallOutcome, MonitoringChannel, SignalKind, Tier
from anbu_contracts.signals import any_signal_adapter
from anbu_simulator.domain.crises import CrisisKind, make_crisis
from anbu_simulator.domain.population import (
    CallCadence,
    HouseholdProfile,
    draw_profile,
    seed_population,
    synthetic_population,
)
from anbu_simulator.domain.rhythms import active_probability, is_day_off
from anbu_simulator.domain.simulation import SEOUL, Flaw, Observation, Simulation, SimulationConfig

ROOT = Path(__file__).resolve().parents[3]
START = datetime(2026, 3, 2, tzinfo=SEOUL)  # a Monday


def _fingerprint(observations: list[Observation]) -> list[tuple[str, str, str, str]]:
    return [
        (o.deliver_at.isoformat(), o.kind, o.household_id, str(o.event_id)) for o in observations
    ]


@pytest.fixture(scope="module")
def week() -> tuple[Simulation, list[Observation]]:
    population = synthetic_population(7, 300)
    simulation = Simulation(population, SimulationConfig(seed=7, start=START, days=7))
    return simulation, list(simulation.observations())


def test_the_same_seed_gives_the_same_world_event_ids_included(week):
    _, first = week
    again = Simulation(synthetic_population(7, 300), SimulationConfig(seed=7, start=START, days=7))
    assert _fingerprint(list(again.observations())) == _fingerprint(first)
    other = Simulation(synthetic_population(8, 300), SimulationConfig(seed=8, start=START, days=7))
    assert _fingerprint(list(other.observations())) != _fingerprint(first)


def test_observations_come_in_delivery_order_within_the_period(week):
    simulation, observations = week
    times = [o.deliver_at for o in observations]
    assert times == sorted(times)
    assert all(START <= o.occurred_at < simulation.config.end for o in observations)
    assert all(o.deliver_at >= o.occurred_at for o in observations)


def test_every_valid_observation_is_a_contract_signal_of_its_kind(week):
    _, observations = week
    for obs in observations:
        if obs.flaw is Flaw.MALFORMED:
            continue
        signal = any_signal_adapter.validate_json(obs.value())
        assert signal.kind == obs.kind.value
        assert signal.event_id == obs.event_id


def test_partners_misbehave_at_their_configured_rates(week):
    _, observations = week
    flaws = Counter(o.flaw for o in observations)
    total = len(observations)
    assert 0.005 < flaws[Flaw.LATE] / total < 0.02
    assert 0.0005 < flaws[Flaw.DUPLICATE] / total < 0.008
    assert 0 < flaws[Flaw.MALFORMED] / total < 0.002
    late = [o for o in observations if o.flaw is Flaw.LATE]
    assert all(o.deliver_at - o.occurred_at >= timedelta(hours=2) for o in late)


def test_malformed_records_are_refused_by_the_contract():
    population = synthetic_population(3, 200)
    config = SimulationConfig(seed=3, start=START, days=3, malformed_rate=0.05)
    malformed = [
        o for o in Simulation(population, config).observations() if o.flaw is Flaw.MALFORMED
    ]
    assert (
        0.03 < len(malformed) / sum(1 for _ in Simulation(population, config).observations()) < 0.07
    )
    for obs in malformed:
        with pytest.raises(ValidationError):
            any_signal_adapter.validate_json(obs.value())


def test_a_duplicate_repeats_the_original_event_id(week):
    _, observations = week
    by_id = Counter(o.event_id for o in observations)
    duplicates = [o for o in observations if o.flaw is Flaw.DUPLICATE]
    assert duplicates
    assert all(by_id[o.event_id] == 2 for o in duplicates)


def _profile(**changes: object) -> HouseholdProfile:
    import random

    base = draw_profile(
        random.Random(1),
        "HH-TEST000001",
        "1111051500",
        Tier.HIGH_RISK,
        (MonitoringChannel.PHONE, MonitoringChannel.SMART_PLUG),
        calls=CallCadence.TWICE_DAILY,
    )
    from dataclasses import replace

    return replace(base, **changes)  # type: ignore[arg-type]


def test_people_are_active_by_day_and_quiet_at_night_and_sleep_in_on_holidays():
    person = _profile(wake_hour=7.0, sleep_hour=23.0, phone_use=0.5)
    assert active_probability(person, MonitoringChannel.PHONE, 3, False) < 0.05
    assert active_probability(person, MonitoringChannel.PHONE, 14, False) > 0.4
    assert active_probability(person, MonitoringChannel.SMART_PLUG, 19, False) > 0.5
    assert active_probability(person, MonitoringChannel.PHONE, 7, False) > 0.4
    assert active_probability(person, MonitoringChannel.PHONE, 7, True) < 0.05  # sleeps in
    assert is_day_off(date(2026, 9, 25))  # 추석 2026
    assert is_day_off(date(2026, 3, 7))  # a Saturday
    assert not is_day_off(date(2026, 3, 4))


def test_heartbeats_follow_the_hour_of_day(week):
    _, observations = week
    hours = Counter(
        o.fields["last_active_at"].astimezone(SEOUL).hour
        for o in observations
        if o.kind is SignalKind.HEARTBEAT and o.fields["channel"] is MonitoringChannel.PHONE
    )
    night = sum(hours[h] for h in (1, 2, 3, 4))
    afternoon = sum(hours[h] for h in (13, 14, 15, 16))
    assert afternoon > 10 * night


def _world_with(kind: CrisisKind, onset_hours: float = 30) -> tuple[Simulation, list[Observation]]:
    import random

    person = _profile(sos_device=False)
    crisis = make_crisis(random.Random(5), person, kind, START + timedelta(hours=onset_hours))
    config = SimulationConfig(
        seed=5, start=START, days=5, crisis_rate_per_year=0, late_rate=0, duplicate_rate=0
    )
    simulation = Simulation([person], config, crises=[crisis])
    return simulation, list(simulation.observations())


def test_a_death_stops_every_channel_and_the_calls_go_unanswered():
    simulation, observations = _world_with(CrisisKind.DEATH)
    onset = simulation.ground_truth[0].onset
    after = [o for o in observations if o.occurred_at > onset + timedelta(hours=4)]
    assert not [o for o in after if o.kind is SignalKind.HEARTBEAT]
    calls = [o.fields["outcome"] for o in after if o.kind is SignalKind.SAFETY_CALL]
    assert calls and all(c in (CallOutcome.UNANSWERED, CallOutcome.UNREACHABLE) for c in calls)
    before = [o for o in observations if o.kind is SignalKind.HEARTBEAT and o.occurred_at < onset]
    assert before
    assert all(
        o.fields["last_active_at"] < onset for o in observations if o.kind is SignalKind.HEARTBEAT
    )


def test_an_acute_illness_lowers_activity_and_brings_concern_answers():
    simulation, observations = _world_with(CrisisKind.ACUTE_ILLNESS, onset_hours=10)
    crisis = simulation.ground_truth[0]
    during = [o for o in observations if crisis.active(o.occurred_at)]
    calls = Counter(o.fields["outcome"] for o in during if o.kind is SignalKind.SAFETY_CALL)
    assert (
        calls[CallOutcome.ANSWERED_CONCERN] + calls[CallOutcome.UNANSWERED]
        >= calls[CallOutcome.ANSWERED_OK]
    )


def test_the_ground_truth_names_onset_and_trace():
    population = synthetic_population(11, 2000)
    simulation = Simulation(population, SimulationConfig(seed=11, start=START, days=30))
    truth = simulation.ground_truth
    assert 5 < len(truth) < 60  # about 0.1 per household-year, high-risk twice
    assert {c.kind for c in truth} >= {CrisisKind.FALL, CrisisKind.FINANCIAL_COLLAPSE}
    for crisis in truth:
        record = crisis.to_json()
        assert START <= crisis.onset < simulation.config.end
        assert record["trace"] and record["onset"] and record["kind"] in set(CrisisKind)


def test_the_demo_seed_households_are_simulated_as_the_registry_knows_them():
    seed = yaml.safe_load((ROOT / "deploy" / "seed" / "demo.yaml").read_text(encoding="utf-8"))
    population = seed_population(1, seed["households"])
    assert [p.household_id for p in population] == [h["household_id"] for h in seed["households"]]
    first = seed["households"][1]
    assert population[1].channels == tuple(
        MonitoringChannel(c["channel"]) for c in first["channels"]
    )
    assert any(p.calls is CallCadence.TWICE_DAILY for p in population)
    demo = Simulation(population, SimulationConfig(seed=1, start=START, days=1, demo=True))
    kinds = {c.kind for c in demo.ground_truth if c.onset >= START}
    assert {CrisisKind.DEATH, CrisisKind.FALL} <= kinds


def test_event_ids_are_exactly_the_version_4_uuids_of_their_random_bits() -> None:
    """The emitter builds event ids from the generator's bits without ``UUID.__init__``
    (a record per heartbeat): the same value, text, hash and safety as ``UUID(int=, version=4)``."""
    import random
    from uuid import UUID

    from anbu_simulator.domain.observations import _uuid4

    rng = random.Random("ids")
    for bits in [0, (1 << 128) - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        expected, built = UUID(int=bits, version=4), _uuid4(bits)
        assert built == expected and str(built) == str(expected) and built.hex == expected.hex
        assert hash(built) == hash(expected) and built.is_safe is expected.is_safe
        assert built.version == 4
