"""Recording what a send did: small handlers, each one step of a delivery aggregate.

The dispatcher (:mod:`.sending`) submits these commands to a :class:`GroupCommit`; every
command queued meanwhile is applied in one unit of work, on aggregates loaded together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from anbu_contracts import DeliveryStatus
from anbu_contracts.notify import Channel
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import HandlerTable

from .. import metrics
from ..adapters.repository import NotifierRepository
from ..domain.delivery import Delivery
from ..domain.model import DeliveryState
from .batching import Uow

log = get_logger(__name__)


class Step(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    request_key: str


class Plan(Step):
    """Give a request its recipients' deliveries (planned by the dispatcher)."""

    deliveries: list[Delivery]


class Sending(Step):
    """Channel ``index`` is about to be called under ``idempotency_key``."""

    person_ref: str
    index: int
    channel: str
    idempotency_key: str
    failures: list[str]
    attempts: int
    lease_until: datetime


class Sent(Step):
    person_ref: str
    channel: str
    provider_message_id: str
    delivered: bool
    attempts: int
    release_for: str | None = None  # the instance whose claim ends with this step


class Failed(Step):
    person_ref: str
    reason: str
    attempts: int
    release_for: str | None = None


class FailRequest(Step):
    reason: str


class RegistryFailed(Step):
    reason: str
    give_up_after: timedelta


class Release(Step):
    instance: str
    hold: datetime | None = None


HANDLERS: HandlerTable[NotifierRepository] = HandlerTable()


def prefetch(steps: list[Any], uow: Uow) -> None:
    """Load every aggregate the batch touches, and the receipts its sends may have had."""
    uow.repos.load(s.request_key for s in steps)
    uow.repos.held_receipts(
        [(s.channel, s.provider_message_id) for s in steps if isinstance(s, Sent)]
    )


@HANDLERS.register(Plan)
def on_plan(step: Plan, uow: Uow) -> None:
    notification = uow.repos.get(step.request_key)
    notification.plan(step.deliveries, uow.now)
    held = [d for d in step.deliveries if d.not_before is not None]
    for delivery in held:
        metrics.DELIVERIES.labels(delivery.plan[0], "deferred").inc()
    if held:
        until = min(d.not_before for d in held if d.not_before is not None)
        log.info("held for quiet hours", request_key=step.request_key, until=until.isoformat())


@HANDLERS.register(Sending)
def on_sending(step: Sending, uow: Uow) -> None:
    notification = uow.repos.get(step.request_key)
    notification.lease_until = step.lease_until
    notification.delivery(step.person_ref).sending(
        step.index,
        Channel(step.channel),
        step.idempotency_key,
        step.failures,
        step.attempts,
        uow.now,
    )


@HANDLERS.register(Sent)
def on_sent(step: Sent, uow: Uow) -> DeliveryState:
    notification = uow.repos.get(step.request_key)
    delivery = notification.delivery(step.person_ref)
    delivery.sent(step.provider_message_id, step.delivered, step.attempts, uow.now)
    ref = (step.channel, step.provider_message_id)
    early = uow.repos.held_receipt(ref)
    if early is not None:  # the receipt overtook this commit
        uow.repos.receipts_applied([ref], uow.now)
        status, reason = early
        if delivery.receipt(status == DeliveryStatus.DELIVERED.value, reason, uow.now):
            notification.next_at = uow.now
    notification.settle(uow.now, latest=delivery)
    if step.release_for:
        notification.release(step.release_for, None, uow.now)
    metrics.DELIVERIES.labels(step.channel, DeliveryState.SENT.value).inc()
    if delivery.state is DeliveryState.DELIVERED:
        metrics.DELIVERIES.labels(step.channel, DeliveryState.DELIVERED.value).inc()
    return delivery.state


@HANDLERS.register(Failed)
def on_failed(step: Failed, uow: Uow) -> None:
    notification = uow.repos.get(step.request_key)
    delivery = notification.delivery(step.person_ref)
    delivery.failed(step.reason, uow.now, step.attempts)
    notification.settle(uow.now, latest=delivery)
    if step.release_for:
        notification.release(step.release_for, None, uow.now)


@HANDLERS.register(FailRequest)
def on_fail_request(step: FailRequest, uow: Uow) -> None:
    uow.repos.get(step.request_key).fail(step.reason, uow.now)
    log.warning("request failed", request_key=step.request_key, reason=step.reason)


@HANDLERS.register(RegistryFailed)
def on_registry_failed(step: RegistryFailed, uow: Uow) -> bool:
    """Count a failed look-up; True when the request has waited too long and failed."""
    notification = uow.repos.get(step.request_key)
    notification.registry_failures += 1
    if uow.now - notification.created_at < step.give_up_after:
        return False
    on_fail_request(
        FailRequest(request_key=step.request_key, reason=f"registry: {step.reason}"), uow
    )
    return True


@HANDLERS.register(Release)
def on_release(step: Release, uow: Uow) -> None:
    notification = uow.repos.load([step.request_key]).get(step.request_key)
    if notification is not None:
        notification.release(step.instance, step.hold, uow.now)
