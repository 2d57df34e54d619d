"""The notifier's vocabulary: recipients (resolved at send time) and delivery states."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum

from anbu_contracts import Locale
from anbu_contracts.notify import Channel

DEFAULT_TIMEZONE = "Asia/Seoul"


@dataclass(frozen=True)
class Recipient:
    """One person (or liaison system) a request reaches, as the registry resolved it.

    Addresses live only in memory for the duration of a send: they are never stored,
    logged or put in events. ``repr`` leaves them out so an accidental log line cannot
    carry them either.
    """

    person_ref: str
    name: str = field(default="", repr=False)
    phone: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    locale: Locale = Locale.KO
    preferred_channel: Channel = Channel.SMS
    quiet_start: time | None = None
    quiet_end: time | None = None
    timezone: str = DEFAULT_TIMEZONE
    liaison: str | None = None  # for liaison systems: the configured endpoint's name

    def target(self, channel: Channel) -> str | None:
        """The address ``channel`` would use for this recipient, or None if it has none."""
        if channel in (Channel.SMS, Channel.ALIMTALK):
            return self.phone
        if channel is Channel.EMAIL:
            return self.email
        if channel is Channel.WEBHOOK:
            return self.liaison
        return self.phone or self.email or self.liaison  # the console sink takes any


class DeliveryState(StrEnum):
    """Where one recipient's message stands.

    ``sending`` is written *before* a provider is called, so after a crash the notifier
    knows a provider may already hold the message and re-sends it under the same
    idempotency key rather than a new one.
    """

    PENDING = "pending"  # to be sent on the current channel (possibly not before a time)
    SENDING = "sending"
    SENT = "sent"  # a provider accepted it; a receipt may follow
    DELIVERED = "delivered"
    FAILED = "failed"  # every channel was tried or none could reach the recipient

    @property
    def settled(self) -> bool:
        return self in (DeliveryState.SENT, DeliveryState.DELIVERED, DeliveryState.FAILED)
