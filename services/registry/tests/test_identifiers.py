"""Ids are Crockford base32 of random bits, most significant first: the pair table the
import's speed asked for must spell every id as one character at a time would."""

from __future__ import annotations

import random

import pytest

from anbu_registry.domain import identifiers
from anbu_registry.domain.identifiers import new_household_id, new_id, new_worker_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def spelled(value: int, length: int) -> str:
    return "".join(CROCKFORD[(value >> 5 * i) & 31] for i in reversed(range(length)))


@pytest.mark.parametrize("length", range(1, 13))
def test_an_id_spells_its_random_bits_one_character_a_five_bits(
    length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(length)
    values = [0, 2 ** (5 * length) - 1] + [rng.getrandbits(5 * length) for _ in range(200)]
    for value in values:
        monkeypatch.setattr(identifiers.secrets, "randbits", lambda bits, v=value: v)
        assert new_id("X-", length) == "X-" + spelled(value, length)


def test_issued_ids_match_the_contract_patterns() -> None:
    assert len(new_household_id()) == len("HH-") + 10
    assert len(new_worker_id()) == len("W-") + 8
    assert len({new_household_id() for _ in range(10_000)}) == 10_000
