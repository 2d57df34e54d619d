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
from collections.abc import Awaitable, Callable

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


def admit(notifier: Notifier) -> Callable[[BaseModel], BaseModel | Exception]:
    """The notifier's admission check at decoding time, so a refused request is
    dead-lettered from its original bytes."""

    def check(event: BaseModel) -> BaseModel | Exception:
        if isinstance(event, NotificationRequest):
            try:
                admission.check(event, notifier.renderer)
            except RequestRejected as exc:
                return Refused(event, exc)
        return event

    return check


def record_refused(notifier: Notifier) -> Callable[[Exception], Awaitable[None]]:
    async def after_dead_letter(exc: Exception) -> None:
        if isinstance(exc, Refused):
            await notifier.accept_many([exc.request])  # recorded failed, reported

    return after_dead_letter


def register(runtime: ServiceRuntime, notifier: Notifier, group: str = GROUP) -> BatchConsumer:
    async def accept(received: list[Received]) -> None:
        await notifier.accept_many(
            [r.event for r in received if isinstance(r.event, NotificationRequest)]
        )

    consumer = BatchConsumer(
        service=runtime.name,
        bootstrap=runtime.common.kafka_bootstrap,
        group_id=group,
        topics=[NOTIFY_REQUEST.name],
        handler=accept,
        producer=runtime.producer,
        max_records=250,  # a batch holds the one SQLite writer: keep it short beside the sends
        instance_id=runtime.common.instance_id,
        admit=admit(notifier),
        after_dead_letter=record_refused(notifier),
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
