"""Pseudonymous identifiers: random, carrying nothing about the person."""

from __future__ import annotations

import secrets

# Crockford's base32 alphabet (no I, L, O, U: easy to read aloud).
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


# Every pair of characters, by the 10 bits it stands for: half the lookups a character.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]


def new_id(prefix: str, length: int = 10) -> str:
    return _spelled(prefix, secrets.randbits(5 * length), length)


def new_ids(prefix: str, count: int, length: int = 10) -> list[str]:
    """``count`` ids at once: one read of the system's random source, not one an id (each
    read is a system call, ~6 % of a bulk import's CPU when made per id)."""
    width = (5 * length + 7) // 8  # whole bytes a value; the bits past 5 * length dropped
    mask = (1 << 5 * length) - 1
    pool = secrets.token_bytes(width * count)
    return [
        _spelled(prefix, int.from_bytes(pool[at : at + width]) & mask, length)
        for at in range(0, width * count, width)
    ]


def _spelled(prefix: str, value: int, length: int) -> str:
    # 5 random bits a character, most significant first: base64.b32encode is pure Python
    # and was a twentieth of a bulk import's time.
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


def new_household_ids(count: int) -> list[str]:
    return new_ids("HH-", count)


def new_person_ids(count: int) -> list[str]:
    return new_ids("P-", count)
