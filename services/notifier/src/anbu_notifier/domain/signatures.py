"""HMAC-SHA256 signatures on webhooks the notifier sends and receipts it receives.

The signed content is ``"<unix seconds>." + body``, so a captured request cannot be
replayed later with a fresh timestamp, and the body cannot be altered.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Anbu-Signature"
TIMESTAMP_HEADER = "X-Anbu-Timestamp"
SCHEME = "v1="


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def verify(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> bool:
    """Whether ``signature`` signs ``body`` with ``secret`` at a timestamp close to ``now``."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, int(timestamp), body)
    return hmac.compare_digest(expected.encode(), signature.strip().encode())
