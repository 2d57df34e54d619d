"""What a detector handler works with inside one unit of work (``uow.repos``).

Handlers are ``on_x(msg, uow)`` functions; besides the detector's tables (the
:class:`Repository` methods) they need the rules and protocols in force, the in-memory
index of channel clocks and the partition of the record being handled. The bundle carries
them, plus what the unit collects for after the commit: protocol timers to set or clear
and signals for households the registry never announced.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlmodel import Session

from anbu_runtime.uow import UnitOfWork

from ..adapters.orm import HouseholdRow
from ..adapters.repository import Repository
from ..domain.monitor import Monitor
from ..domain.protocols import ProtocolSpec
from ..domain.rules import RuleCatalog, RuleSet


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

    def rules_for(self, household: HouseholdRow | None) -> RuleSet:
        catalog = self.setup.catalog
        if household is None:
            return catalog.default
        return catalog.for_household(household.programme, household.rule_overrides)

    def set_timer(self, escalation_id: UUID, partition: int, due: datetime | None) -> None:
        self.timers[escalation_id] = (partition, due)


Uow = UnitOfWork[Stores]
