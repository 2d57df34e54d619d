"""Outreach's service layer: small functions ``fn(uow, ...)`` that run inside the runtime's
unit of work (``uow.repos`` is :class:`..adapters.repository.OutreachRepository`), decide
with the pure domain, and stage what they publish with ``uow.publish`` (the outbox of the
same transaction). Handler tables: ``caches.SNAPSHOTS`` and ``escalations.ESCALATIONS``."""

from .context import Context, Policy
from .tasks import NewTask, TaskNotFound, TaskStateError

__all__ = ["Context", "NewTask", "Policy", "TaskNotFound", "TaskStateError"]
