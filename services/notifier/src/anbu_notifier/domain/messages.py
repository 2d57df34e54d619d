"""The shape of one outgoing message: its idempotency key, SMS or LMS, subject, number."""

from __future__ import annotations

import hashlib

from anbu_contracts.notify import Channel

SMS_MAX_BYTES = 90  # a Korean short message: 90 bytes in EUC-KR (45 Hangul syllables)
SUBJECT_MAX_CHARS = 60


def idempotency_key(request_key: str, person_ref: str, channel: Channel) -> str:
    """The key a provider de-duplicates one message by: one per request, person and channel.

    Re-sending after a crash or a timeout uses the same key, so the provider sends once. A
    fallback to another channel is another message and gets another key (one gateway often
    serves both alert messages and SMS). The key is a hash, so it is header- and
    Message-ID-safe whatever characters the request key uses.
    """
    raw = "\x1f".join((request_key, person_ref, channel.value)).encode()
    return hashlib.sha256(raw).hexdigest()[:40]


def sms_type(text: str) -> str:
    """``sms`` when the text fits one Korean short message, else ``lms`` (long message)."""
    size = len(text.encode("cp949", errors="replace"))
    return "sms" if size <= SMS_MAX_BYTES else "lms"


def subject_of(text: str) -> str:
    """A subject line for e-mail and long messages: the text's first line, shortened."""
    first = text.strip().splitlines()[0] if text.strip() else "anbu"
    return first if len(first) <= SUBJECT_MAX_CHARS else first[: SUBJECT_MAX_CHARS - 1] + "…"


def normalise_phone(phone: str) -> str:
    """Digits only (a leading + kept), the form SMS gateways take: 010-1234-5678 → 01012345678."""
    digits = "".join(c for c in phone if c.isdigit())
    return f"+{digits}" if phone.strip().startswith("+") else digits
