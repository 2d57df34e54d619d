"""Alerts: publishing their changes and resolving them."""

from __future__ import annotations

from pydantic import BaseModel

from anbu_contracts import AlertChange, AlertResolution, AlertStatus
from anbu_contracts.topics import DETECTOR_ALERT, Topic

from ..adapters.events import alert_event
from ..domain import alerts
from ..domain.alerts import Alert
from .unit import Uow


def emit(uow: Uow, topic: Topic, event: BaseModel) -> None:
    """Stage an event: with the batch's set-based writes when it has them (every event of
    the unit then, so the outbox keeps their order), else in the outbox at once."""
    staged = uow.repos.staged
    if staged is None:
        uow.publish(topic, event)
    else:
        staged.publish(topic, event)


def publish(uow: Uow, alert: Alert, change: AlertChange, correlation: str, causation: str) -> None:
    emit(uow, DETECTOR_ALERT, alert_event(alert, change, uow.now, correlation, causation))


def resolve_alert(
    uow: Uow, alert: Alert, resolution: AlertResolution, correlation: str, causation: str
) -> None:
    if alert.status is not AlertStatus.OPEN:
        return
    resolved = alerts.resolve(alert, resolution, uow.now)
    uow.repos.save_alert(resolved)
    publish(uow, resolved, AlertChange.RESOLVED, correlation, causation)
