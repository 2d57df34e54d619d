"""What every outreach handler needs besides its unit of work: the roster, the policy, the
holidays and the clock (for the real-time floor of offer windows). It travels with the
repository bundle as ``uow.repos.ctx``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from anbu_runtime.clock import Clock

from ..adapters.events import SOURCE
from ..adapters.roster import Roster
from ..domain.availability import AvailabilityRules, HolidayCheck, korean_public_holidays
from ..domain.offers import OfferWindows

__all__ = ["SOURCE", "Context", "Policy"]


@dataclass(frozen=True)
class Policy:
    """Deployment choices (``ANBU_OUTREACH_*``; see bootstrap and docs/outreach.md)."""

    offer_window_urgent: timedelta = timedelta(minutes=15)
    offer_window_routine: timedelta = timedelta(hours=2)
    offer_min_real_seconds: float = 30.0
    task_expiry_grace: timedelta = timedelta(hours=24)
    vacancy_retry: timedelta = timedelta(minutes=15)
    rules: AvailabilityRules = field(default_factory=AvailabilityRules)
    public_url: str = "http://127.0.0.1:8704"
    console_url: str = "http://127.0.0.1:8700"
    timezone: str = "Asia/Seoul"


@dataclass
class Context:
    clock: Clock
    roster: Roster
    policy: Policy = field(default_factory=Policy)
    is_holiday: HolidayCheck = field(default_factory=korean_public_holidays)

    def now(self) -> datetime:
        return self.clock.now()

    def windows(self) -> OfferWindows:
        """Offer windows on the service clock, with the real-time floor converted to it."""
        real_per_hour = self.clock.real_seconds(timedelta(hours=1))
        minimum = (
            timedelta(seconds=self.policy.offer_min_real_seconds * 3600 / real_per_hour)
            if real_per_hour > 0
            else timedelta(0)  # a manual clock (tests): no real time passes
        )
        return OfferWindows(
            urgent=self.policy.offer_window_urgent,
            routine=self.policy.offer_window_routine,
            minimum=minimum,
        )

    def task_link(self, task_id: object) -> str:
        return f"{self.policy.public_url.rstrip('/')}/app/tasks/{task_id}"

    def escalation_link(self, escalation_id: object) -> str:
        return f"{self.policy.console_url.rstrip('/')}/escalations/{escalation_id}"
