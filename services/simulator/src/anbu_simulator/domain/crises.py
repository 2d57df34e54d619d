"""Injected crises: the ground truth the detector is measured against.

Each crisis has an onset and a trace — what changes in the household's signals from then
on — planned up front from the seed, so the ground-truth file is complete before the first
signal is produced.

- fall at home: all activity at home stops, the phone is out of reach, calls go unanswered;
  an SOS press if a device is at hand; a neighbour may report no response; found after days.
- acute illness: activity drops to a quarter; calls answered with concern (ill) or not at
  all; sometimes an SOS or a self-report; recovers after days.
- financial collapse: arrears on 2–4 accounts from the onset month (3 months overdue after
  about three files), power/gas pending then cut, lower power use, sometimes a no-food
  answer or a landlord's eviction-risk report.
- disappearance: home devices silent; the phone goes along (active) or is switched off;
  calls unanswered or unreachable; registered mail uncollected.
- death (고독사): everything stops for good; calls unanswered; mail uncollected; a report
  (odour, no response) after one to three weeks if anyone notices.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from anbu_contracts import ArrearsType, MonitoringChannel, ReportCategory, ReporterRole, Tier

from .population import CallCadence, HouseholdProfile


class CrisisKind(StrEnum):
    FALL = "fall"
    ACUTE_ILLNESS = "acute_illness"
    FINANCIAL_COLLAPSE = "financial_collapse"
    DISAPPEARANCE = "disappearance"
    DEATH = "death"


CRISIS_WEIGHTS: tuple[tuple[CrisisKind, float], ...] = (
    (CrisisKind.FALL, 0.30),
    (CrisisKind.ACUTE_ILLNESS, 0.25),
    (CrisisKind.FINANCIAL_COLLAPSE, 0.25),
    (CrisisKind.DISAPPEARANCE, 0.05),
    (CrisisKind.DEATH, 0.15),
)

TIER_RISK: dict[Tier, float] = {
    Tier.HIGH_RISK: 2.0,
    Tier.CAUTION: 1.0,
    Tier.WATCH: 0.6,
    Tier.CLOSED: 0.4,
}


@dataclass(frozen=True, slots=True)
class PlannedReport:
    at: datetime
    category: ReportCategory
    role: ReporterRole


@dataclass(frozen=True, slots=True)
class Crisis:
    """One injected crisis; ``ends`` is when its trace stops (``None``: never)."""

    household_id: str
    kind: CrisisKind
    onset: datetime
    ends: datetime | None
    activity_factor: float  # multiplier on the home rhythm while the crisis lasts
    phone_taken: bool = False  # disappearance: the phone goes along and stays active
    sos_at: datetime | None = None
    reports: tuple[PlannedReport, ...] = ()
    arrears_types: tuple[ArrearsType, ...] = ()
    dong_code: str = ""
    tier: Tier = Tier.WATCH
    channels: tuple[MonitoringChannel, ...] = field(default_factory=tuple)

    def active(self, at: datetime) -> bool:
        return self.onset <= at and (self.ends is None or at < self.ends)

    def trace(self) -> list[str]:
        """What a partner could observe, in words (the ground-truth file's ``trace``)."""
        lines: list[str] = []
        if self.kind is CrisisKind.FINANCIAL_COLLAPSE:
            lines.append("arrears from the onset month on " + ", ".join(self.arrears_types))
            lines.append("pending then cut power/gas at 2 and 4 months overdue")
            lines.append("power use down by a third")
        elif self.kind is CrisisKind.DISAPPEARANCE:
            lines.append("home channels silent")
            lines.append("phone active elsewhere" if self.phone_taken else "phone switched off")
            lines.append("safety calls unanswered or unreachable; mail uncollected")
        elif self.activity_factor == 0:
            lines.append("all activity at home stops; phone silent; calls unanswered")
            lines.append("registered mail uncollected")
        else:
            lines.append(
                f"activity at {self.activity_factor:.0%} of normal; calls: ill or unanswered"
            )
        if self.sos_at is not None:
            lines.append(f"SOS at {self.sos_at.isoformat()}")
        for report in self.reports:
            lines.append(
                f"{report.role.value} reports {report.category.value} at {report.at.isoformat()}"
            )
        if self.ends is not None:
            lines.append(f"trace ends {self.ends.isoformat()}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "household_id": self.household_id,
            "kind": self.kind.value,
            "onset": self.onset.isoformat(),
            "ends": self.ends.isoformat() if self.ends else None,
            "dong_code": self.dong_code,
            "tier": self.tier.value,
            "channels": [c.value for c in self.channels],
            "sos_at": self.sos_at.isoformat() if self.sos_at else None,
            "reports": [
                {"at": r.at.isoformat(), "category": r.category.value, "role": r.role.value}
                for r in self.reports
            ],
            "trace": self.trace(),
        }


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def make_crisis(
    rng: random.Random, profile: HouseholdProfile, kind: CrisisKind, onset: datetime
) -> Crisis:
    """A crisis of ``kind`` at ``onset`` with its trace drawn from ``rng``."""
    reports: list[PlannedReport] = []
    sos_at: datetime | None = None
    ends: datetime | None = None
    factor = 0.0
    phone_taken = False
    arrears: tuple[ArrearsType, ...] = ()
    if kind is CrisisKind.FALL:
        ends = onset + _hours(rng, 36, 120)  # someone finds them, or they reach the phone
        if profile.sos_device and rng.random() < 0.5:
            sos_at = onset + timedelta(minutes=rng.uniform(1, 30))
        if rng.random() < 0.25:
            reports.append(
                PlannedReport(
                    onset + _hours(rng, 20, 72), ReportCategory.NO_RESPONSE, ReporterRole.NEIGHBOUR
                )
            )
    elif kind is CrisisKind.ACUTE_ILLNESS:
        factor = 0.25
        ends = onset + _hours(rng, 72, 240)
        if profile.sos_device and rng.random() < 0.2:
            sos_at = onset + _hours(rng, 1, 24)
        if rng.random() < 0.1:
            reports.append(
                PlannedReport(onset + _hours(rng, 12, 72), ReportCategory.OTHER, ReporterRole.SELF)
            )
    elif kind is CrisisKind.FINANCIAL_COLLAPSE:
        factor = 0.7
        pool = [
            ArrearsType.ELECTRICITY,
            ArrearsType.GAS,
            ArrearsType.TELECOM,
            ArrearsType.HEALTH_INSURANCE,
        ]
        if profile.landlord_on_file:
            pool.append(ArrearsType.RENT)
        arrears = tuple(rng.sample(pool, rng.randint(2, min(4, len(pool)))))
        if rng.random() < 0.3:
            category = rng.choice(
                [
                    ReportCategory.EVICTION_RISK,
                    ReportCategory.FOOD_INSECURITY,
                    ReportCategory.CUTOFF_SEEN,
                ]
            )
            role = (
                ReporterRole.LANDLORD
                if category is ReportCategory.EVICTION_RISK
                else ReporterRole.METER_READER
            )
            reports.append(PlannedReport(onset + _hours(rng, 24 * 20, 24 * 75), category, role))
    elif kind is CrisisKind.DISAPPEARANCE:
        phone_taken = rng.random() < 0.5
        ends = onset + _hours(rng, 24 * 3, 24 * 20)
        if rng.random() < 0.3:
            reports.append(
                PlannedReport(
                    onset + _hours(rng, 48, 120), ReportCategory.NO_RESPONSE, ReporterRole.NEIGHBOUR
                )
            )
    else:  # death: nothing ends it
        if rng.random() < 0.6:
            category = rng.choice(
                [ReportCategory.ODOUR, ReportCategory.NO_RESPONSE, ReportCategory.MAIL_PILING_UP]
            )
            role = {
                ReportCategory.ODOUR: ReporterRole.NEIGHBOUR,
                ReportCategory.NO_RESPONSE: ReporterRole.LANDLORD,
            }.get(category, ReporterRole.POSTAL_CARRIER)
            reports.append(PlannedReport(onset + _hours(rng, 24 * 7, 24 * 21), category, role))
    return Crisis(
        household_id=profile.household_id,
        kind=kind,
        onset=onset,
        ends=ends,
        activity_factor=factor,
        phone_taken=phone_taken,
        sos_at=sos_at,
        reports=tuple(reports),
        arrears_types=arrears,
        dong_code=profile.dong_code,
        tier=profile.tier,
        channels=profile.channels,
    )


def plan_crises(
    seed: int | str,
    population: Sequence[HouseholdProfile],
    start: datetime,
    end: datetime,
    rate_per_year: float,
) -> list[Crisis]:
    """At most one crisis per household, onset uniform over [start, end), sorted by onset.

    ``rate_per_year`` is the chance per household-year (scaled by tier: high-risk twice).
    """
    rng = random.Random(f"crises:{seed}")
    span = (end - start).total_seconds()
    years = span / (365 * 86400)
    crises = []
    for profile in population:
        chance = rate_per_year * years * TIER_RISK[profile.tier]
        if rng.random() >= chance:
            continue
        kind = rng.choices([k for k, _ in CRISIS_WEIGHTS], weights=[w for _, w in CRISIS_WEIGHTS])[
            0
        ]
        onset = start + timedelta(seconds=rng.uniform(0, span))
        crises.append(make_crisis(rng, profile, kind, onset))
    crises.sort(key=lambda c: (c.onset, c.household_id))
    return crises


def demo_crises(
    seed: int | str, population: Sequence[HouseholdProfile], start: datetime
) -> list[Crisis]:
    """A scripted few for the `make run` demo, so that a newcomer sees every path in minutes.

    An SOS after a fall (emergency protocol at once), a death in a household watched by
    phone and twice-daily calls (the day-1/day-2 protocol after the phone window), an acute
    illness answered with concern, and a neighbour's report.
    """
    rng = random.Random(f"demo:{seed}")
    by_twice = [p for p in population if p.calls is CallCadence.TWICE_DAILY]
    others = [p for p in population if p.calls is not CallCadence.TWICE_DAILY]
    crises: list[Crisis] = []
    if by_twice:
        death = make_crisis(rng, by_twice[0], CrisisKind.DEATH, start + timedelta(minutes=40))
        crises.append(death)
    if len(by_twice) > 1:
        illness = make_crisis(
            rng, by_twice[1], CrisisKind.ACUTE_ILLNESS, start + timedelta(hours=2)
        )
        crises.append(illness)
    if others:
        fall = make_crisis(rng, others[0], CrisisKind.FALL, start + timedelta(minutes=20))
        fall = replace(fall, sos_at=start + timedelta(minutes=25))
        crises.append(fall)
    if len(others) > 1:
        financial = make_crisis(
            rng, others[1], CrisisKind.FINANCIAL_COLLAPSE, start - timedelta(days=70)
        )
        report = PlannedReport(
            start + timedelta(minutes=90), ReportCategory.FOOD_INSECURITY, ReporterRole.SHOP
        )
        crises.append(replace(financial, reports=(report,)))
    crises.sort(key=lambda c: (c.onset, c.household_id))
    return crises
