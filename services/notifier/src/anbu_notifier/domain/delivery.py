"""The delivery aggregate: one accepted request and its recipients' deliveries.

A :class:`Notification` owns its :class:`Delivery` list and is the only thing that changes
them: every move (``sending`` → ``sent`` → ``delivered``, a fallback to the next channel, a
failure) goes through a method that refuses an illegal one with :class:`IllegalTransition`
before it changes anything. After each change the aggregate works out the request-level
statuses its recipients now add up to and records them in ``changes`` for the outbox; it
never publishes, stores or reads the clock itself (the caller passes ``now``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from anbu_contracts import DeliveryStatus
from anbu_contracts.notify import Channel

from .model import DeliveryState
from .outcome import Outcome, RecipientState, outcome_of, transitions

REASON_MAX = 512


class IllegalTransition(ValueError):
    """A delivery was asked to make a move its state does not allow; nothing changed."""


def _clip(reason: str | None) -> str | None:
    return reason[:REASON_MAX] if reason else None


@dataclass(frozen=True)
class StatusChange:
    """A request-level status to publish, with what it reports at that moment."""

    status: DeliveryStatus
    at: datetime
    attempt: int
    reason: str | None = None
    channel: Channel | None = None
    provider_message_id: str | None = None


@dataclass
class Delivery:
    """One recipient of one request: its channel plan, how far it got, what came back."""

    request_key: str
    person_ref: str
    plan: list[str]
    state: DeliveryState
    created_at: datetime
    updated_at: datetime
    channel_index: int = 0
    channel: str | None = None
    idempotency_key: str | None = None
    not_before: datetime | None = None
    attempts: int = 0
    provider_message_id: str | None = None
    reason: str | None = None
    sent_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def settled(self) -> bool:
        return self.state.settled

    def due(self, now: datetime) -> bool:
        return not self.settled and (self.not_before is None or self.not_before <= now)

    def sending(
        self,
        index: int,
        channel: Channel,
        key: str,
        failures: Sequence[str],
        attempts: int,
        now: datetime,
    ) -> None:
        """Record that channel ``index`` is about to be called under ``key`` (before the call,
        so a crash re-sends under the same key)."""
        if self.settled:
            raise IllegalTransition(f"{self.state.value} → sending")
        self.state = DeliveryState.SENDING
        self.channel_index = index
        self.channel = channel.value
        self.idempotency_key = key
        self.reason = _clip("; ".join(failures))
        self.attempts = attempts
        self.updated_at = now

    def sent(self, provider_message_id: str, delivered: bool, attempts: int, now: datetime) -> None:
        if self.state is not DeliveryState.SENDING:
            raise IllegalTransition(f"{self.state.value} → sent")
        self.state = DeliveryState.DELIVERED if delivered else DeliveryState.SENT
        self.provider_message_id = provider_message_id
        self.attempts = attempts
        self.sent_at = now
        self.delivered_at = now if delivered else None
        self.updated_at = now

    def failed(self, reason: str, now: datetime, attempts: int | None = None) -> None:
        if self.settled:
            raise IllegalTransition(f"{self.state.value} → failed")
        self.state = DeliveryState.FAILED
        self.reason = _clip(reason)
        if attempts is not None:
            self.attempts = attempts
        self.updated_at = now

    def receipt(self, delivered: bool, reason: str | None, now: datetime) -> bool:
        """Apply a provider's receipt; True when a failure moved it to its next channel.

        Only a ``sent`` message takes a receipt: once delivered or settled otherwise, the
        first word stands.
        """
        if self.state is not DeliveryState.SENT:
            return False
        self.updated_at = now
        if delivered:
            self.state = DeliveryState.DELIVERED
            self.delivered_at = now
            return False
        failure = f"{self.channel}: not delivered ({reason or 'no reason given'})"
        self.reason = _clip("; ".join(filter(None, [self.reason, failure])))
        if self.channel_index + 1 < len(self.plan):
            self.channel_index += 1
            self.state = DeliveryState.PENDING
            self.provider_message_id = None
            return True
        self.state = DeliveryState.FAILED
        return False


@dataclass
class Notification:
    """An accepted request (its key is the idempotency key of the whole request)."""

    request_key: str
    request_id: UUID
    event_id: UUID
    household_id: str | None
    template: str
    urgency: str
    priority: int
    status: DeliveryStatus
    request: str  # the request as received (JSON)
    correlation_id: str | None
    created_at: datetime
    updated_at: datetime
    rejected: bool = False
    reason: str | None = None
    attempts: int = 0
    registry_failures: int = 0
    next_at: datetime | None = None
    claimed_by: str | None = None
    lease_until: datetime | None = None
    deliveries: list[Delivery] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)  # to publish, oldest first

    # -- lifecycle ---------------------------------------------------------------------

    def report(
        self,
        status: DeliveryStatus,
        now: datetime,
        reason: str | None = None,
        delivery: Delivery | None = None,
    ) -> None:
        """Record ``status`` for publication (the aggregate's own events)."""
        self.changes.append(
            StatusChange(
                status=status,
                at=now,
                attempt=self.attempts,
                reason=_clip(reason),
                channel=Channel(delivery.channel) if delivery and delivery.channel else None,
                provider_message_id=delivery.provider_message_id if delivery else None,
            )
        )

    def plan(self, deliveries: Sequence[Delivery], now: datetime) -> None:
        """Give the request its recipients' deliveries (once)."""
        if self.deliveries:
            raise IllegalTransition("the request has its deliveries already")
        self.deliveries = list(deliveries)
        held = [d.not_before for d in self.deliveries if d.not_before is not None]
        if held:
            self.report(
                DeliveryStatus.QUEUED, now, f"quiet hours: held until {min(held).isoformat()}"
            )
        override = None if self.deliveries else Outcome(DeliveryStatus.FAILED, "no address on file")
        self.settle(now, override=override)

    def delivery(self, person_ref: str) -> Delivery:
        for delivery in self.deliveries:
            if delivery.person_ref == person_ref:
                return delivery
        raise LookupError(f"no delivery for {person_ref} in {self.request_key}")

    def fail(self, reason: str, now: datetime) -> None:
        """Every recipient not yet settled has failed for ``reason`` (or the request has)."""
        for delivery in self.deliveries:
            if not delivery.settled:
                delivery.failed(reason, now)
        override = None if self.deliveries else Outcome(DeliveryStatus.FAILED, reason)
        self.settle(now, override=override)

    def settle(
        self, now: datetime, latest: Delivery | None = None, override: Outcome | None = None
    ) -> list[DeliveryStatus]:
        """Record the request-level statuses the recipients' states now add up to."""
        self.attempts = sum(d.attempts for d in self.deliveries)
        outcome = override or outcome_of(
            [RecipientState(d.state, d.reason) for d in self.deliveries]
        )
        if latest is None:
            settled = [d for d in self.deliveries if d.settled]
            latest = max(settled, key=lambda d: d.updated_at, default=None)
        moved = transitions(self.status, outcome.status)
        for status in moved:
            self.report(status, now, outcome.reason, latest)
            self.status = status
        if outcome.status is not None:
            self.reason = _clip(outcome.reason)
        self.updated_at = now
        return moved

    # -- claims --------------------------------------------------------------------------

    def due_deliveries(self, now: datetime) -> list[Delivery]:
        return [d for d in self.deliveries if d.due(now)]

    def release(self, instance: str, hold: datetime | None, now: datetime) -> None:
        """Drop ``instance``'s claim; due again at ``hold`` or when a delivery next needs
        anything (another instance's claim, taken after ours ran out, is left alone)."""
        if self.claimed_by != instance:
            return
        self.claimed_by = None
        self.lease_until = None
        self.next_at = hold or self.next_due(now)

    def next_due(self, now: datetime) -> datetime | None:
        if not self.deliveries:
            return None if self.status is DeliveryStatus.FAILED else now
        waiting = [d for d in self.deliveries if not d.settled]
        return min((d.not_before or now for d in waiting), default=None)


KeyFor = Callable[[str, str, Channel], str]


def new_delivery(
    request_key: str,
    person_ref: str,
    plan: Sequence[Channel],
    not_before: datetime | None,
    now: datetime,
    key_for: KeyFor,
) -> Delivery:
    """A recipient's delivery as planned: failed if no channel can reach them, ``sending``
    on the first channel if due now (recorded before the call), else pending."""
    delivery = Delivery(
        request_key=request_key,
        person_ref=person_ref[:64],
        plan=[c.value for c in plan],
        state=DeliveryState.PENDING if plan else DeliveryState.FAILED,
        reason=None if plan else "no enabled channel has an address for this recipient",
        not_before=not_before if plan else None,
        created_at=now,
        updated_at=now,
    )
    if plan and not_before is None:
        delivery.state = DeliveryState.SENDING
        delivery.channel = plan[0].value
        delivery.idempotency_key = key_for(request_key, delivery.person_ref, plan[0])
    return delivery
