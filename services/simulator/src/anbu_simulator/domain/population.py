"""The simulated population: households, where they live, how they are watched, how they live.

A household profile holds what the registry knows (dong, tier, enrolled channels, flags) and
what only the simulation knows: the person's daily rhythm, how often they travel or go to
hospital, how flaky their devices are and how prone they are to arrears. Profiles are drawn
from a seeded random generator, so the same seed gives the same population.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from anbu_contracts import MonitoringChannel, Tier

DISTRICT_JONGNO = "11110"

# Jongno-gu's administrative dongs (행정동, 행정표준코드): the first five are the demo seed's.
JONGNO_DONGS: tuple[str, ...] = (
    "1111051500",  # 청운효자동
    "1111053000",  # 사직동
    "1111054000",  # 삼청동
    "1111055000",  # 부암동
    "1111056000",  # 평창동
    "1111057000",  # 무악동
    "1111058000",  # 교남동
    "1111060000",  # 가회동
    "1111061500",  # 종로1·2·3·4가동
    "1111063000",  # 종로5·6가동
    "1111064000",  # 이화동
    "1111065000",  # 혜화동
    "1111067000",  # 창신1동
    "1111068000",  # 창신2동
    "1111069000",  # 창신3동
    "1111070000",  # 숭인1동
    "1111071000",  # 숭인2동
)


class CallCadence(StrEnum):
    """How often an AI safety-call vendor calls the household."""

    NONE = "none"
    WEEKLY = "weekly"
    TWICE_DAILY = "twice_daily"


@dataclass(frozen=True, slots=True)
class HouseholdProfile:
    household_id: str
    district_code: str
    dong_code: str
    tier: Tier
    channels: tuple[MonitoringChannel, ...]  # enrolled with consent
    calls: CallCadence
    call_weekday: int  # weekly calls: 0 = Monday
    sos_device: bool
    medical_aid: bool
    landlord_on_file: bool
    guardians_on_file: bool
    # The person's rhythm (local hours) and habits: known to the simulation only.
    wake_hour: float
    sleep_hour: float
    phone_use: float  # 0..1: how busy the phone is in waking hours
    arrears_prone: float  # chance of missing a month's payment, per account
    trips_per_year: float
    hospital_stays_per_year: float
    phone_left_home_per_month: float
    device_faults_per_year: float


TIER_WEIGHTS: tuple[tuple[Tier, float], ...] = (
    (Tier.HIGH_RISK, 0.30),
    (Tier.CAUTION, 0.30),
    (Tier.WATCH, 0.30),
    (Tier.CLOSED, 0.10),
)

# Channel mixes as programmes enrol them: phone monitoring everywhere, IoT plugs for a
# third, motion sensors for the high-risk few.
CHANNEL_MIXES: tuple[tuple[tuple[MonitoringChannel, ...], float], ...] = (
    ((MonitoringChannel.PHONE,), 0.50),
    ((MonitoringChannel.PHONE, MonitoringChannel.SMART_PLUG), 0.30),
    ((MonitoringChannel.SMART_PLUG,), 0.08),
    ((MonitoringChannel.PHONE, MonitoringChannel.MOTION_SENSOR), 0.06),
    (
        (MonitoringChannel.PHONE, MonitoringChannel.SMART_PLUG, MonitoringChannel.MOTION_SENSOR),
        0.06,
    ),
)


T = TypeVar("T")


def _pick(rng: random.Random, weighted: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def household_id(index: int) -> str:
    """A pseudonymous id in the registry's format (``HH-`` and 6–26 of [0-9A-Z])."""
    return f"HH-SIM{index:07d}"


def _calls_for(rng: random.Random, tier: Tier) -> CallCadence:
    if tier is Tier.HIGH_RISK:
        return _pick(
            rng,
            ((CallCadence.TWICE_DAILY, 0.3), (CallCadence.WEEKLY, 0.5), (CallCadence.NONE, 0.2)),
        )
    if tier is Tier.CAUTION:
        return _pick(rng, ((CallCadence.WEEKLY, 0.5), (CallCadence.NONE, 0.5)))
    return _pick(rng, ((CallCadence.WEEKLY, 0.2), (CallCadence.NONE, 0.8)))


def draw_profile(
    rng: random.Random,
    hid: str,
    dong_code: str,
    tier: Tier,
    channels: tuple[MonitoringChannel, ...],
    *,
    district_code: str = DISTRICT_JONGNO,
    medical_aid: bool | None = None,
    landlord_on_file: bool | None = None,
    guardians_on_file: bool | None = None,
    calls: CallCadence | None = None,
) -> HouseholdProfile:
    """One household's habits, drawn from ``rng``; registry facts may be given."""
    high = tier is Tier.HIGH_RISK
    wake = rng.uniform(5.5, 8.5)
    return HouseholdProfile(
        household_id=hid,
        district_code=district_code,
        dong_code=dong_code,
        tier=tier,
        channels=channels,
        calls=calls if calls is not None else _calls_for(rng, tier),
        call_weekday=rng.randrange(5),
        sos_device=rng.random() < (0.35 if high else 0.1),
        medical_aid=medical_aid if medical_aid is not None else rng.random() < 0.3,
        landlord_on_file=landlord_on_file if landlord_on_file is not None else rng.random() < 0.6,
        guardians_on_file=(
            guardians_on_file if guardians_on_file is not None else rng.random() < 0.5
        ),
        wake_hour=wake,
        sleep_hour=min(rng.uniform(21.0, 24.5), 24.0),
        phone_use=rng.betavariate(2.0, 3.0 if high else 2.0),
        arrears_prone=rng.betavariate(0.3, 12.0),
        trips_per_year=rng.uniform(0.5, 3.0) * (0.5 if high else 1.0),
        hospital_stays_per_year=rng.uniform(0.1, 0.8) * (2.0 if high else 1.0),
        phone_left_home_per_month=rng.uniform(0.0, 1.5),
        device_faults_per_year=rng.uniform(0.5, 3.0),
    )


def synthetic_population(
    seed: int | str, size: int, dongs: Sequence[str] = JONGNO_DONGS
) -> list[HouseholdProfile]:
    """``size`` households over ``dongs``, drawn from ``seed`` (the same seed, the same people)."""
    rng = random.Random(f"population:{seed}")
    households = []
    for index in range(1, size + 1):
        tier = _pick(rng, TIER_WEIGHTS)
        channels = _pick(rng, CHANNEL_MIXES)
        households.append(draw_profile(rng, household_id(index), rng.choice(dongs), tier, channels))
    return households


def seed_population(
    seed: int | str, entries: Iterable[Mapping[str, Any]]
) -> list[HouseholdProfile]:
    """The households of a registry seed file (``deploy/seed/demo.yaml``'s ``households``).

    Ids, dongs, tiers, consented channels and flags come from the seed, so the registry
    knows every simulated household; habits are drawn from ``seed``. A few high-risk
    households get twice-daily AI calls so that an unanswered streak can happen in a demo.
    """
    rng = random.Random(f"seed-population:{seed}")
    households = []
    for entry in entries:
        channels = tuple(
            MonitoringChannel(c["channel"]) for c in entry.get("channels", ()) if c.get("consent")
        )
        tier = Tier(entry["tier"])
        people = entry.get("people") or []
        relations = {p.get("relation") for p in people if isinstance(p, Mapping)}
        households.append(
            draw_profile(
                rng,
                str(entry["household_id"]),
                str(entry["dong_code"]),
                tier,
                channels,
                district_code=str(entry.get("district_code", DISTRICT_JONGNO)),
                medical_aid=bool(entry.get("medical_aid", False)),
                landlord_on_file="landlord" in relations,
                guardians_on_file="guardian" in relations,
                calls=CallCadence.TWICE_DAILY if tier is Tier.HIGH_RISK else None,
            )
        )
    return households
