"""What a detector handler works with inside one unit of work (``uow.repos``).

Handlers are ``on_x(msg, uow)`` functions; besides the detector's tables (the
:class:`Repository` methods) they need the rules and protocols in force, the in-memory
index of channel clocks and the partition of the record being handled. The bundle carries
them, plus what the unit collects for after the commit: protocol timers to set or clear
signals for households the registry never announced, and what it did for the log.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlmodel import Session

from anbu_runtime.logs import get_logger
from anbu_runtime.uow import UnitOfWork

from ..adapters.orm import HouseholdRow
from ..adapters.repository import Repository
from ..domain.monitor import Monitor
from ..domain.protocols import ProtocolSpec
from ..domain.rules import RuleCatalog, RuleSet

log = get_logger(__name__)
_stdlib = logging.getLogger(__name__)  # its level decides (``configure_logging``)
NAMED = 20  # alerts a summary line names one by one (a lane's SOS; not a storm's thousands)


@dataclass
class Tally:
    """What a unit of work opened and ran, logged as one line each after its commit.

    A line per alert and per step (with the PII scrub on each) was 20 % of an alert
    storm's worker thread (py-spy); those lines are DEBUG now. The alerts and steps
    themselves are in the detector's tables and its events (the audit trail)."""

    alerts: list[tuple[UUID, str, str, str, str]] = field(default_factory=list)
    steps: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def alert_opened(
        self, alert_id: UUID, household_id: str, reason: str, severity: str, rule: str
    ) -> None:
        self.alerts.append((alert_id, household_id, reason, severity, rule))
        if _stdlib.isEnabledFor(logging.DEBUG):
            log.debug(
                "alert opened",
                alert_id=str(alert_id),
                household_id=household_id,
                reason=reason,
                severity=severity,
                rule=rule,
            )

    def step(self, escalation_id: UUID, protocol_id: str, step_id: str, state: str) -> None:
        self.steps[(protocol_id, step_id, state)] += 1
        if _stdlib.isEnabledFor(logging.DEBUG):
            log.debug(
                "protocol step",
                escalation_id=str(escalation_id),
                protocol_id=protocol_id,
                step_id=step_id,
                state=state,
            )

    def __bool__(self) -> bool:
        return bool(self.alerts or self.steps)

    def log(self) -> None:
        """The unit's lines (after its commit: nothing is logged for a rolled-back unit)."""
        if self.alerts:
            named = self.alerts if len(self.alerts) <= NAMED else []
            log.info(
                "alerts opened",
                count=len(self.alerts),
                by_reason=dict(Counter(f"{r}/{s}/{rule}" for _, _, r, s, rule in self.alerts)),
                alerts=[{"alert_id": str(a), "household_id": h} for a, h, *_ in named],
            )
        if self.steps:
            log.info(
                "protocol steps",
                count=sum(self.steps.values()),
                by_step={"/".join(key): n for key, n in self.steps.items()},
            )


@dataclass(frozen=True)
class Setup:
    """The detector's configuration and in-memory state, shared by every unit of work."""

    catalog: RuleCatalog
    protocols: dict[str, ProtocolSpec]
    monitor: Monitor
    instance: str


class Stores(Repository):
    """The repository over this unit's session, with the setup and what the unit collects."""

    def __init__(self, session: Session, setup: Setup) -> None:
        super().__init__(session)
        self.setup = setup
        self.protocols = setup.protocols
        self.monitor = setup.monitor
        self.instance = setup.instance
        self.partition = 0  # of the record being handled (set by the batch loop)
        # escalation → (partition, when its next step is due; None clears the timer)
        self.timers: dict[UUID, tuple[int, datetime | None]] = {}
        self.unknown: dict[str, Counter[str]] = defaultdict(Counter)
        self.tally = Tally()

    def rules_for(self, household: HouseholdRow | None) -> RuleSet:
        catalog = self.setup.catalog
        if household is None:
            return catalog.default
        return catalog.for_household(household.programme, household.rule_overrides)

    def set_timer(self, escalation_id: UUID, partition: int, due: datetime | None) -> None:
        self.timers[escalation_id] = (partition, due)


Uow = UnitOfWork[Stores]
