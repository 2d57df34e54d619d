"""A real SMTP server (aiosmtpd) on a local port that records what it receives.

It can be told to answer the next messages with a temporary (451) or permanent (550)
error. ``duplicates`` counts Message-IDs received more than once.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from .provider import free_port


@dataclass(frozen=True)
class Received:
    message_id: str
    to: list[str]
    subject: str
    body: str
    headers: dict[str, str]


class RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.replies: deque[str] = deque()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.replies:
                return self.replies.popleft()
            parsed: Message = message_from_bytes(envelope.content, policy=default)
            body = parsed.get_body(preferencelist=("plain",))
            self.received.append(
                Received(
                    message_id=str(parsed["Message-ID"]),
                    to=list(envelope.rcpt_tos),
                    subject=str(parsed["Subject"]),
                    body=body.get_content().strip() if body is not None else "",
                    headers={k: str(v) for k, v in parsed.items()},
                )
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.replies.clear()

    def fail_next(self, *replies: str) -> None:
        with self.handler.lock:
            self.handler.replies.extend(replies)

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def duplicates(self) -> int:
        counts = Counter(r.message_id for r in self.received)
        return sum(n - 1 for n in counts.values())
