"""Providers' delivery receipts: each applied once, the ones arriving together in one
transaction.

A receipt for a message we have not recorded yet (it overtook the commit of our own
``sent``) is kept and applied by that commit (:func:`.outcomes.on_sent`). A failure receipt
moves the delivery to its next channel, and the dispatcher is woken for it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from anbu_contracts import DeliveryStatus
from anbu_contracts.notify import Channel
from anbu_runtime.uow import HandlerTable

from ..adapters.repository import MessageRef, NotifierRepository
from .batching import Uow, publish_changes

ReceiptResult = Literal["applied", "held", "duplicate"]


class RecordReceipt(BaseModel):
    model_config = ConfigDict(frozen=True)

    provider: Channel
    message_id: str
    status: str
    reason: str | None = None

    @property
    def ref(self) -> MessageRef:
        return (self.provider.value, self.message_id)


HANDLERS: HandlerTable[NotifierRepository] = HandlerTable()


def prefetch(receipts: list[Any], uow: Uow) -> None:
    """Whose deliveries the receipts are, those requests (locked), and the receipts kept:
    the new ones inserted (a duplicate is not), already applied where the delivery is
    known (their handlers apply them in this unit)."""
    refs = list(dict.fromkeys(r.ref for r in receipts))
    owners = uow.repos.deliveries_for(refs)
    uow.repos.load(key for key, _ in owners.values())
    uow.repos.add_receipts(
        [
            {
                "provider": r.provider.value,
                "message_id": r.message_id,
                "status": r.status,
                "reason": r.reason[:200] if r.reason else None,
                "received_at": uow.now,
                "applied_at": uow.now if r.ref in owners else None,
            }
            for r in {r.ref: r for r in receipts}.values()
        ]
    )


@HANDLERS.register(RecordReceipt)
def on_receipt(receipt: RecordReceipt, uow: Uow) -> tuple[ReceiptResult, bool]:
    """``applied`` (and whether it sends the message to its next channel), ``held`` or
    ``duplicate``."""
    if not uow.repos.first_receipt(receipt.ref):
        return "duplicate", False
    owner = uow.repos.delivery_of(receipt.ref)
    if owner is None:
        return "held", False
    try:
        return "applied", _apply(uow, owner, receipt.status, receipt.reason)
    except (LookupError, ValueError):
        uow.repos.receipts_applied([receipt.ref], None)  # kept unapplied: the sweep retries
        raise


def _apply(uow: Uow, owner: tuple[str, str], status: str, reason: str | None) -> bool:
    """Apply a receipt to its delivery; True when it sends the message to its next channel."""
    request_key, person_ref = owner
    notification = uow.repos.get(request_key)
    delivery = notification.delivery(person_ref)
    fallback = delivery.receipt(status == DeliveryStatus.DELIVERED.value, reason, uow.now)
    if fallback:
        notification.next_at = uow.now
    notification.settle(uow.now, latest=delivery)
    return fallback


def apply_overtaken(uow: Uow, limit: int = 500) -> tuple[int, bool]:
    """Apply held receipts whose send has been recorded since (they passed each other):
    how many, and whether any sends a message to its next channel."""
    owners = uow.repos.overtaken_receipts(limit)
    if not owners:
        return 0, False
    uow.repos.load(key for key, _ in owners.values())  # locked: a send's commit waits
    still = uow.repos.held_receipts(list(owners))  # re-read under the lock
    fallback = False
    uow.repos.receipts_applied(list(still), uow.now)
    for ref, (status, reason) in still.items():
        fallback = _apply(uow, owners[ref], status, reason) or fallback
    publish_changes(uow)
    return len(still), fallback
