"""The notifier's Kafka entrypoint: accept each request once; contract violations are
dead-lettered (with the original record) instead of tried."""

from __future__ import annotations

from anbu_contracts import NotificationRequest
from anbu_contracts.topics import NOTIFY_REQUEST
from anbu_runtime.kafka import DeadLetter, subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..handlers import Notifier, RequestRejected

GROUP = "notifier"


def register(runtime: ServiceRuntime, notifier: Notifier, group: str = GROUP) -> None:
    @runtime.broker.subscriber(
        NOTIFY_REQUEST.name,
        **subscriber_options(
            group, title="notifier", description="Requests to reach a person, by reference."
        ),
    )
    async def on_request(request: NotificationRequest) -> None:
        try:
            await notifier.accept(request)
        except RequestRejected as exc:
            raise DeadLetter(f"notification request rejected: {exc}") from exc
