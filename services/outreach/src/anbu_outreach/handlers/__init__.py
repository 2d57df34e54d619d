"""Outreach's service layer: small functions that take a context, a session (one
transaction) and a command or event, decide with the pure domain, and stage what they
publish in the outbox of the same transaction."""

from .context import Context, Policy
from .tasks import NewTask, TaskNotFound, TaskStateError

__all__ = ["Context", "NewTask", "Policy", "TaskNotFound", "TaskStateError"]
