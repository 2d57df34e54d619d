"""Pseudonymous identifiers: random, carrying nothing about the person."""

from __future__ import annotations

import secrets

# Crockford's base32 alphabet (no I, L, O, U: easy to read aloud).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Every pair of characters, by the 10 bits it stands for: half the lookups a character.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def new_id(prefix: str, length: int = 10) -> str:
    # 5 random bits a character, taken from one integer, most significant first:
    # base64.b32encode is pure Python and was a twentieth of a bulk import's time.
    value = secrets.randbits(5 * length)
    chars = [_PAIRS[(value >> shift) & 1023] for shift in range(10 * (length // 2 - 1), -1, -10)]
    if length % 2:  # the odd character out is the first
        chars.insert(0, _CROCKFORD[value >> 5 * (length - 1)])
    return prefix + "".join(chars)


def new_household_id() -> str:
    return new_id("HH-")


def new_worker_id() -> str:
    return new_id("W-", 8)


def new_person_id() -> str:
    return new_id("P-")
