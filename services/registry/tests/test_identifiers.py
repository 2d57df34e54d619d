"""Ids are Crockford base32 of random bits, most significant first: the pair table the
import's speed asked for must spell every id as one character at a time would."""

from __future__ import annotations

import random

import pytest

from anbu_registry.domain import identifiers
from anbu_registry.domain.identifiers import (
    new_household_id,
    new_household_ids,
    new_id,
    new_ids,
    new_worker_id,
)

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


@pytest.mark.parametrize("length", [8, 9, 10])
def test_ids_drawn_at_once_spell_the_low_bits_of_each_value_of_their_bytes(
    length: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    width = (5 * length + 7) // 8
    pool = random.Random(length).randbytes(width * 300)
    monkeypatch.setattr(identifiers.secrets, "token_bytes", lambda n: pool[:n])
    values = [int.from_bytes(pool[at : at + width]) for at in range(0, width * 300, width)]
    expected = ["X-" + spelled(v & (2 ** (5 * length) - 1), length) for v in values]
    assert new_ids("X-", 300, length) == expected


def test_ids_drawn_at_once_are_unique_and_shaped_as_one_at_a_time() -> None:
    ids = new_household_ids(10_000)
    assert len(set(ids)) == 10_000 and new_ids("P-", 0) == []
    assert {(len(i), i[:3]) for i in ids} == {(len(new_household_id()), "HH-")}
