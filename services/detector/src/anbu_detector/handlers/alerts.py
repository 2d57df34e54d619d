"""Alerts: publishing their changes and resolving them."""

from __future__ import annotations

from anbu_contracts import AlertChange, AlertResolution, AlertStatus
from anbu_contracts.topics import DETECTOR_ALERT

from ..adapters.events import alert_event
from ..domain import alerts
from ..domain.alerts import Alert
from .unit import Uow


def publish(uow: Uow, alert: Alert, change: AlertChange, correlation: str, causation: str) -> None:
    uow.publish(DETECTOR_ALERT, alert_event(alert, change, uow.now, correlation, causation))


def resolve_alert(
    uow: Uow, alert: Alert, resolution: AlertResolution, correlation: str, causation: str
) -> None:
    if alert.status is not AlertStatus.OPEN:
        return
    resolved = alerts.resolve(alert, resolution, uow.now)
    uow.repos.save_alert(resolved)
    publish(uow, resolved, AlertChange.RESOLVED, correlation, causation)
