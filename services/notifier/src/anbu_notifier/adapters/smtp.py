"""E-mail over SMTP (aiosmtplib).

SMTP has no idempotency key. The Message-ID is derived from the message's idempotency key,
so a message re-sent after a crash carries the same Message-ID, which receiving systems
use to recognise the duplicate. The server's 250 means "sent"; there are no receipts.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Literal

import aiosmtplib

from anbu_contracts.notify import Channel as ChannelName

from ..domain.messages import subject_of
from .channels import (
    DeliveryError,
    OutgoingMessage,
    PermanentFailure,
    SendResult,
    TemporaryFailure,
)

Tls = Literal["none", "starttls", "tls"]


class SmtpChannel:
    name = ChannelName.EMAIL

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        tls: Tls = "starttls",
        timeout_s: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.tls = tls
        self.timeout_s = timeout_s
        domain = parseaddr(sender)[1].rpartition("@")[2]
        self.message_id_domain = domain or "anbu.invalid"

    def message_id(self, message: OutgoingMessage) -> str:
        return f"<{message.idempotency_key}@{self.message_id_domain}>"

    def compose(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.address
        email["Subject"] = subject_of(message.text)
        email["Message-ID"] = self.message_id(message)
        email["Date"] = formatdate(usegmt=True)
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.text)
        email["Content-Language"] = message.locale.value  # after set_content, which resets it
        return email

    async def send(self, message: OutgoingMessage) -> SendResult:
        email = self.compose(message)
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.tls == "tls",
                start_tls=self.tls == "starttls",
                timeout=self.timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise _by_code(min(codes) if codes else 550, "recipient refused") from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise _by_code(exc.code, "SMTP server") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryFailure(f"SMTP server unreachable ({type(exc).__name__})") from exc
        return SendResult(provider_message_id=email["Message-ID"][:128], delivered=False)

    async def close(self) -> None:
        return None


def _by_code(code: int, what: str) -> DeliveryError:
    """4xx replies are worth another try; 5xx replies are final for this channel."""
    if 400 <= code < 500:
        return TemporaryFailure(f"{what} answered {code}")
    return PermanentFailure(f"{what} answered {code}")
