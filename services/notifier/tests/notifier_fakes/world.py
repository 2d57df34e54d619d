"""The notifier as its bootstrap wires it, on a manual clock, with fakes around it: what
the service tests drive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from sqlalchemy import select
from sqlmodel import Session
from sqlmodel import select as sm_select

from anbu_contracts import (
    TOPICS_BY_NAME,
    Locale,
    NotificationRequest,
    NotificationStatusEvent,
    RecipientKind,
    RecipientRef,
    Urgency,
)
from anbu_contracts.notify import Channel
from anbu_notifier.adapters.orm import DeliveryRow, NotificationRow
from anbu_notifier.bootstrap import NotifierSettings, Service
from anbu_notifier.domain.model import Recipient
from anbu_runtime.clock import ManualClock

from .directory import FakeDirectory
from .provider import Accepted, FakeProvider
from .smtp import SmtpServer

# Tuesday 2026-11-24 10:00 in Seoul: inside nobody's quiet hours.
T0 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
API_KEY = "test-key"
RECEIPT_SECRET = "receipt-secret"
HOOK_SECRETS = {"fire_liaison": "fire-secret", "police_liaison": "police-secret"}
TEMPLATE_CODES = {"safety_check.day1_text": "ANBU_DAY1", "task.offered": "ANBU_TASK"}


def household_id() -> str:
    return "HH-" + uuid4().hex[:10].upper()


def resident(
    ref: str = "P-1",
    *,
    phone: str | None = "010-1234-5678",
    email: str | None = None,
    preferred: Channel = Channel.SMS,
    locale: Locale = Locale.KO,
    name: str = "김안부",
) -> Recipient:
    return Recipient(
        person_ref=ref,
        name=name,
        phone=phone,
        email=email,
        locale=locale,
        preferred_channel=preferred,
        quiet_start=time(23, 0),
        quiet_end=time(7, 0),
        timezone="Asia/Seoul",
    )


class World:
    """The notifier wired by its bootstrap, on a manual clock, with fakes around it."""

    def __init__(
        self,
        service: Service,
        directory: FakeDirectory,
        clock: ManualClock,
        provider: FakeProvider,
        smtp: SmtpServer,
    ) -> None:
        self._provider = provider
        self._smtp = smtp
        self.service = service
        self.directory = directory
        self.clock = clock
        self.notifier = service.notifier
        self.dispatcher = service.dispatcher
        self.runtime = service.runtime
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=service.app), base_url="http://notifier"
        )

    def request(
        self,
        household: str | None,
        *,
        kind: RecipientKind = RecipientKind.RESIDENT,
        ref: str | None = None,
        template: str = "safety_check.day1_text",
        urgency: Urgency = Urgency.HIGH,
        channels: list[Channel] | None = None,
        variables: dict[str, str] | None = None,
        locale: Locale | None = None,
        key: str | None = None,
    ) -> NotificationRequest:
        now = self.clock.now()
        return NotificationRequest(
            occurred_at=now,
            produced_at=now,
            source="test",
            request_id=uuid4(),
            request_key=key or f"test:{uuid4()}",
            recipient=RecipientRef(kind=kind, household_id=household, ref=ref),
            template=template,
            urgency=urgency,
            locale=locale,
            variables=variables or {},
            channels=channels or [],
            household_id=household,
        )

    async def send(self, request: NotificationRequest) -> list[NotificationStatusEvent]:
        """Accept ``request`` and run the dispatcher; return the statuses it published."""
        await self.notifier.accept(request)
        await self.dispatcher.run_once()
        return self.statuses(request.request_key)

    @property
    def provider(self) -> FakeProvider:
        return self._provider

    @property
    def smtp(self) -> SmtpServer:
        return self._smtp

    def provider_messages(self) -> list[Accepted]:
        return self._provider.state.accepted()

    async def post_receipts(self) -> list[str]:
        """Post the gateway's pending receipts to the notifier's receipt endpoint."""
        with self._provider.state.lock:
            pending = list(self._provider.state.pending_receipts)
            self._provider.state.pending_receipts.clear()
        answers = []
        for body, headers in pending:
            response = await self.post("/v1/receipts/" + self._receipt_path(body), body, headers)
            assert response.status_code == 202, response.text
            answers.append(response.json()["result"])
        return answers

    def _receipt_path(self, body: bytes) -> str:
        message_id = json.loads(body)["message_id"]
        kinds = {m.message_id: m.kind for m in self.provider_messages()}
        return "alimtalk" if kinds.get(message_id) == "alimtalk" else "sms"

    def statuses(self, request_key: str | None = None) -> list[NotificationStatusEvent]:
        """Statuses staged in the outbox (what the relay publishes), oldest first."""
        outbox = self.runtime.tables.outbox
        with self.runtime.db.session() as session:
            rows = session.execute(
                select(outbox.c.topic, outbox.c.value).order_by(outbox.c.id)
            ).all()
        events = [
            TOPICS_BY_NAME[topic].model.model_validate_json(value)
            for topic, value in rows
            if topic == "notify.status.v1"
        ]
        return [e for e in events if request_key in (None, e.request_key)]  # type: ignore[union-attr]

    def deliveries(self, request_key: str) -> list[DeliveryRow]:
        with Session(self.runtime.db.engine) as session:
            return list(
                session.exec(
                    sm_select(DeliveryRow).where(DeliveryRow.request_key == request_key)
                ).all()
            )

    def notification(self, request_key: str) -> NotificationRow | None:
        with Session(self.runtime.db.engine) as session:
            return session.get(NotificationRow, request_key)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self._client.post(path, content=body, headers=headers)

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self._client.get(path, headers=headers or {})

    async def close(self) -> None:
        await self._client.aclose()
        for channel in self.notifier.channels.values():
            await channel.close()
        self.runtime.db.dispose()


def settings_for(
    database_url: str,
    provider: FakeProvider,
    smtp_server: SmtpServer,
    tmp_path: Path,
    gateway_timeout_s: float = 0.5,
    **overrides: Any,
) -> NotifierSettings:
    gateway = {
        "base_url": provider.url,
        "api_key": API_KEY,
        "receipt_secret": RECEIPT_SECRET,
        "timeout_s": gateway_timeout_s,
    }
    values: dict[str, Any] = {
        "database_url": database_url,
        "sink_path": tmp_path / "sink.jsonl",
        "enabled_channels": ["alimtalk", "sms", "email", "webhook"],
        "default_channel": "sms",
        "sms": {**gateway, "sender": "0212345678"},
        "alimtalk": {**gateway, "sender": "KAKAO-SENDER-KEY", "template_codes": TEMPLATE_CODES},
        "smtp": {
            "host": "127.0.0.1",
            "port": smtp_server.port,
            "sender": "anbu <noreply@anbu.example>",
            "tls": "none",
            "timeout_s": 2,
        },
        "liaisons": {
            name: {"url": f"{provider.url}/hooks/{name}", "secret": secret}
            for name, secret in HOOK_SECRETS.items()
        },
        # Fast retries: the tests are about behaviour, not waiting.
        "retry_attempts": 4,
        "retry_base_s": 0.01,
        "retry_max_s": 0.05,
        "retry_budget_s": 30,
    }
    values.update(overrides)
    return NotifierSettings(**values)
