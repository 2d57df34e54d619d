"""Outreach's service layer: escalation steps become tasks and messages; people act on tasks.

Each handler runs in one transaction and stages its events (task changes, outcomes,
notification requests) in the outbox in that same transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlmodel import Session, col, select

from anbu_contracts import (
    ContactMode,
    EscalationChange,
    EscalationEvent,
    HouseholdSnapshot,
    MonitoringItems,
    Need,
    NotificationRequest,
    NotifyAction,
    OutcomeEvent,
    OutcomeResult,
    RecipientKind,
    RecipientRef,
    Role,
    TaskAction,
    TaskEvent,
    TaskStatus,
    TaskType,
    Urgency,
    WorkerSnapshot,
)
from anbu_contracts.topics import NOTIFY_REQUEST, OUTREACH_OUTCOME, OUTREACH_TASK
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import Outbox

from .adapters.orm import HouseholdCacheRow, OutcomeRow, TaskRow, WorkerCacheRow
from .domain.assignment import HouseholdContext, assign_team

log = get_logger(__name__)
SOURCE = "outreach"
OPEN_STATUSES = (TaskStatus.OFFERED.value, TaskStatus.ACCEPTED.value, TaskStatus.STARTED.value)
VISIT_TYPES = frozenset(
    {
        TaskType.HOME_VISIT,
        TaskType.VISIT_STICKER,
        TaskType.DOOR_OPENING,
        TaskType.EMERGENCY_RESPONSE,
        TaskType.INVESTIGATION,
    }
)


class TaskNotFound(LookupError):
    pass


class TaskStateError(ValueError):
    """The task is not in a state that allows this (for example accepting a cancelled task)."""


@dataclass
class Outreach:
    outbox: Outbox
    clock: Clock
    public_url: str

    # -- caches --------------------------------------------------------------------

    def on_snapshots(self, session: Session, events: list[BaseModel]) -> None:
        for event in events:
            if isinstance(event, WorkerSnapshot):
                self.on_worker(session, event)
            elif isinstance(event, HouseholdSnapshot):
                self.on_household(session, event)
            # tombstones: a deleted household or worker keeps its last cached state until
            # the registry's deletion workflow exists

    def on_worker(self, session: Session, worker: WorkerSnapshot) -> None:
        row = session.get(WorkerCacheRow, worker.worker_id)
        if row is not None and row.revision >= worker.revision:
            return
        data = worker.model_dump(mode="json")
        if row is None:
            row = WorkerCacheRow(
                worker_id=worker.worker_id, revision=worker.revision, snapshot=data
            )
        else:
            row.revision, row.snapshot = worker.revision, data
        session.add(row)

    def on_household(self, session: Session, household: HouseholdSnapshot) -> None:
        row = session.get(HouseholdCacheRow, household.household_id)
        if row is not None and row.revision >= household.revision:
            return
        row = row or HouseholdCacheRow(
            household_id=household.household_id, revision=0, dong_code=household.dong_code
        )
        row.revision = household.revision
        row.dong_code = household.dong_code
        row.responsible_worker_id = household.responsible_worker_id
        row.matched_volunteer_id = household.matched_volunteer_id
        row.violence_risk = household.violence_risk
        row.locale = household.locale.value
        session.add(row)

    def knows_household(self, session: Session, household_id: str) -> bool:
        return session.get(HouseholdCacheRow, household_id) is not None

    # -- escalations ---------------------------------------------------------------

    def on_escalation(self, session: Session, event: EscalationEvent) -> None:
        if event.change is EscalationChange.CLOSED:
            self._cancel_for_escalation(session, event)
            return
        if event.change is not EscalationChange.STEP_EXECUTED or event.step is None:
            return
        for action in event.step.actions:
            origin = f"{event.escalation_id}:{event.step.step_id}:{action.action_id}"
            if isinstance(action, TaskAction):
                self._create_task(session, event, action, origin)
            elif isinstance(action, NotifyAction):
                self._request_notification(
                    session,
                    origin,
                    action.recipient,
                    action.template,
                    action.urgency,
                    {**action.variables, "household_id": event.household_id},
                    event,
                )
            # Log actions are written to the consultation log by the registry.

    def _create_task(
        self, session: Session, event: EscalationEvent, action: TaskAction, origin: str
    ) -> None:
        if session.exec(select(TaskRow).where(TaskRow.origin_key == origin)).first():
            return  # the step was delivered again: the task exists already
        now = self.clock.now()
        household = self._household(session, event.household_id)
        roster = self._roster(session)
        assignees = assign_team(
            action.team,
            household,
            roster,
            self._open_loads(session),
            visit=action.task_type in VISIT_TYPES,
        )
        task = TaskRow(
            task_id=uuid4(),
            origin_key=origin,
            household_id=event.household_id,
            dong_code=household.dong_code,
            task_type=action.task_type.value,
            team=[r.value for r in action.team],
            deadline=action.deadline,
            status=TaskStatus.OFFERED.value if assignees else TaskStatus.UNASSIGNED.value,
            assignees=assignees or [],
            escalation_id=event.escalation_id,
            step_id=event.step.step_id if event.step else None,
            action_id=action.action_id,
            reason=None if assignees else "no eligible worker: handed to the duty officer",
            correlation_id=event.correlation_id,
            created_at=now,
            updated_at=now,
        )
        session.add(task)
        session.flush()
        self._emit_task(session, task, str(event.event_id))
        if assignees:
            for worker_id in assignees:
                self._offer_notification(session, task, worker_id, event)
            log.info("task offered", task_id=str(task.task_id), assignees=assignees)
        else:
            self._request_notification(
                session,
                f"{origin}:unassigned",
                RecipientRef(kind=RecipientKind.DUTY_OFFICER, household_id=task.household_id),
                "task.unassigned",
                Urgency.HIGH,
                self._task_variables(task),
                event,
            )
            log.warning("task unassigned; duty officer notified", task_id=str(task.task_id))

    def _cancel_for_escalation(self, session: Session, event: EscalationEvent) -> None:
        now = self.clock.now()
        rows = session.exec(
            select(TaskRow).where(
                TaskRow.escalation_id == event.escalation_id,
                col(TaskRow.status).in_((*OPEN_STATUSES, TaskStatus.UNASSIGNED.value)),
            )
        ).all()
        for task in rows:
            task.status = TaskStatus.CANCELLED.value
            task.reason = f"protocol closed: {event.closure.value if event.closure else 'closed'}"
            task.updated_at = now
            session.add(task)
            self._emit_task(session, task, str(event.event_id))

    # -- people act on tasks -------------------------------------------------------

    def tasks_for(self, session: Session, worker_id: str) -> list[TaskRow]:
        rows = session.exec(
            select(TaskRow)
            .where(col(TaskRow.status).in_(OPEN_STATUSES))
            .order_by(col(TaskRow.deadline))
        ).all()
        return [t for t in rows if worker_id in t.assignees]

    def task(self, session: Session, task_id: UUID) -> TaskRow:
        task = session.get(TaskRow, task_id)
        if task is None:
            raise TaskNotFound(f"task {task_id} not found")
        return task

    def accept(self, session: Session, task_id: UUID, worker_id: str) -> TaskRow:
        task = self.task(session, task_id)
        if worker_id not in task.assignees:
            raise TaskStateError(f"task {task_id} is not offered to {worker_id}")
        if task.status not in (TaskStatus.OFFERED.value, TaskStatus.ACCEPTED.value):
            raise TaskStateError(f"task {task_id} is {task.status} and cannot be accepted")
        if worker_id in task.accepted_by:
            return task
        task.accepted_by = [*task.accepted_by, worker_id]
        task.status = TaskStatus.ACCEPTED.value
        task.updated_at = self.clock.now()
        session.add(task)
        self._emit_task(session, task, None)
        return task

    def record_outcome(
        self,
        session: Session,
        task_id: UUID,
        worker_id: str,
        result: OutcomeResult,
        contact_mode: ContactMode,
        monitoring: MonitoringItems,
        needs: list[Need],
        follow_up: bool,
        note: str | None,
    ) -> OutcomeEvent:
        task = self.task(session, task_id)
        if worker_id not in task.assignees:
            raise TaskStateError(f"task {task_id} is not assigned to {worker_id}")
        if task.status not in OPEN_STATUSES:
            raise TaskStateError(f"task {task_id} is {task.status}; no outcome can be recorded")
        now = self.clock.now()
        outcome_id = uuid4()
        session.add(
            OutcomeRow(
                outcome_id=outcome_id,
                task_id=task.task_id,
                household_id=task.household_id,
                result=result.value,
                recorded_by=worker_id,
                note=note,
                recorded_at=now,
            )
        )
        task.status = TaskStatus.COMPLETED.value
        task.updated_at = now
        session.add(task)
        self._emit_task(session, task, None)
        outcome = OutcomeEvent(
            occurred_at=now,
            produced_at=now,
            source=SOURCE,
            correlation_id=task.correlation_id,
            causation_id=str(task.task_id),
            outcome_id=outcome_id,
            household_id=task.household_id,
            result=result,
            contact_mode=contact_mode,
            recorded_by=worker_id,
            task_id=task.task_id,
            escalation_id=task.escalation_id,
            monitoring=monitoring,
            needs=needs,
            follow_up=follow_up,
            note_ref=str(outcome_id) if note else None,
            contacted_at=now,
        )
        self.outbox.add(session, OUTREACH_OUTCOME, outcome)
        log.info("outcome recorded", task_id=str(task.task_id), result=result.value)
        return outcome

    # -- helpers -------------------------------------------------------------------

    def _household(self, session: Session, household_id: str) -> HouseholdContext:
        row = session.get(HouseholdCacheRow, household_id)
        if row is None:
            return HouseholdContext(household_id=household_id, dong_code=None)
        return HouseholdContext(
            household_id=household_id,
            dong_code=row.dong_code,
            responsible_worker_id=row.responsible_worker_id,
            matched_volunteer_id=row.matched_volunteer_id,
            violence_risk=row.violence_risk,
        )

    def _roster(self, session: Session) -> list[WorkerSnapshot]:
        return [
            WorkerSnapshot.model_validate(r.snapshot)
            for r in session.exec(select(WorkerCacheRow)).all()
        ]

    def _open_loads(self, session: Session) -> Counter[str]:
        loads: Counter[str] = Counter()
        for assignees in session.exec(
            select(TaskRow.assignees).where(col(TaskRow.status).in_(OPEN_STATUSES))
        ).all():
            loads.update(assignees)
        return loads

    def _task_variables(self, task: TaskRow) -> dict[str, str]:
        return {
            "task_id": str(task.task_id),
            "task_type": task.task_type,
            "deadline": task.deadline.isoformat(),
            "household_id": task.household_id,
            "link": f"{self.public_url}/app/tasks/{task.task_id}",
        }

    def _offer_notification(
        self, session: Session, task: TaskRow, worker_id: str, cause: EscalationEvent
    ) -> None:
        self._request_notification(
            session,
            f"task:{task.task_id}:offer:{worker_id}",
            RecipientRef(kind=RecipientKind.STAFF, ref=worker_id),
            "task.offered",
            Urgency.HIGH,
            self._task_variables(task),
            cause,
        )

    def _request_notification(
        self,
        session: Session,
        key: str,
        recipient: RecipientRef,
        template: str,
        urgency: Urgency,
        variables: dict[str, str],
        cause: EscalationEvent,
    ) -> None:
        now = self.clock.now()
        self.outbox.add(
            session,
            NOTIFY_REQUEST,
            NotificationRequest(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=cause.correlation_id,
                causation_id=str(cause.event_id),
                request_id=uuid4(),
                request_key=key,
                recipient=recipient,
                template=template,
                urgency=urgency,
                variables=variables,
                household_id=cause.household_id,
            ),
        )

    def _emit_task(self, session: Session, task: TaskRow, causation: str | None) -> None:
        now = self.clock.now()
        self.outbox.add(
            session,
            OUTREACH_TASK,
            TaskEvent(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=task.correlation_id,
                causation_id=causation,
                task_id=task.task_id,
                household_id=task.household_id,
                dong_code=task.dong_code,
                task_type=TaskType(task.task_type),
                team=[Role(r) for r in task.team],
                deadline=task.deadline,
                status=TaskStatus(task.status),
                assignees=task.assignees,
                escalation_id=task.escalation_id,
                step_id=task.step_id,
                action_id=task.action_id,
                reason=task.reason,
            ),
        )
