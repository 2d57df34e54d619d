"""The notifier's service layer: accept a request once, then reach every recipient.

* ``accept`` (the Kafka consumer): one transaction stores the request and stages
  ``queued`` in the outbox. A request key seen before changes nothing; a request that
  violates the contract is recorded ``failed`` and raised for the dead-letter topic.
* ``deliver`` (the dispatcher, for work that is due): resolve the recipients through the
  registry at send time, plan channels per recipient, hold routine messages through the
  recipient's quiet hours, then per recipient record ``sending``, call the provider
  (temporary failures retried with backoff and jitter, Retry-After honoured), and record
  the outcome; a permanent failure, or a channel whose retry budget ran out, falls back to
  the next channel; when none is left the recipient has failed, with the reasons.
* ``record_receipt`` (the HTTP callback): apply a provider's delivery receipt once.

Request-level statuses are derived from the recipients' states and staged in the outbox
in the same transaction as the change that caused them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from sqlalchemy import update
from sqlmodel import Session, col, or_, select
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from anbu_contracts import (
    DeliveryStatus,
    NotificationRequest,
    NotificationStatusEvent,
    RecipientKind,
    Urgency,
)
from anbu_contracts.notify import Channel as ChannelName
from anbu_contracts.topics import NOTIFY_STATUS
from anbu_runtime.clock import Clock
from anbu_runtime.db import Database
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import Outbox

from . import metrics
from .adapters.channels import (
    Channel,
    DeliveryError,
    OutgoingMessage,
    RateLimited,
    SendResult,
)
from .adapters.orm import DeliveryRow, NotificationRow, ReceiptRow
from .adapters.registry_client import Directory, DirectoryUnavailable, RecipientNotFound
from .adapters.throttle import ChannelGate
from .domain import admission
from .domain.admission import RequestRejected
from .domain.messages import idempotency_key
from .domain.model import DeliveryState, Recipient
from .domain.outcome import Outcome, RecipientState, outcome_of, transitions
from .domain.quiet_hours import release_at
from .domain.rendering import Renderer, TemplateError
from .domain.retry import RetryPolicy
from .domain.routing import FALLBACK_ORDER, plan_channels

log = get_logger(__name__)
SOURCE = "notifier"
PRIORITY = {Urgency.CRITICAL: 0, Urgency.HIGH: 1, Urgency.ROUTINE: 2}
LIAISONS = {
    RecipientKind.POLICE_LIAISON: "112",
    RecipientKind.FIRE_LIAISON: "119",
}
REASON_MAX = 512

__all__ = ["Notifier", "RequestRejected", "Routing", "Timing"]


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


@dataclass
class _Calls:
    count: int = 0


_Work = tuple[NotificationRequest, list[DeliveryRow]]
ReceiptResult = Literal["applied", "held", "duplicate"]


class Notifier:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        clock: Clock,
        directory: Directory,
        renderer: Renderer,
        channels: dict[ChannelName, Channel],
        *,
        instance: str,
        routing: Routing | None = None,
        timing: Timing | None = None,
        gates: dict[ChannelName, ChannelGate] | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.directory = directory
        self.renderer = renderer
        self.channels = channels
        self.instance = instance
        self.routing = routing or Routing()
        self.timing = timing or Timing()
        self.gates = gates or {}
        self._jitter = jitter
        self.work_available = asyncio.Event()
        self._inflight: set[str] = set()
        self._claimed: dict[str, _Work] = {}

    # -- accepting requests (the consumer) -------------------------------------------

    async def accept(self, request: NotificationRequest) -> bool:
        """Store ``request`` and report it queued, once per request key.

        Returns False for a key seen before. Raises :class:`RequestRejected` (after
        recording the request as failed) when the request violates the contract.
        """
        try:
            admission.check(request, self.renderer)
        except RequestRejected as exc:
            await self.db.run(partial(self._reject, request=request, reason=str(exc)))
            self.outbox.notify()
            metrics.REQUESTS.labels("rejected").inc()
            log.warning("request rejected", request_key=request.request_key, reason=str(exc))
            raise
        fresh = await self.db.run(partial(self._accept, request=request))
        if not fresh:
            metrics.REQUESTS.labels("duplicate").inc()
            log.info("duplicate request ignored", request_key=request.request_key)
            return False
        self.outbox.notify()
        self.work_available.set()
        metrics.REQUESTS.labels(DeliveryStatus.QUEUED.value).inc()
        log.info(
            "request accepted",
            request_key=request.request_key,
            template=request.template,
            urgency=request.urgency.value,
        )
        return True

    def _accept(self, session: Session, request: NotificationRequest) -> bool:
        existing = session.get(NotificationRow, request.request_key)
        if existing is not None and not existing.rejected:
            return False
        if existing is not None:  # a corrected replay of a rejected request: nothing was sent
            session.delete(existing)
            session.flush()
        now = self.clock.now()
        row = self._new_row(request, DeliveryStatus.QUEUED, now)
        row.next_at = now
        session.add(row)
        self._stage(session, row, DeliveryStatus.QUEUED, now)
        return True

    def _reject(self, session: Session, request: NotificationRequest, reason: str) -> None:
        if session.get(NotificationRow, request.request_key) is not None:
            return  # the key was used before; that request stands
        now = self.clock.now()
        row = self._new_row(request, DeliveryStatus.FAILED, now)
        row.rejected = True
        row.reason = f"rejected: {reason}"[:REASON_MAX]
        session.add(row)
        self._stage(session, row, DeliveryStatus.FAILED, now, reason=row.reason)

    def _new_row(
        self, request: NotificationRequest, status: DeliveryStatus, now: datetime
    ) -> NotificationRow:
        return NotificationRow(
            request_key=request.request_key,
            request_id=request.request_id,
            event_id=request.event_id,
            household_id=request.household_id,
            template=request.template,
            urgency=request.urgency.value,
            priority=PRIORITY[request.urgency],
            status=status.value,
            request=request.model_dump_json(),
            correlation_id=request.correlation_id,
            created_at=now,
            updated_at=now,
        )

    # -- claiming due work (the dispatcher) ----------------------------------------------

    async def claim_due(self, limit: int) -> list[str]:
        """Claim up to ``limit`` requests whose work is due; the claim is a lease."""
        if limit <= 0:
            return []
        claimed = await self.db.run(
            partial(self._claim, limit=limit, busy=frozenset(self._inflight))
        )
        self._claimed.update(claimed)
        self._inflight.update(claimed)
        return list(claimed)

    def _claim(self, session: Session, limit: int, busy: frozenset[str]) -> dict[str, _Work]:
        """Claim due requests and load them (one transaction for the whole batch)."""
        real_now = datetime.now(UTC)  # leases are about processes, so wall-clock time
        free = or_(
            col(NotificationRow.claimed_by).is_(None), col(NotificationRow.lease_until) < real_now
        )
        candidates = [
            key
            for key in session.exec(
                select(NotificationRow.request_key)
                .where(col(NotificationRow.next_at) <= self.clock.now(), free)
                .order_by(col(NotificationRow.priority), col(NotificationRow.next_at))
                .limit(limit + len(busy))
            ).all()
            if key not in busy
        ][:limit]
        if not candidates:
            return {}
        session.execute(
            update(NotificationRow)
            .where(col(NotificationRow.request_key).in_(candidates), free)
            .values(claimed_by=self.instance, lease_until=real_now + self.timing.lease)
        )
        rows = session.exec(
            select(NotificationRow).where(
                col(NotificationRow.request_key).in_(candidates),
                NotificationRow.claimed_by == self.instance,
            )
        ).all()
        deliveries: dict[str, list[DeliveryRow]] = {row.request_key: [] for row in rows}
        for delivery in session.exec(
            select(DeliveryRow)
            .where(col(DeliveryRow.request_key).in_(list(deliveries)))
            .order_by(col(DeliveryRow.person_ref))
        ).all():
            deliveries[delivery.request_key].append(delivery)
        return {
            row.request_key: (
                NotificationRequest.model_validate_json(row.request),
                deliveries[row.request_key],
            )
            for row in rows
        }

    async def release_own_claims(self) -> int:
        """Drop claims this instance held before a restart, so its work resumes at once."""

        def release(session: Session) -> int:
            result = session.execute(
                update(NotificationRow)
                .where(col(NotificationRow.claimed_by) == self.instance)
                .values(claimed_by=None, lease_until=None)
            )
            return int(getattr(result, "rowcount", 0) or 0)

        return await self.db.run(release)

    # -- delivering (one claimed request) ------------------------------------------------

    async def deliver(self, request_key: str) -> None:
        """Do what is due for one claimed request, then release the claim."""
        hold: datetime | None = None
        released = False
        try:
            work = self._claimed.pop(request_key, None)
            if work is not None:
                hold, released = await self._deliver(*work)
        except Exception:
            hold = self.clock.now() + self.timing.error_hold
            raise
        finally:
            self._inflight.discard(request_key)
            if not released:
                await self.db.run(partial(self._release, request_key=request_key, hold=hold))
            self.outbox.notify()

    async def _deliver(
        self, request: NotificationRequest, deliveries: list[DeliveryRow]
    ) -> tuple[datetime | None, bool]:
        """Send what is due. Returns when to look again if the deliveries themselves cannot
        say (the registry could not answer), and whether the claim was already released
        (by the transaction that recorded the last outcome)."""
        now = self.clock.now()
        if deliveries and not _due(deliveries, now):
            return None, False
        try:
            recipients = await self._resolve(request)
        except RecipientNotFound as exc:
            await self.db.run(
                partial(self._fail_request, key=request.request_key, reason=f"recipient: {exc}")
            )
            return None, False
        except DirectoryUnavailable as exc:
            return await self._registry_unavailable(request, str(exc)), False
        if not deliveries:
            deliveries = await self.db.run(
                partial(self._plan, request=request, recipients=recipients, now=now)
            )
        by_ref = {r.person_ref[:64]: r for r in recipients}
        due = _due(deliveries, now)
        for number, delivery in enumerate(due, start=1):
            last = number == len(due)
            recipient = by_ref.get(delivery.person_ref)
            if recipient is None:
                failures = ["recipient no longer on file"]
                await self._finish_failed(
                    request, delivery, failures, delivery.attempts, release=last
                )
            else:
                await self._send(request, delivery, recipient, release=last)
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

    async def _registry_unavailable(
        self, request: NotificationRequest, reason: str
    ) -> datetime | None:
        metrics.REGISTRY_FAILURES.inc()
        now = self.clock.now()
        gave_up = await self.db.run(
            partial(self._registry_failure, key=request.request_key, reason=reason, now=now)
        )
        if gave_up:
            log.error("registry unavailable; request failed", request_key=request.request_key)
            return None
        log.warning("registry unavailable; will retry", request_key=request.request_key)
        return now + self.timing.registry_retry

    def _registry_failure(self, session: Session, key: str, reason: str, now: datetime) -> bool:
        row = self._lock(session, key)
        row.registry_failures += 1
        if now - row.created_at < self.timing.registry_give_up:
            return False
        self._fail_request(session, key, f"registry: {reason}")
        return True

    def _plan(
        self,
        session: Session,
        request: NotificationRequest,
        recipients: Sequence[Recipient],
        now: datetime,
    ) -> list[DeliveryRow]:
        """Create one delivery per recipient: its channel plan and when it may go."""
        row = self._lock(session, request.request_key)
        if not recipients:
            self._settle(session, row, None, Outcome(DeliveryStatus.FAILED, "no address on file"))
            return []
        created: list[DeliveryRow] = []
        for recipient in {r.person_ref: r for r in recipients}.values():
            plan = plan_channels(
                recipient,
                requested=request.channels,
                enabled=self.routing.enabled,
                default=self.routing.default,
                fallback_order=self.routing.fallback_order,
            )
            not_before = release_at(now, request.urgency, recipient) if plan else None
            delivery = DeliveryRow(
                request_key=request.request_key,
                person_ref=recipient.person_ref[:64],
                plan=[c.value for c in plan],
                state=(DeliveryState.PENDING if plan else DeliveryState.FAILED).value,
                reason=None if plan else "no enabled channel has an address for this recipient",
                not_before=not_before,
                created_at=now,
                updated_at=now,
            )
            if plan and not_before is None:
                # Due now: record "sending" on the first channel in this same transaction.
                delivery.state = DeliveryState.SENDING.value
                delivery.channel = plan[0].value
                delivery.idempotency_key = idempotency_key(
                    request.request_key, delivery.person_ref, plan[0]
                )
            session.add(delivery)
            created.append(delivery)
        session.flush()
        held = [d.not_before for d in created if d.not_before is not None]
        if held:
            until = min(held)
            self._stage(
                session,
                row,
                DeliveryStatus.QUEUED,
                now,
                reason=f"quiet hours: held until {until.isoformat()}",
            )
            for delivery in created:
                if delivery.not_before is not None:
                    metrics.DELIVERIES.labels(delivery.plan[0], "deferred").inc()
            log.info("held for quiet hours", request_key=row.request_key, until=until.isoformat())
        self._settle(session, row, None)
        return created

    async def _send(
        self,
        request: NotificationRequest,
        delivery: DeliveryRow,
        recipient: Recipient,
        *,
        release: bool,
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
                delivery.state == DeliveryState.SENDING.value
                and delivery.channel_index == index
                and delivery.idempotency_key == message.idempotency_key
            )
            if not recorded:  # the plan (or a run before a crash) may have recorded it
                await self.db.run(
                    partial(
                        self._mark_sending,
                        delivery=delivery,
                        index=index,
                        message=message,
                        failures=failures,
                        attempts=delivery.attempts + calls,
                    )
                )
                delivery.state = DeliveryState.SENDING.value
                delivery.channel_index = index
                delivery.idempotency_key = message.idempotency_key
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
            await self._finish_sent(
                request, delivery, name, result, delivery.attempts + calls, release=release
            )
            return
        await self._finish_failed(
            request, delivery, failures, delivery.attempts + calls, release=release
        )

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

    async def _finish_sent(
        self,
        request: NotificationRequest,
        delivery: DeliveryRow,
        channel: ChannelName,
        result: SendResult,
        attempts: int,
        *,
        release: bool,
    ) -> None:
        state = await self.db.run(
            partial(
                self._mark_sent,
                delivery=delivery,
                channel=channel,
                result=result,
                attempts=attempts,
                release=release,
            )
        )
        metrics.DELIVERIES.labels(channel.value, DeliveryState.SENT.value).inc()
        if state is DeliveryState.DELIVERED:
            metrics.DELIVERIES.labels(channel.value, DeliveryState.DELIVERED.value).inc()
        log.info(
            "message sent",
            request_key=request.request_key,
            person_ref=delivery.person_ref,
            channel=channel.value,
            attempts=attempts,
            provider_message_id=result.provider_message_id,
        )

    async def _finish_failed(
        self,
        request: NotificationRequest,
        delivery: DeliveryRow,
        failures: list[str],
        attempts: int,
        *,
        release: bool,
    ) -> None:
        reason = "; ".join(failures) or "no channel left to try"
        await self.db.run(
            partial(
                self._mark_failed,
                delivery=delivery,
                reason=reason,
                attempts=attempts,
                release=release,
            )
        )
        log.warning(
            "message failed",
            request_key=request.request_key,
            person_ref=delivery.person_ref,
            reason=reason,
        )

    # -- state changes (one transaction each) --------------------------------------------

    def _mark_sending(
        self,
        session: Session,
        delivery: DeliveryRow,
        index: int,
        message: OutgoingMessage,
        failures: list[str],
        attempts: int,
    ) -> None:
        """Written before the provider is called: after a crash, re-send under this key."""
        row = self._lock(session, delivery.request_key)
        row.lease_until = datetime.now(UTC) + self.timing.lease
        current = self._delivery(session, delivery)
        current.state = DeliveryState.SENDING.value
        current.channel_index = index
        current.channel = message.channel.value
        current.idempotency_key = message.idempotency_key
        current.reason = "; ".join(failures)[:REASON_MAX] or None
        current.attempts = attempts
        current.updated_at = self.clock.now()

    def _mark_sent(
        self,
        session: Session,
        delivery: DeliveryRow,
        channel: ChannelName,
        result: SendResult,
        attempts: int,
        release: bool,
    ) -> DeliveryState:
        row = self._lock(session, delivery.request_key)
        current = self._delivery(session, delivery)
        now = self.clock.now()
        current.state = (DeliveryState.DELIVERED if result.delivered else DeliveryState.SENT).value
        current.provider_message_id = result.provider_message_id
        current.attempts = attempts
        current.sent_at = now
        current.delivered_at = now if result.delivered else None
        current.updated_at = now
        early = session.get(ReceiptRow, (channel.value, result.provider_message_id))
        if early is not None and early.applied_at is None:
            self._apply_receipt(session, row, current, early)  # it overtook this commit
        self._settle(session, row, current)
        if release:
            self._release_row(session, row, None)
        return DeliveryState(current.state)

    def _mark_failed(
        self, session: Session, delivery: DeliveryRow, reason: str, attempts: int, release: bool
    ) -> None:
        row = self._lock(session, delivery.request_key)
        current = self._delivery(session, delivery)
        current.state = DeliveryState.FAILED.value
        current.reason = reason[:REASON_MAX]
        current.attempts = attempts
        current.updated_at = self.clock.now()
        self._settle(session, row, current)
        if release:
            self._release_row(session, row, None)

    def _fail_request(self, session: Session, key: str, reason: str) -> None:
        """Every recipient not yet settled has failed for ``reason`` (or the request has)."""
        row = self._lock(session, key)
        deliveries = self._deliveries(session, key)
        now = self.clock.now()
        for delivery in deliveries:
            if not DeliveryState(delivery.state).settled:
                delivery.state = DeliveryState.FAILED.value
                delivery.reason = reason[:REASON_MAX]
                delivery.updated_at = now
        self._settle(
            session, row, None, None if deliveries else Outcome(DeliveryStatus.FAILED, reason)
        )
        log.warning("request failed", request_key=key, reason=reason)

    def _release(self, session: Session, request_key: str, hold: datetime | None) -> None:
        row = session.get(NotificationRow, request_key)
        if row is not None:
            self._release_row(session, row, hold)

    def _release_row(self, session: Session, row: NotificationRow, hold: datetime | None) -> None:
        """Drop this instance's claim; the request is due again at ``hold``, or when its
        deliveries next need anything."""
        if row.claimed_by != self.instance:
            return  # another instance took over after our lease ran out
        row.claimed_by = None
        row.lease_until = None
        row.next_at = hold or self._next_at(session, row)

    def _next_at(self, session: Session, row: NotificationRow) -> datetime | None:
        now = self.clock.now()
        deliveries = self._deliveries(session, row.request_key)
        if not deliveries:
            return None if row.status == DeliveryStatus.FAILED.value else now
        waiting = [d for d in deliveries if not DeliveryState(d.state).settled]
        return min((d.not_before or now for d in waiting), default=None)

    def _settle(
        self,
        session: Session,
        row: NotificationRow,
        latest: DeliveryRow | None,
        override: Outcome | None = None,
    ) -> None:
        """Publish the request-level statuses the recipients' states now add up to."""
        deliveries = self._deliveries(session, row.request_key)
        row.attempts = sum(d.attempts for d in deliveries)
        outcome = override or outcome_of(
            [RecipientState(DeliveryState(d.state), d.reason) for d in deliveries]
        )
        if latest is None:
            settled = [d for d in deliveries if DeliveryState(d.state).settled]
            latest = max(settled, key=lambda d: d.updated_at, default=None)
        now = self.clock.now()
        for status in transitions(DeliveryStatus(row.status), outcome.status):
            self._stage(session, row, status, now, reason=outcome.reason, delivery=latest)
            row.status = status.value
            metrics.REQUESTS.labels(status.value).inc()
        if outcome.status is not None:
            row.reason = outcome.reason[:REASON_MAX] if outcome.reason else None
        row.updated_at = now

    def _stage(
        self,
        session: Session,
        row: NotificationRow,
        status: DeliveryStatus,
        now: datetime,
        *,
        reason: str | None = None,
        delivery: DeliveryRow | None = None,
    ) -> None:
        self.outbox.add(
            session,
            NOTIFY_STATUS,
            NotificationStatusEvent(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=row.correlation_id,
                causation_id=str(row.event_id),
                request_id=row.request_id,
                request_key=row.request_key,
                status=status,
                channel=ChannelName(delivery.channel) if delivery and delivery.channel else None,
                attempt=row.attempts,
                reason=reason[:REASON_MAX] if reason else None,
                provider_message_id=delivery.provider_message_id if delivery else None,
                household_id=row.household_id,
            ),
        )

    # -- receipts (the HTTP callback) ------------------------------------------------------

    async def record_receipt(
        self, provider: ChannelName, message_id: str, status: str, reason: str | None
    ) -> ReceiptResult:
        """Apply a delivery receipt once: ``applied``, ``held`` (ahead of our own record of
        the message; applied when it lands) or ``duplicate``."""
        result, fallback = await self.db.run(
            partial(
                self._receipt,
                provider=provider,
                message_id=message_id,
                status=status,
                reason=reason,
            )
        )
        self.outbox.notify()
        metrics.RECEIPTS.labels(provider.value, result).inc()
        if result == "applied":
            label = "fallback" if fallback else status
            metrics.DELIVERIES.labels(provider.value, label).inc()
        if fallback:
            self.work_available.set()
        return result

    def _receipt(
        self,
        session: Session,
        provider: ChannelName,
        message_id: str,
        status: str,
        reason: str | None,
    ) -> tuple[ReceiptResult, bool]:
        if session.get(ReceiptRow, (provider.value, message_id)) is not None:
            return "duplicate", False
        receipt = ReceiptRow(
            provider=provider.value,
            message_id=message_id,
            status=status,
            reason=reason[:200] if reason else None,
            received_at=self.clock.now(),
        )
        session.add(receipt)
        session.flush()
        delivery = session.exec(
            select(DeliveryRow).where(
                DeliveryRow.channel == provider.value,
                DeliveryRow.provider_message_id == message_id,
            )
        ).first()
        if delivery is None:
            return "held", False
        row = self._lock(session, delivery.request_key)
        fallback = self._apply_receipt(session, row, delivery, receipt)
        self._settle(session, row, delivery)
        return "applied", fallback

    def _apply_receipt(
        self, session: Session, row: NotificationRow, delivery: DeliveryRow, receipt: ReceiptRow
    ) -> bool:
        """Move the delivery on; True when a failure sends it to its next channel."""
        now = self.clock.now()
        receipt.applied_at = now
        if DeliveryState(delivery.state) is not DeliveryState.SENT:
            return False  # already delivered or settled otherwise: the first word stands
        delivery.updated_at = now
        if receipt.status == DeliveryStatus.DELIVERED.value:
            delivery.state = DeliveryState.DELIVERED.value
            delivery.delivered_at = now
            return False
        failure = f"{delivery.channel}: not delivered ({receipt.reason or 'no reason given'})"
        delivery.reason = "; ".join(filter(None, [delivery.reason, failure]))[:REASON_MAX]
        if delivery.channel_index + 1 < len(delivery.plan):
            delivery.channel_index += 1
            delivery.state = DeliveryState.PENDING.value
            delivery.provider_message_id = None
            row.next_at = now
            return True
        delivery.state = DeliveryState.FAILED.value
        return False

    # -- queries ---------------------------------------------------------------------------

    async def view(self, request_key: str) -> tuple[NotificationRow, list[DeliveryRow]] | None:
        """A request and its deliveries, for the operators' lookup (no addresses)."""

        def load(session: Session) -> tuple[NotificationRow, list[DeliveryRow]] | None:
            row = session.get(NotificationRow, request_key)
            return None if row is None else (row, self._deliveries(session, request_key))

        return await self.db.run(load)

    @staticmethod
    def _deliveries(session: Session, request_key: str) -> list[DeliveryRow]:
        return list(
            session.exec(
                select(DeliveryRow)
                .where(DeliveryRow.request_key == request_key)
                .order_by(col(DeliveryRow.person_ref))
            ).all()
        )

    @staticmethod
    def _delivery(session: Session, delivery: DeliveryRow) -> DeliveryRow:
        current = session.get(DeliveryRow, (delivery.request_key, delivery.person_ref))
        if current is None:
            raise LookupError(f"delivery {delivery.request_key}/{delivery.person_ref} vanished")
        return current

    @staticmethod
    def _lock(session: Session, request_key: str) -> NotificationRow:
        """The request row, locked for this transaction (PostgreSQL; SQLite has one writer),
        so concurrent receipts and sends of one request settle it one at a time."""
        row = session.exec(
            select(NotificationRow)
            .where(NotificationRow.request_key == request_key)
            .with_for_update()
        ).first()
        if row is None:
            raise LookupError(f"request {request_key} vanished")
        return row


def _due(deliveries: Sequence[DeliveryRow], now: datetime) -> list[DeliveryRow]:
    return [
        d
        for d in deliveries
        if not DeliveryState(d.state).settled and (d.not_before is None or d.not_before <= now)
    ]
