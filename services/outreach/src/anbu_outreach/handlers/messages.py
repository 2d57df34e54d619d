"""What outreach tells the world after a task changes, and to whom: task changes on
``outreach.task.v1`` and notification requests on ``notify.request.v1``.

Events are built by :mod:`..adapters.events` and handed to a :data:`Stage`: the unit of
work's ``uow.publish`` (the outbox of its transaction, one row at a time), or a
:class:`Staged` collection a batch writes with one statement per topic. Variables carry
ids, codes, times and links only: never a name, number or address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel

from anbu_contracts import RecipientKind, RecipientRef, TaskStatus, Urgency
from anbu_contracts.topics import NOTIFY_REQUEST, OUTREACH_TASK, Topic

from ..adapters import events
from ..adapters.orm import AnyTask
from ..adapters.repository import Uow
from ..domain.offers import Offer, TaskAssignment

Stage = Callable[[Topic, BaseModel], None]


class Staged:
    """A batch's events, kept in order per topic and written with one statement per topic
    (COPY on PostgreSQL) instead of one INSERT per event."""

    def __init__(self) -> None:
        self._topics: dict[str, Topic] = {}
        self._events: dict[str, list[BaseModel]] = {}

    def __call__(self, topic: Topic, event: BaseModel) -> None:
        self._topics.setdefault(topic.name, topic)
        self._events.setdefault(topic.name, []).append(event)

    def flush(self, uow: Uow) -> int:
        staged = 0
        for name, batch in self._events.items():
            uow.publish_many(self._topics[name], batch)
            staged += len(batch)
        self._events.clear()
        return staged


def emit_task(
    uow: Uow,
    stage: Stage,
    task: AnyTask,
    assignment: TaskAssignment,
    causation: str | None,
    status: TaskStatus | None = None,
) -> None:
    """Publish the task's state after a change (``status`` overrides it for a transitional
    event such as ``declined``)."""
    stage(OUTREACH_TASK, events.task_event(task, assignment, uow.now, causation, status))


def request(uow: Uow, stage: Stage, **fields: Any) -> None:
    """Stage a notification request (``fields``: those of
    :func:`..adapters.events.notification_request`)."""
    stage(NOTIFY_REQUEST, events.notification_request(uow.now, **fields))


def task_variables(uow: Uow, task: AnyTask) -> dict[str, str]:
    variables = {
        "task_id": str(task.task_id),
        "task_type": task.task_type,
        "deadline": task.deadline.isoformat(),
        "household_id": task.household_id,
        "link": uow.repos.ctx.task_link(task.task_id),
    }
    if task.dong_code:
        variables["dong_code"] = task.dong_code
    if task.step_id:
        variables["step"] = task.step_id
    return variables


def offers_made(
    uow: Uow, stage: Stage, task: AnyTask, offers: Iterable[Offer], causation: str | None
) -> None:
    """Each person offered a slot gets ``task.offered`` with a link to the task page."""
    for offer in offers:
        request(
            uow,
            stage,
            key=f"task:{task.task_id}:offer:{offer.worker_id}",
            recipient=RecipientRef(kind=RecipientKind.STAFF, ref=offer.worker_id),
            template="task.offered",
            urgency=Urgency(task.urgency),
            variables=task_variables(uow, task),
            household_id=task.household_id,
            correlation_id=task.correlation_id,
            causation_id=causation,
        )


def handed_to_duty_officer(uow: Uow, stage: Stage, task: AnyTask, causation: str | None) -> None:
    """A slot nobody can take: the duty officer gets ``task.unassigned`` (once per vacancy)."""
    task.vacancies_reported += 1
    request(
        uow,
        stage,
        key=f"task:{task.task_id}:unassigned:{task.vacancies_reported}",
        recipient=RecipientRef(kind=RecipientKind.DUTY_OFFICER, household_id=task.household_id),
        template="task.unassigned",
        urgency=Urgency.CRITICAL if task.urgency == Urgency.CRITICAL else Urgency.HIGH,
        variables=task_variables(uow, task),
        household_id=task.household_id,
        correlation_id=task.correlation_id,
        causation_id=causation,
    )
