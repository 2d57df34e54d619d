"""Accepting requests: each request key once, a whole consumer batch in one transaction.

A request whose key is on file changes nothing (a redelivery, or a producer's retry); a
request that violates the contract is recorded ``failed`` (so its producer hears of it)
and dead-lettered by the consumer; a corrected replay of a rejected request may reuse the
key, since nothing was sent for it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from anbu_contracts import DeliveryStatus, NotificationRequest, Urgency
from anbu_runtime.uow import HandlerTable

from .. import metrics
from ..adapters.repository import NotifierRepository
from ..domain.delivery import Notification
from .batching import Uow, publish_changes

PRIORITY = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.ROUTINE: 2}


class AcceptRequests(BaseModel):
    """Requests to accept (in consumption order) and the ones admission refused."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    requests: list[NotificationRequest]
    rejections: list[tuple[NotificationRequest, str]] = []


HANDLERS: HandlerTable[NotifierRepository] = HandlerTable()


def new_notification(
    request: NotificationRequest, status: DeliveryStatus, now: datetime
) -> Notification:
    return Notification(
        request_key=request.request_key,
        request_id=request.request_id,
        event_id=request.event_id,
        household_id=request.household_id,
        template=request.template,
        urgency=request.urgency.value,
        priority=PRIORITY[request.urgency],
        status=status,
        request=request.model_dump_json(),
        correlation_id=request.correlation_id,
        created_at=now,
        updated_at=now,
    )


@HANDLERS.register(AcceptRequests)
def on_accept(command: AcceptRequests, uow: Uow) -> list[bool]:
    """Store each new request and report it queued; False for a key seen before."""
    keys = [r.request_key for r in command.requests]
    on_file = uow.repos.known([*keys, *(r.request_key for r, _ in command.rejections)])
    uow.repos.forget([k for k in set(keys) if on_file.get(k)])  # rejected before: replayable
    taken = {k for k, rejected in on_file.items() if not rejected}
    fresh: list[bool] = []
    for request in command.requests:
        if request.request_key in taken:
            fresh.append(False)
            continue
        taken.add(request.request_key)
        notification = new_notification(request, DeliveryStatus.QUEUED, uow.now)
        notification.next_at = uow.now
        notification.report(DeliveryStatus.QUEUED, uow.now)
        uow.repos.add(notification)
        fresh.append(True)
    for request, reason in command.rejections:
        if request.request_key in on_file or request.request_key in taken:
            continue  # the key was used before; that request stands
        taken.add(request.request_key)
        notification = new_notification(request, DeliveryStatus.FAILED, uow.now)
        notification.rejected = True
        notification.reason = f"rejected: {reason}"[:512]
        notification.report(DeliveryStatus.FAILED, uow.now, notification.reason)
        uow.repos.add(notification)
    publish_changes(uow)
    for accepted in fresh:
        metrics.REQUESTS.labels(DeliveryStatus.QUEUED.value if accepted else "duplicate").inc()
    return fresh
