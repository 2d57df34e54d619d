"""Delivery channels behind one interface, and the failures they report.

Every channel takes an :class:`OutgoingMessage` and either returns a :class:`SendResult`
(the provider accepted it) or raises a :class:`DeliveryError` that says whether trying
again could help: :class:`TemporaryFailure` (5xx, timeouts, connection errors),
:class:`RateLimited` (429, with the provider's Retry-After) or :class:`PermanentFailure`
(anything else; the next channel is tried).

The console sink is the embedded default for ``make run``: it appends one JSON line per
message to ``var/notifier/sink.jsonl`` with the address and the recipient's name masked
(in the text too: templates greet the recipient by name), and reports the message delivered
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from anbu_contracts import Locale
from anbu_contracts.notify import Channel as ChannelName
from anbu_runtime.logs import scrub

from ..domain.retry import parse_retry_after


@dataclass(frozen=True)
class OutgoingMessage:
    request_key: str
    idempotency_key: str
    channel: ChannelName
    address: str = field(repr=False)
    text: str = field(repr=False)
    template: str
    urgency: str
    locale: Locale = Locale.KO
    household_id: str | None = None
    # The recipient's name as rendered into ``text``: a channel that keeps a copy of the text
    # (the console sink) masks it there; providers get the text as it is.
    recipient_name: str = field(default="", repr=False)


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str
    delivered: bool  # the channel confirms delivery synchronously (console, webhooks)


class DeliveryError(Exception):
    """A send did not go through. ``reason`` never holds an address."""

    temporary = False
    retry_after: float | None = None

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = scrub(reason)[:200]


class TemporaryFailure(DeliveryError):
    temporary = True


class RateLimited(TemporaryFailure):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentFailure(DeliveryError):
    temporary = False


class Channel(Protocol):
    name: ChannelName

    async def send(self, message: OutgoingMessage) -> SendResult: ...

    async def close(self) -> None: ...


def failure_from_response(response: httpx.Response, what: str) -> DeliveryError | None:
    """The failure an HTTP response means under the provider protocol, or None for 2xx.

    429 is rate limiting (Retry-After honoured); 408 and 5xx are temporary; any other 4xx is
    permanent. Only the status and the provider's error code go into the reason: error
    messages may echo the number or address.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    code = _error_code(response)
    reason = f"{what} answered {status}" + (f" {code}" if code else "")
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        return RateLimited(reason, retry_after)
    if status == 408 or status >= 500:
        return TemporaryFailure(reason)
    return PermanentFailure(reason)


def _error_code(response: httpx.Response) -> str | None:
    try:
        body: Any = response.json()
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code)[:40] if code is not None else None


def transport_failure(exc: httpx.HTTPError, what: str) -> TemporaryFailure:
    """A timeout or connection error: the provider may or may not have the message."""
    if isinstance(exc, httpx.TimeoutException):
        return TemporaryFailure(f"{what} timed out")
    return TemporaryFailure(f"{what} unreachable ({type(exc).__name__})")


_PHONE_LIKE = re.compile(r"^\+?[\d -]{7,}$")


def mask(address: str) -> str:
    """Keep only enough of an address to tell messages apart: 010-****-0001, k***@example.org.

    Liaison endpoint names (``fire_liaison``) are not personal data and are kept.
    """
    if "@" in address:
        local, domain = address.split("@", 1)
        return f"{local[:1]}***@{domain}"
    if _PHONE_LIKE.match(address):
        digits = [c for c in address if c.isdigit()]
        return f"{''.join(digits[:3])}-****-{''.join(digits[-4:])}"
    return address if address.replace("_", "").isalpha() else "****"


def mask_name(name: str) -> str:
    """Keep a name's first and last letter, like a masked address: 김민수 → 김*수, 김수 → 김*."""
    letters = name.strip()
    if len(letters) <= 1:
        return "*" * len(letters)
    if len(letters) == 2:
        return letters[0] + "*"
    middle = "".join(" " if c.isspace() else "*" for c in letters[1:-1])
    return letters[0] + middle + letters[-1]


def mask_name_in(text: str, name: str) -> str:
    """``text`` with every occurrence of ``name`` masked (see :func:`mask_name`)."""
    name = name.strip()
    return text.replace(name, mask_name(name)) if name else text


class ConsoleSink:
    """Appends messages to a file; honours the idempotency key as a provider does.

    A message sent once is never appended again under the same idempotency key, even by
    another notifier instance sharing the file: the notifier sends first and records the
    delivery after, so a delivery that could not be recorded (its database was down) is
    sent again, and a real provider drops that second call by its key.
    """

    name = ChannelName.CONSOLE

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = asyncio.Lock()
        self._sent: set[str] = set()  # idempotency keys in the file up to _read_to
        self._read_to = 0

    async def send(self, message: OutgoingMessage) -> SendResult:
        message_id = f"console-{message.idempotency_key}"
        line = json.dumps(
            {
                "at": datetime.now(UTC).isoformat(),
                "provider_message_id": message_id,
                "request_key": message.request_key,
                "idempotency_key": message.idempotency_key,
                "to": mask(message.address),
                "template": message.template,
                "urgency": message.urgency,
                "text": mask_name_in(message.text, message.recipient_name),
            },
            ensure_ascii=False,
        )
        async with self._lock:
            try:
                await asyncio.to_thread(self._append_once, message.idempotency_key, line)
            except OSError as exc:
                raise TemporaryFailure(f"sink not writable ({type(exc).__name__})") from exc
        return SendResult(provider_message_id=message_id, delivered=True)

    def _append_once(self, key: str, line: str) -> None:
        with self.path.open("a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # other instances append to the same file
            fh.seek(self._read_to)
            for existing in fh:  # the lines appended since this instance last looked
                if existing.endswith(b"\n"):
                    with contextlib.suppress(ValueError):
                        self._sent.add(json.loads(existing).get("idempotency_key", ""))
                    self._read_to += len(existing)
            if key in self._sent:
                return
            fh.write(line.encode() + b"\n")
            fh.flush()
            self._sent.add(key)
            self._read_to = fh.tell()

    async def close(self) -> None:
        return None
