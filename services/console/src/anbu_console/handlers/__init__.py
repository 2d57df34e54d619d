"""Fold events into the console's read model: one handler per contract type.

Every projection is idempotent and keeps the newest state of its entity: an event older
than what is stored (a redelivered duplicate, a replay) changes nothing; first-seen and
first-done instants are kept as minimums; timeline entries are keyed by event id. So the
read model can be dropped and rebuilt by replaying the topics from the beginning, and the
rebuilt figures equal the original ones, whatever the interleaving of partitions.

The live consumer and the replay both fold a batch with :func:`project_batch` inside one
unit of work (``runtime.transactions(ReadModel)``; no inbox: idempotent projections need
none). Adding an event kind the console shows is one ``on_x`` function and one entry in
:data:`HANDLERS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

from pydantic import BaseModel

from anbu_contracts import (
    AlertEvent,
    CaseEvent,
    EscalationEvent,
    HouseholdSnapshot,
    JobProgress,
    NotificationStatusEvent,
    OutcomeEvent,
    Signal,
    TaskEvent,
)
from anbu_runtime.uow import HandlerTable, Transactions

from ..adapters.repository import ReadModel
from ..domain.changes import Change
from .cases import on_case
from .common import Uow
from .detector import on_alert, on_escalation
from .households import on_household
from .jobs import on_job
from .outreach import on_notification, on_outcome, on_task
from .partner_feeds import fold_signals, on_signal

HANDLERS: HandlerTable[ReadModel] = HandlerTable(
    {
        HouseholdSnapshot: on_household,
        AlertEvent: on_alert,
        EscalationEvent: on_escalation,
        TaskEvent: on_task,
        OutcomeEvent: on_outcome,
        NotificationStatusEvent: on_notification,
        CaseEvent: on_case,
        JobProgress: on_job,
        Signal: on_signal,  # every signal kind: the table finds the nearest base
    }
)


def project_batch(uow: Uow, events: Iterable[BaseModel]) -> list[Change]:
    """Fold a batch of events (any order, duplicates allowed) in ``uow``'s transaction.

    Signals are set aside and folded together at the end (one feed update per partner and
    kind); every other event goes through :data:`HANDLERS`, once per event id.
    """
    changes: list[Change] = []
    signals: list[Signal] = []
    seen: set[UUID] = set()
    for event in events:
        if isinstance(event, Signal):  # batched, not dispatched: see fold_signals
            signals.append(event)
            continue
        event_id = getattr(event, "event_id", None)
        if event_id is not None:
            if event_id in seen:
                continue
            seen.add(event_id)
        change = HANDLERS.dispatch(event, uow)
        if change is not None:
            changes.append(change)
    if signals:
        fold_signals(uow, signals)
    return changes


async def fold(tx: Transactions[ReadModel], events: list[BaseModel]) -> list[Change]:
    """Fold one batch in one unit of work; the changes to announce."""
    return await tx.run(lambda uow: project_batch(uow, events))


def stamp(event: BaseModel, timestamp_ms: int | None) -> BaseModel:
    """Give a signal that came without ``produced_at`` its record's timestamp.

    A partner may omit ``produced_at``; the contract then fills in the decoding instant,
    which differs on every replay. The record's own timestamp does not, so the partner
    feeds rebuild to the same values.
    """
    if (
        isinstance(event, Signal)
        and timestamp_ms is not None
        and "produced_at" not in event.model_fields_set
    ):
        received = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
        return event.model_copy(update={"produced_at": received})
    return event


__all__ = ["HANDLERS", "Change", "fold", "project_batch", "stamp"]
