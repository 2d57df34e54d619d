"""The notifier's service layer in one object the entrypoints hold: accept requests,
claim and deliver due work, record receipts, look a request up.

Each use case lives in its own module (:mod:`.accept`, :mod:`.sending` with
:mod:`.outcomes`, :mod:`.receipts`); this object wires them to one set of transactions and
keeps what belongs to the running process (the claims in flight, the dispatcher's wake-up).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from anbu_contracts import NotificationRequest
from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import Transactions

from .. import metrics
from ..adapters.repository import NotifierRepository
from ..domain import admission
from ..domain.admission import RequestRejected
from ..domain.delivery import Notification
from ..domain.rendering import Renderer
from . import outcomes, receipts
from .accept import HANDLERS as ACCEPT
from .accept import AcceptRequests
from .batching import GroupCommit
from .receipts import ReceiptResult, RecordReceipt
from .sending import Sender

log = get_logger(__name__)


class Notifier:
    def __init__(
        self, tx: Transactions[NotifierRepository], renderer: Renderer, sender: Sender
    ) -> None:
        self.tx = tx
        self.renderer = renderer
        self.sender = sender
        self.channels = sender.channels
        self.instance = sender.instance
        self.work_available = asyncio.Event()
        self._receipts: GroupCommit[RecordReceipt] = GroupCommit(
            tx, receipts.HANDLERS, receipts.prefetch
        )
        self._inflight: set[str] = set()
        self._claimed: dict[str, Notification] = {}

    # -- accepting (the consumer) ------------------------------------------------------

    async def accept_many(
        self, requests: Sequence[NotificationRequest]
    ) -> list[bool | RequestRejected]:
        """Accept a batch in one transaction: per request True (queued), False (its key was
        seen before) or the :class:`RequestRejected` it was recorded ``failed`` for."""
        admitted: list[NotificationRequest] = []
        rejections: list[tuple[NotificationRequest, str]] = []
        verdicts: list[RequestRejected | None] = []
        for request in requests:
            try:
                admission.check(request, self.renderer)
                admitted.append(request)
                verdicts.append(None)
            except RequestRejected as exc:
                rejections.append((request, str(exc)))
                verdicts.append(exc)
        fresh = iter(
            await ACCEPT.handle(self.tx, AcceptRequests(requests=admitted, rejections=rejections))
        )
        results: list[bool | RequestRejected] = []
        for request, verdict in zip(requests, verdicts, strict=True):
            if verdict is not None:
                metrics.REQUESTS.labels("rejected").inc()
                log.warning(
                    "request rejected", request_key=request.request_key, reason=str(verdict)
                )
                results.append(verdict)
                continue
            accepted = next(fresh)
            if accepted:
                log.info(
                    "request accepted",
                    request_key=request.request_key,
                    template=request.template,
                    urgency=request.urgency.value,
                )
            else:
                log.info("duplicate request ignored", request_key=request.request_key)
            results.append(accepted)
        if any(r is True for r in results):
            self.work_available.set()
        return results

    async def accept(self, request: NotificationRequest) -> bool:
        """Store ``request`` and report it queued, once per request key.

        Returns False for a key seen before. Raises :class:`RequestRejected` (after
        recording the request as failed) when the request violates the contract.
        """
        [result] = await self.accept_many([request])
        if isinstance(result, RequestRejected):
            raise result
        return result

    # -- claiming and delivering (the dispatcher) ----------------------------------------

    async def claim_due(self, limit: int) -> list[str]:
        """Claim up to ``limit`` requests whose work is due; the claim is a lease."""
        if limit <= 0:
            return []
        busy = frozenset(self._inflight)
        real_now = datetime.now(UTC)  # leases are about processes, so wall-clock time
        claimed = await self.tx.run(
            lambda uow: uow.repos.claim(
                self.instance, limit, busy, uow.now, real_now, real_now + self.sender.timing.lease
            )
        )
        for notification in claimed:
            self._claimed[notification.request_key] = notification
            self._inflight.add(notification.request_key)
        return [n.request_key for n in claimed]

    async def release_own_claims(self) -> int:
        """Drop claims this instance held before a restart, so its work resumes at once."""
        return await self.tx.run(lambda uow: uow.repos.release_all(self.instance))

    async def deliver(self, request_key: str) -> None:
        """Do what is due for one claimed request, then release the claim."""
        try:
            work = self._claimed.pop(request_key, None)
            if work is not None:
                await self.sender.deliver(work)
        finally:
            self._inflight.discard(request_key)

    # -- receipts (the HTTP callback) ------------------------------------------------------

    async def record_receipt(
        self, provider: ChannelName, message_id: str, status: str, reason: str | None
    ) -> ReceiptResult:
        """Apply a delivery receipt once: ``applied``, ``held`` (ahead of our own record of
        the message; applied when it lands) or ``duplicate``."""
        [result] = await self.record_receipts(
            [RecordReceipt(provider=provider, message_id=message_id, status=status, reason=reason)]
        )
        if isinstance(result, Exception):
            raise result
        return result

    async def record_receipts(
        self, receipts: Sequence[RecordReceipt]
    ) -> list[ReceiptResult | Exception]:
        """Apply receipts arriving together (a gateway's batch) in one group transaction;
        per receipt its result, or the exception that refused it alone."""
        results: list[ReceiptResult | Exception] = []
        woken = False
        for receipt, outcome in zip(
            receipts, await self._receipts.submit_many(list(receipts)), strict=True
        ):
            if isinstance(outcome, Exception):
                results.append(outcome)
                continue
            result, fallback = outcome
            provider = receipt.provider.value
            metrics.RECEIPTS.labels(provider, result).inc()
            if result == "applied":
                metrics.DELIVERIES.labels(
                    provider, "fallback" if fallback else receipt.status
                ).inc()
            woken = woken or fallback
            results.append(result)
        if woken:
            self.work_available.set()
        return results

    async def apply_overtaken_receipts(self) -> int:
        """Apply receipts that passed the commit of their own send (the sweep's job)."""
        applied, fallback = await self.tx.run(receipts.apply_overtaken)
        if applied:
            log.info("receipts applied after their send was recorded", count=applied)
        if fallback:
            self.work_available.set()
        return int(applied)


def steps(tx: Transactions[NotifierRepository]) -> GroupCommit[outcomes.Step]:
    """The group commit the dispatcher's sends record their outcomes through."""
    return GroupCommit(tx, outcomes.HANDLERS, outcomes.prefetch)
