"""The notifier's Kafka entrypoint: requests are read in batches and accepted in one
transaction per batch; contract violations are dead-lettered (with the original record)
and recorded ``failed`` instead of tried.

A per-record FastStream subscriber committed an offset and a transaction per request,
which capped intake near 70 requests a second; the batch consumer commits a batch's
offsets once its transaction is durable, so a crash redelivers (and the request keys make
the redelivery change nothing) rather than loses.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel

from anbu_contracts import NotificationRequest
from anbu_contracts.topics import NOTIFY_REQUEST
from anbu_runtime.batch import BatchConsumer, Received
from anbu_runtime.kafka import DeadLetter
from anbu_runtime.service import ServiceRuntime

from ..domain import admission
from ..domain.admission import RequestRejected
from ..handlers import Notifier

GROUP = "notifier"


class Refused(DeadLetter):
    """A request admission refused: dead-lettered, and recorded failed for its producer."""

    def __init__(self, request: NotificationRequest, error: RequestRejected) -> None:
        super().__init__(f"notification request rejected: {error}")
        self.request = request


class RequestConsumer(BatchConsumer):
    """The runtime's batch consumer, with the notifier's admission check at decoding time
    (so a refused request is dead-lettered from its original bytes)."""

    def __init__(self, notifier: Notifier, **options: Any) -> None:
        super().__init__(**options)
        self.notifier = notifier

    def _decode(self, record: Any) -> BaseModel | Exception:  # type: ignore[override]
        decoded = BatchConsumer._decode(record)
        if isinstance(decoded, NotificationRequest):
            try:
                admission.check(decoded, self.notifier.renderer)
            except RequestRejected as exc:
                return Refused(decoded, exc)
        return decoded

    async def _dead_letter(self, record: Any, exc: Exception, reason: str) -> None:
        await super()._dead_letter(record, exc, reason)
        if isinstance(exc, Refused):
            await self.notifier.accept_many([exc.request])  # recorded failed, reported


def register(runtime: ServiceRuntime, notifier: Notifier, group: str = GROUP) -> RequestConsumer:
    async def accept(received: list[Received]) -> None:
        await notifier.accept_many(
            [r.event for r in received if isinstance(r.event, NotificationRequest)]
        )

    consumer = RequestConsumer(
        notifier,
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=group,
        topics=[NOTIFY_REQUEST.name],
        handler=accept,
        producer=runtime.producer,
        max_records=250,  # a batch holds the one SQLite writer: keep it short beside the sends
        instance_id=runtime.common.instance_id,
    )
    runtime.declare_subscription(
        [NOTIFY_REQUEST],
        NotificationRequest,
        title="notifier",
        description="Requests to reach a person, by reference.",
    )

    async def consume(stop: asyncio.Event) -> None:
        await consumer.run(stop)

    runtime.add_background("requests", consume)
    runtime.add_ready_check("requests", consumer.ready)
    return consumer
