"""Delivering claimed requests: the part that talks to the network.

For each claimed request: resolve the recipients through the registry at send time, plan
channels per recipient (holding routine messages through quiet hours), then for every due
recipient record ``sending``, call the provider (temporary failures retried with backoff
and jitter, Retry-After honoured) and record the outcome; a permanent failure, or a
channel whose retry budget ran out, falls back to the next channel. Requests are delivered
concurrently over the channels' pooled connections, and every state change goes through
a :class:`GroupCommit`, so the changes of all sends finishing together share one
transaction.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from anbu_contracts import NotificationRequest, RecipientKind
from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger

from .. import metrics
from ..adapters.channels import Channel, DeliveryError, OutgoingMessage, RateLimited, SendResult
from ..adapters.registry_client import Directory, DirectoryUnavailable, RecipientNotFound
from ..adapters.throttle import ChannelGate
from ..domain.delivery import Delivery, Notification, new_delivery
from ..domain.messages import idempotency_key
from ..domain.model import Recipient
from ..domain.quiet_hours import release_at
from ..domain.rendering import Renderer, TemplateError
from ..domain.retry import RetryPolicy
from ..domain.routing import FALLBACK_ORDER, plan_channels
from .batching import GroupCommit
from .outcomes import Failed, FailRequest, Plan, RegistryFailed, Release, Sending, Sent

log = get_logger(__name__)
LIAISONS = {RecipientKind.POLICE_LIAISON: "112", RecipientKind.FIRE_LIAISON: "119"}


@dataclass(frozen=True)
class Routing:
    """Which channels this deployment has, and in which order to fall back."""

    enabled: tuple[ChannelName, ...] = (ChannelName.CONSOLE,)
    default: ChannelName = ChannelName.CONSOLE
    fallback_order: tuple[ChannelName, ...] = FALLBACK_ORDER


@dataclass(frozen=True)
class Timing:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)  # how long a claim on a request lasts
    registry_retry: timedelta = timedelta(seconds=30)
    registry_give_up: timedelta = timedelta(hours=1)
    error_hold: timedelta = timedelta(seconds=30)  # after an unexpected error


class Sender:
    """Delivers one claimed request at a time per task; many tasks run at once."""

    def __init__(
        self,
        steps: GroupCommit[Any],
        clock: Clock,
        directory: Directory,
        renderer: Renderer,
        channels: dict[ChannelName, Channel],
        *,
        instance: str,
        routing: Routing,
        timing: Timing,
        gates: dict[ChannelName, ChannelGate],
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.steps = steps
        self.clock = clock
        self.directory = directory
        self.renderer = renderer
        self.channels = channels
        self.instance = instance
        self.routing = routing
        self.timing = timing
        self.gates = gates
        self._jitter = jitter

    async def deliver(self, work: Notification) -> None:
        """Do what is due for one claimed request, then release the claim."""
        hold: datetime | None = None
        released = False
        try:
            hold, released = await self._deliver(work)
        except Exception:
            hold = self.clock.now() + self.timing.error_hold
            raise
        finally:
            if not released:
                await self.steps.submit(
                    Release(request_key=work.request_key, instance=self.instance, hold=hold)
                )

    async def _deliver(self, work: Notification) -> tuple[datetime | None, bool]:
        """Send what is due. Returns when to look again if the deliveries cannot say (the
        registry could not answer), and whether the last outcome released the claim."""
        now = self.clock.now()
        if work.deliveries and not work.due_deliveries(now):
            return None, False
        request = NotificationRequest.model_validate_json(work.request)
        try:
            recipients = await self._resolve(request)
        except RecipientNotFound as exc:
            await self.steps.submit(
                FailRequest(request_key=work.request_key, reason=f"recipient: {exc}")
            )
            return None, False
        except DirectoryUnavailable as exc:
            return await self._registry_unavailable(work, str(exc)), False
        deliveries = work.deliveries
        if not deliveries:
            deliveries = self._plan(request, recipients, now)
            await self.steps.submit(Plan(request_key=work.request_key, deliveries=deliveries))
        by_ref = {r.person_ref[:64]: r for r in recipients}
        due = [d for d in deliveries if d.due(now)]
        for number, delivery in enumerate(due, start=1):
            release = self.instance if number == len(due) else None
            recipient = by_ref.get(delivery.person_ref)
            if recipient is None:
                await self._failed(
                    request, delivery, ["recipient no longer on file"], delivery.attempts, release
                )
            else:
                await self._send(request, delivery, recipient, release)
        return None, bool(due)

    async def _resolve(self, request: NotificationRequest) -> list[Recipient]:
        kind = request.recipient.kind
        if kind in LIAISONS:
            # Liaison systems are configuration (webhook endpoints), not registry data.
            return [
                Recipient(
                    person_ref=kind.value,
                    name=LIAISONS[kind],
                    preferred_channel=ChannelName.WEBHOOK,
                    liaison=kind.value,
                )
            ]
        return await self.directory.resolve(request.recipient, f"notification {request.template}")

    async def _registry_unavailable(self, work: Notification, reason: str) -> datetime | None:
        metrics.REGISTRY_FAILURES.inc()
        gave_up = await self.steps.submit(
            RegistryFailed(
                request_key=work.request_key,
                reason=reason,
                give_up_after=self.timing.registry_give_up,
            )
        )
        if gave_up:
            log.error("registry unavailable; request failed", request_key=work.request_key)
            return None
        log.warning("registry unavailable; will retry", request_key=work.request_key)
        return self.clock.now() + self.timing.registry_retry

    def _plan(
        self, request: NotificationRequest, recipients: list[Recipient], now: datetime
    ) -> list[Delivery]:
        """One delivery per recipient: its channel plan and when it may go."""
        deliveries = []
        for recipient in {r.person_ref: r for r in recipients}.values():
            plan = plan_channels(
                recipient,
                requested=request.channels,
                enabled=self.routing.enabled,
                default=self.routing.default,
                fallback_order=self.routing.fallback_order,
            )
            not_before = release_at(now, request.urgency, recipient) if plan else None
            deliveries.append(
                new_delivery(
                    request.request_key,
                    recipient.person_ref,
                    plan,
                    not_before,
                    now,
                    idempotency_key,
                )
            )
        return deliveries

    async def _send(
        self,
        request: NotificationRequest,
        delivery: Delivery,
        recipient: Recipient,
        release: str | None,
    ) -> None:
        """Try the delivery's channels in order from where it stands; record the outcome."""
        plan = [ChannelName(c) for c in delivery.plan]
        index = delivery.channel_index
        failures = [delivery.reason] if delivery.reason else []
        calls = 0
        locale = request.locale or recipient.locale
        variables = {"name": recipient.name, "timezone": recipient.timezone, **request.variables}
        while index < len(plan):
            name = plan[index]
            channel = self.channels.get(name)
            target = recipient.target(name)
            if channel is None or target is None:
                failures.append(f"{name.value}: no address or channel now")
                index += 1
                continue
            try:
                text = self.renderer.render(request.template, locale, variables)
            except TemplateError as exc:
                failures.append(str(exc))
                break  # the same text on every channel: no fallback helps
            message = OutgoingMessage(
                request_key=request.request_key,
                idempotency_key=idempotency_key(request.request_key, delivery.person_ref, name),
                channel=name,
                address=target,
                text=text,
                template=request.template,
                urgency=request.urgency.value,
                locale=locale,
                household_id=request.household_id,
                recipient_name=recipient.name,
            )
            recorded = (
                delivery.state.value == "sending"
                and delivery.channel_index == index
                and delivery.idempotency_key == message.idempotency_key
            )
            if not recorded:  # the plan (or a run before a crash) may have recorded it
                await self.steps.submit(
                    Sending(
                        request_key=request.request_key,
                        person_ref=delivery.person_ref,
                        index=index,
                        channel=name.value,
                        idempotency_key=message.idempotency_key,
                        failures=failures,
                        attempts=delivery.attempts + calls,
                        lease_until=datetime.now(UTC) + self.timing.lease,
                    )
                )
            tally = _Calls()
            try:
                result = await self._call(channel, message, tally)
            except DeliveryError as exc:
                calls += tally.count
                failures.append(f"{name.value}: {exc.reason}")
                index += 1
                outcome = "fallback" if index < len(plan) else "failed"
                metrics.DELIVERIES.labels(name.value, outcome).inc()
                log.warning(
                    "channel failed",
                    request_key=request.request_key,
                    person_ref=delivery.person_ref,
                    channel=name.value,
                    attempts=tally.count,
                    reason=exc.reason,
                    next=outcome,
                )
                continue
            calls += tally.count
            await self._sent(request, delivery, name, result, delivery.attempts + calls, release)
            return
        await self._failed(request, delivery, failures, delivery.attempts + calls, release)

    async def _call(self, channel: Channel, message: OutgoingMessage, tally: _Calls) -> SendResult:
        """One send with retries of temporary failures (bounded), pacing and Retry-After."""
        policy = self.timing.retry
        gate = self.gates.get(channel.name) or self.gates.setdefault(channel.name, ChannelGate())
        retrying = AsyncRetrying(
            stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.budget_s),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.temporary),
            before_sleep=partial(self._before_retry, message=message),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await gate.acquire()
                tally.count += 1
                started = time.perf_counter()
                try:
                    result = await channel.send(message)
                except DeliveryError as exc:
                    kind = "temporary" if exc.temporary else "permanent"
                    metrics.SEND_SECONDS.labels(channel.name.value, kind).observe(
                        time.perf_counter() - started
                    )
                    if isinstance(exc, RateLimited) and exc.retry_after:
                        gate.pause(exc.retry_after)
                    raise
                metrics.SEND_SECONDS.labels(channel.name.value, "ok").observe(
                    time.perf_counter() - started
                )
                return result
        raise AssertionError("unreachable: tenacity returns or re-raises")  # pragma: no cover

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        return self.timing.retry.delay(state.attempt_number, retry_after, self._jitter())

    def _before_retry(self, state: RetryCallState, message: OutgoingMessage) -> None:
        exc = state.outcome.exception() if state.outcome else None
        limited = isinstance(exc, RateLimited)
        metrics.DELIVERIES.labels(
            message.channel.value, "rate_limited" if limited else "retried"
        ).inc()
        log.info(
            "provider busy; retrying" if limited else "temporary failure; retrying",
            request_key=message.request_key,
            channel=message.channel.value,
            attempt=state.attempt_number,
            wait_s=round(state.upcoming_sleep, 3),
            reason=exc.reason if isinstance(exc, DeliveryError) else repr(exc),
        )

    async def _sent(
        self,
        request: NotificationRequest,
        delivery: Delivery,
        channel: ChannelName,
        result: SendResult,
        attempts: int,
        release: str | None,
    ) -> None:
        await self.steps.submit(
            Sent(
                request_key=request.request_key,
                person_ref=delivery.person_ref,
                channel=channel.value,
                provider_message_id=result.provider_message_id,
                delivered=result.delivered,
                attempts=attempts,
                release_for=release,
            )
        )
        log.info(
            "message sent",
            request_key=request.request_key,
            person_ref=delivery.person_ref,
            channel=channel.value,
            attempts=attempts,
            provider_message_id=result.provider_message_id,
        )

    async def _failed(
        self,
        request: NotificationRequest,
        delivery: Delivery,
        failures: list[str],
        attempts: int,
        release: str | None,
    ) -> None:
        reason = "; ".join(failures) or "no channel left to try"
        await self.steps.submit(
            Failed(
                request_key=request.request_key,
                person_ref=delivery.person_ref,
                reason=reason,
                attempts=attempts,
                release_for=release,
            )
        )
        log.warning(
            "message failed",
            request_key=request.request_key,
            person_ref=delivery.person_ref,
            reason=reason,
        )


@dataclass
class _Calls:
    count: int = 0
