"""Delivery channels behind one interface.

The console sink is the embedded default for ``make run``: it appends one JSON line per
message to ``var/notifier/sink.jsonl``, with the address masked, and reports the message
delivered at once. SMS, alert-message, e-mail and webhook channels implement the same
interface against real providers.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from uuid import uuid4

from anbu_contracts.notify import Channel as ChannelName


@dataclass(frozen=True)
class OutgoingMessage:
    request_key: str
    channel: ChannelName
    address: str
    text: str
    template: str
    urgency: str


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    delivered: bool  # the channel confirms delivery synchronously


class DeliveryError(Exception):
    def __init__(self, reason: str, *, temporary: bool) -> None:
        super().__init__(reason)
        self.temporary = temporary


class Channel(Protocol):
    name: ChannelName

    async def send(self, message: OutgoingMessage) -> SendResult: ...


def mask(address: str) -> str:
    """Keep only enough of an address to tell messages apart: 010-****-0001, k***@example.org."""
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    digits = [c for c in address if c.isdigit()]
    return f"{''.join(digits[:3])}-****-{''.join(digits[-4:])}" if len(digits) >= 7 else "****"


class ConsoleSink:
    name = ChannelName.CONSOLE

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()

    async def send(self, message: OutgoingMessage) -> SendResult:
        message_id = f"console-{uuid4()}"
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "provider_message_id": message_id,
                "request_key": message.request_key,
                "to": mask(message.address),
                "template": message.template,
                "urgency": message.urgency,
                "text": message.text,
            },
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)
        return SendResult(provider_message_id=message_id, delivered=True)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")
