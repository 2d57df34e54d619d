"""A request's status, derived from its recipients' delivery states.

A request is one event on ``notify.status`` for all its recipients (the contract has no
recipient field): ``queued`` when accepted; ``sent`` once every recipient is settled and at
least one message was accepted by a provider; ``delivered`` once every message that was
not a failure is confirmed; ``failed`` when nobody could be reached. A partial failure is
named in the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from anbu_contracts import DeliveryStatus

from .model import DeliveryState

_NEXT: dict[DeliveryStatus, tuple[DeliveryStatus, ...]] = {
    DeliveryStatus.QUEUED: (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED),
    DeliveryStatus.SENT: (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED),
    DeliveryStatus.DELIVERED: (),
    DeliveryStatus.FAILED: (),
}


@dataclass(frozen=True)
class RecipientState:
    state: DeliveryState
    reason: str | None = None


@dataclass(frozen=True)
class Outcome:
    status: DeliveryStatus | None  # None: some recipient is still pending
    reason: str | None = None


def outcome_of(recipients: Sequence[RecipientState]) -> Outcome:
    """The request-level status the recipients' states add up to."""
    if not recipients or not all(r.state.settled for r in recipients):
        return Outcome(None)
    failed = [r for r in recipients if r.state is DeliveryState.FAILED]
    first_reason = next((r.reason for r in failed if r.reason), "not delivered")
    if len(failed) == len(recipients):
        return Outcome(DeliveryStatus.FAILED, first_reason)
    reason = (
        f"{len(failed)} of {len(recipients)} recipients failed: {first_reason}" if failed else None
    )
    reached = [r for r in recipients if r.state is not DeliveryState.FAILED]
    if all(r.state is DeliveryState.DELIVERED for r in reached):
        return Outcome(DeliveryStatus.DELIVERED, reason)
    return Outcome(DeliveryStatus.SENT, reason)


def transitions(current: DeliveryStatus, target: DeliveryStatus | None) -> list[DeliveryStatus]:
    """The statuses to publish to move from ``current`` to ``target`` (none if not forward).

    ``queued`` straight to ``delivered`` (a channel that confirms at once) passes through
    ``sent``, so every delivered request was also reported sent.
    """
    if target is None or target not in _NEXT[current]:
        return []
    if current is DeliveryStatus.QUEUED and target is DeliveryStatus.DELIVERED:
        return [DeliveryStatus.SENT, DeliveryStatus.DELIVERED]
    return [target]
