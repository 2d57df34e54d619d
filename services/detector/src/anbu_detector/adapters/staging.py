"""Set-based writes of a consumer batch: new alerts, escalations, steps and outbox rows.

An alert storm opens thousands of alerts at once, and opening one through the ORM was a
dozen statements and four flushes (~6 ms each). Within a batch's unit of work the
repository stages instead, for the households the batch *prefetched* and found *fresh* —
no open alert, no running escalation in the database (every other household goes through
the ORM as before) —: their new alerts, escalations and step executions are kept as rows
in memory, read back from here by the same repository methods, and written just before the
commit with one bulk insert per table (executemany; COPY on PostgreSQL), with the unit's
events in the outbox in the order they were staged. Since a fresh household has nothing
open in the database, what is staged is all there is to know about its alerts and running
response: the staged rows answer its questions exactly.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from anbu_contracts import AlertStatus, EscalationStatus
from anbu_contracts.topics import Topic
from anbu_runtime.db import bulk_insert
from anbu_runtime.outbox import install, outbox_row

from .orm import AlertRow, EscalationRow, HouseholdRow, RuleStateRow, StepExecutionRow, metadata

OUTBOX = install(metadata).outbox
T = TypeVar("T")
# Rule states a batch's prefetch marks absent when not stored (the ones read per signal).
RULES_PREFETCHED = ("arrears",)
CHUNK = 5000  # ids per IN (...) list


def prefetch(
    session: Session, households: set[str], rules: Iterable[str]
) -> tuple[list[Any], set[tuple[type[Any], Any]], set[str]]:
    """Load the households' rows and ``rules``' states into the session; returns the rows
    (the session's identity map holds them weakly: the caller keeps them), the keys found
    absent and the households with an open alert or a running escalation."""
    ids = sorted(households)
    loaded: list[Any] = []
    absent: set[tuple[type[Any], Any]] = set()
    busy: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = session.exec(
            select(HouseholdRow).where(col(HouseholdRow.household_id).in_(chunk))
        ).all()
        known = {row.household_id for row in found}
        absent.update((HouseholdRow, h) for h in chunk if h not in known)
        states = session.exec(
            select(RuleStateRow).where(col(RuleStateRow.household_id).in_(chunk))
        ).all()
        stored = {(row.household_id, row.rule) for row in states}
        for rule in rules:
            absent.update((RuleStateRow, (h, rule)) for h in chunk if (h, rule) not in stored)
        # By household only, the status compared here: with the status in the WHERE clause
        # SQLite chose the status index and read every open alert (100,000 open escalations:
        # most of a timer firing's time, py-spy).
        alerts = select(AlertRow.household_id, AlertRow.status).where(
            col(AlertRow.household_id).in_(chunk)
        )
        escalations = select(EscalationRow.household_id, EscalationRow.status).where(
            col(EscalationRow.household_id).in_(chunk)
        )
        busy.update(h for h, status in session.exec(alerts) if status == AlertStatus.OPEN.value)
        running = EscalationStatus.RUNNING.value
        busy.update(h for h, status in session.exec(escalations) if status == running)
        loaded += [*found, *states]
    return loaded, absent, busy


def staged_row(**values: Any) -> Any:
    """A staged row: its columns as attributes, as the ORM's row has them (building the
    ORM's row object cost more than the rest of opening an alert set-based)."""
    return SimpleNamespace(**values)


class StepConflict(IntegrityError):
    """A step staged twice for one escalation (what the primary key refuses in the table)."""

    def __init__(self, key: tuple[UUID, str]) -> None:
        super().__init__("step_execution", key, Exception("duplicate step execution"))


class Staged:
    """One unit's staged rows (``write`` is the unit's deferred write; see ``UnitOfWork``)."""

    def __init__(self, session: Session, fresh: set[str]) -> None:
        self.session = session
        self.fresh = fresh  # households answered from here
        self.alerts: dict[UUID, AlertRow] = {}
        self.escalations: dict[UUID, EscalationRow] = {}
        self.steps: dict[tuple[UUID, str], StepExecutionRow] = {}
        self.events: list[tuple[Topic, BaseModel]] = []
        # New rule states (of keys the prefetch found absent): an ORM row each was a fifth
        # of the storm's worker thread (building it, then its flush; py-spy).
        self.rule_states: dict[tuple[str, str], dict[str, Any]] = {}
        # by household / escalation, for the reads
        self._alerts: dict[str, dict[UUID, AlertRow]] = defaultdict(dict)
        self._escalations: dict[str, dict[UUID, EscalationRow]] = defaultdict(dict)
        self._steps: dict[UUID, list[StepExecutionRow]] = defaultdict(list)

    # -- reads ---------------------------------------------------------------------------

    def alerts_of(self, household_id: str) -> Iterable[AlertRow]:
        return self._alerts[household_id].values()

    def escalations_of(self, household_id: str) -> Iterable[EscalationRow]:
        return self._escalations[household_id].values()

    def steps_of(self, escalation_id: UUID) -> Iterable[StepExecutionRow]:
        return self._steps[escalation_id]

    # -- writes --------------------------------------------------------------------------

    def add_alert(self, row: AlertRow) -> None:
        self.alerts[row.alert_id] = self._alerts[row.household_id][row.alert_id] = row

    def add_escalation(self, row: EscalationRow) -> None:
        by_household = self._escalations[row.household_id]
        self.escalations[row.escalation_id] = by_household[row.escalation_id] = row

    def add_step(self, row: StepExecutionRow) -> None:
        key = (row.escalation_id, row.step_id)
        if key in self.steps:
            raise StepConflict(key)
        self.steps[key] = row
        self._steps[row.escalation_id].append(row)

    def publish(self, topic: Topic, event: BaseModel) -> None:
        self.events.append((topic, event))

    def write(self) -> int:
        """Insert what is staged (one statement per table) and forget it; the number of
        events staged in the outbox."""
        session = self.session
        tables: dict[str, Any] = {
            "alert": self.alerts,
            "escalation": self.escalations,
            "step_execution": self.steps,
        }
        for name, rows in tables.items():
            table = metadata.tables[name]
            names = [c.name for c in table.columns]
            # a staged row's attributes are its dict, read as it is (no copy per row)
            bulk_insert(session, table, [vars(r) for r in rows.values()], names)
        states = [
            {"household_id": h, "rule": rule, "state": state}
            for (h, rule), state in self.rule_states.items()
        ]
        bulk_insert(session, metadata.tables["rule_state"], states)
        now = datetime.now(UTC)
        bulk_insert(session, OUTBOX, [outbox_row(t, e, now) for t, e in self.events])
        written = len(self.events)
        self.alerts, self.escalations, self.steps, self.events = {}, {}, {}, []
        self.rule_states = {}
        self.fresh = set()
        return written


class Staging:
    """The repository's side of it: what a batch prefetched (rows, keys known absent) and
    what it staged; the repository's alert and escalation methods ask ``_fresh`` first."""

    session: Session

    def __init__(self, session: Session) -> None:
        self.staged: Staged | None = None
        self._absent: set[tuple[type[Any], Any]] = set()  # prefetched: no such row
        self._loaded: list[Any] = []  # prefetched rows, held for the session's identity map
        # escalation → its executed steps' actions, for those prefetched (``given_tasks``)
        self._actions: dict[UUID, list[Any]] = {}

    def prefetch(self, households: set[str]) -> Staged:
        """Load the batch's households' rows in a few statements and start staging.

        Their household and rule-state rows go into the session (read from there, not one
        query each; a key not found is remembered as absent); those with nothing open or
        running become *fresh*: their new alerts and escalations are staged (``staging.py``).
        """
        loaded, absent, busy = prefetch(self.session, households, RULES_PREFETCHED)
        self._loaded.extend(loaded)
        self._absent.update(absent)
        self.staged = Staged(self.session, households - busy)
        return self.staged

    def write_staged(self) -> int:
        """Write what the batch staged (the unit's last statements); events staged."""
        staged, self.staged = self.staged, None
        return staged.write() if staged is not None else 0

    def _get(self, table: type[T], key: Any) -> T | None:
        """``session.get``, but a row prefetched as absent costs no query."""
        if (table, key) in self._absent:
            return None
        return self.session.get(table, key)

    def _staged_rule_state(self, household_id: str, rule: str) -> dict[str, Any] | None:
        staged = self.staged
        return staged.rule_states.get((household_id, rule)) if staged is not None else None

    def _stage_rule_state(self, household_id: str, rule: str, state: dict[str, Any]) -> bool:
        """Stage a rule state the prefetch found absent (or staged before); False if the
        row is in the database (the ORM updates it)."""
        staged, key = self.staged, (household_id, rule)
        if staged is None or (
            key not in staged.rule_states and (RuleStateRow, key) not in self._absent
        ):
            return False
        staged.rule_states[key] = state
        return True

    def _fresh(self, household_id: str) -> Staged | None:
        staged = self.staged
        return staged if staged is not None and household_id in staged.fresh else None

    def _alert_row(self, alert_id: UUID) -> AlertRow | None:
        if self.staged is not None and alert_id in self.staged.alerts:
            return self.staged.alerts[alert_id]
        return self.session.get(AlertRow, alert_id)
