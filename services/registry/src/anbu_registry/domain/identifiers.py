"""Pseudonymous identifiers: random, carrying nothing about the person."""

from __future__ import annotations

import base64
import secrets

# RFC 4648 base32 mapped onto Crockford's alphabet (no I, L, O, U: easy to read aloud).
_TO_CROCKFORD = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)


def new_id(prefix: str, length: int = 10) -> str:
    raw = base64.b32encode(secrets.token_bytes((length * 5 + 7) // 8)).decode()
    return prefix + raw[:length].translate(_TO_CROCKFORD)


def new_household_id() -> str:
    return new_id("HH-")


def new_worker_id() -> str:
    return new_id("W-", 8)


def new_person_id() -> str:
    return new_id("P-")
