"""Routine contact cycles per monitoring tier (domain brief §4), pure.

| tier | cycle |
|---|---|
| high_risk | a visit or call every week, and an in-person visit every month |
| caution | a visit or call every month |
| watch | a visit or call every two months |
| closed | an in-person visit every six months |

A cycle is due one period after the last contact that satisfies it (any contact made for
any reason counts: a protocol visit as much as a routine call; only an in-person visit
satisfies a visit cycle), or one period after the household was enrolled when no contact
is on record. A routine task opens ``lead`` before the due date (a quarter of the period,
at least two days) and is overdue from the due date on. Months are calendar months in the
household's local time.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from anbu_contracts import ContactMode, HouseholdStatus, OutcomeResult, Role, Tier

from .availability import zone


class CycleKind(StrEnum):
    CONTACT = "contact"  # a visit or a call
    VISIT = "visit"  # in person


@dataclass(frozen=True)
class Period:
    days: int = 0
    months: int = 0

    def after(self, instant: datetime, tz: str) -> datetime:
        """``instant`` plus this period, months in calendar months of local time."""
        if self.months:
            local = instant.astimezone(zone(tz))
            month0 = local.month - 1 + self.months
            year, month = local.year + month0 // 12, month0 % 12 + 1
            day = min(local.day, calendar.monthrange(year, month)[1])
            instant = local.replace(year=year, month=month, day=day).astimezone(instant.tzinfo)
        return instant + timedelta(days=self.days)

    @property
    def approx_days(self) -> float:
        return self.days + self.months * 30.44


CYCLES: dict[Tier, dict[CycleKind, Period]] = {
    Tier.HIGH_RISK: {CycleKind.CONTACT: Period(days=7), CycleKind.VISIT: Period(months=1)},
    Tier.CAUTION: {CycleKind.CONTACT: Period(months=1)},
    Tier.WATCH: {CycleKind.CONTACT: Period(months=2)},
    Tier.CLOSED: {CycleKind.VISIT: Period(months=6)},
}
# A contact was made when the person was reached, whatever they said.
REACHED = frozenset({OutcomeResult.CONTACT_CONFIRMED, OutcomeResult.REFUSED, OutcomeResult.NO_NEED})


class CycleState(StrEnum):
    OK = "ok"
    DUE = "due"  # the routine task window is open
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Due:
    kind: CycleKind
    opens_at: datetime
    due_at: datetime

    def state(self, now: datetime) -> CycleState:
        if now >= self.due_at:
            return CycleState.OVERDUE
        if now >= self.opens_at:
            return CycleState.DUE
        return CycleState.OK

    def period_key(self, tz: str) -> str:
        """Names the cycle period (its local due date): one routine task per period."""
        return self.due_at.astimezone(zone(tz)).date().isoformat()


def lead(period: Period) -> timedelta:
    return timedelta(days=max(2, round(period.approx_days / 4)))


def made_contact(result: OutcomeResult) -> bool:
    return result in REACHED


def counts_as_visit(result: OutcomeResult, mode: ContactMode) -> bool:
    return made_contact(result) and mode is ContactMode.VISIT


@dataclass(frozen=True)
class ContactHistory:
    enrolled_at: datetime
    last_contact_at: datetime | None = None
    last_visit_at: datetime | None = None


def cycles_due(
    tier: Tier, status: HouseholdStatus, history: ContactHistory, tz: str
) -> dict[CycleKind, Due]:
    """When each of the household's cycles falls due (none for an inactive household)."""
    if status is not HouseholdStatus.ACTIVE:
        return {}
    due: dict[CycleKind, Due] = {}
    for kind, period in CYCLES[tier].items():
        last = history.last_visit_at if kind is CycleKind.VISIT else history.last_contact_at
        if kind is CycleKind.CONTACT and history.last_visit_at is not None:
            last = max(last or history.last_visit_at, history.last_visit_at)
        at = period.after(last or history.enrolled_at, tz)
        due[kind] = Due(kind, at - lead(period), at)
    return due


def routine_team(kind: CycleKind, matched_volunteer: bool) -> list[Role]:
    """Who makes a routine contact: the matched volunteer (일촌맺기) calls or visits when
    the household has one; an in-person visit cycle is the official's."""
    if kind is CycleKind.CONTACT and matched_volunteer:
        return [Role.VOLUNTEER]
    return [Role.OFFICIAL]
