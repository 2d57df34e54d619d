"""Pseudonymous identifiers: random, carrying nothing about the person."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


def new_id(prefix: str, length: int = 10) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_household_id() -> str:
    return new_id("HH-")


def new_worker_id() -> str:
    return new_id("W-", 8)


def new_person_id() -> str:
    return new_id("P-")
