"""The notifier's Kafka entrypoint."""

from __future__ import annotations

from anbu_contracts import NotificationRequest
from anbu_contracts.topics import NOTIFY_REQUEST
from anbu_runtime.kafka import subscriber_options
from anbu_runtime.service import ServiceRuntime

from ..handlers import Notifier

GROUP = "notifier"


def register(runtime: ServiceRuntime, notifier: Notifier) -> None:
    @runtime.broker.subscriber(
        NOTIFY_REQUEST.name,
        **subscriber_options(
            GROUP, title="notifier", description="Requests to reach a person, by reference."
        ),
    )
    async def on_request(request: NotificationRequest) -> None:
        await notifier.handle(request)
