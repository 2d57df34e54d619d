"""Outreach's service layer for tasks, by use case (this module gathers their names):

- :mod:`.creation` — protocol steps and due contacts become tasks (one at a time or a
  whole batch at once),
- :mod:`.escalations` — what a protocol step asks of people, and its closure,
- :mod:`.answers` — people accept, decline, start and record outcomes,
- :mod:`.sweeps` — offers lapse, vacancies are retried, stale tasks expire,
- :mod:`.routine` — routine contacts,
- :mod:`.offering` — offering a task's vacant slots, announcing changes.

Each takes the unit of work first (``fn(uow, ...)``); callers run it with ``tx.run``.
"""

from ..adapters.repository import Loaded, TaskNotFound
from ..domain.offers import TaskStateError
from ..views import outcome_of, task_counts, tasks_for_worker, tasks_in_area
from .answers import accept, decline, offer_by_hand, record_outcome, start
from .creation import NewTask, create_task, create_tasks
from .escalations import (
    ESCALATIONS,
    cancel_for_escalation,
    on_escalation,
    on_escalations,
    protocol_notification,
)
from .routine import contact_made, is_routine_day, schedule_routine_contacts
from .sweeps import expire_stale, retry_vacancies, sweep_offers

__all__ = [
    "ESCALATIONS",
    "Loaded",
    "NewTask",
    "TaskNotFound",
    "TaskStateError",
    "accept",
    "cancel_for_escalation",
    "contact_made",
    "create_task",
    "create_tasks",
    "decline",
    "expire_stale",
    "is_routine_day",
    "offer_by_hand",
    "on_escalation",
    "on_escalations",
    "outcome_of",
    "protocol_notification",
    "record_outcome",
    "retry_vacancies",
    "schedule_routine_contacts",
    "start",
    "sweep_offers",
    "task_counts",
    "tasks_for_worker",
    "tasks_in_area",
]
