"""Domain → contract: the one place a ``notify.status.v1`` event is built."""

from __future__ import annotations

from anbu_contracts import NotificationStatusEvent

from ..domain.delivery import Notification, StatusChange

SOURCE = "notifier"


def status_event(notification: Notification, change: StatusChange) -> NotificationStatusEvent:
    """The status event for ``change`` of ``notification`` (caused by its request)."""
    return NotificationStatusEvent(
        occurred_at=change.at,
        produced_at=change.at,
        source=SOURCE,
        correlation_id=notification.correlation_id,
        causation_id=str(notification.event_id),
        request_id=notification.request_id,
        request_key=notification.request_key,
        status=change.status,
        channel=change.channel,
        attempt=change.attempt,
        reason=change.reason,
        provider_message_id=change.provider_message_id,
        household_id=notification.household_id,
    )
