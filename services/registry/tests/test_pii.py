"""Personal data is sealed at rest, rotatable, and found only through blind indexes."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from anbu_contracts import RecipientKind, RecipientRef
from anbu_registry.adapters.migrations import upgrade
from anbu_registry.adapters.orm import metadata
from anbu_registry.adapters.pii import PiiCipher
from anbu_registry.adapters.repository import Repositories
from anbu_registry.domain.model import HouseholdIn
from anbu_registry.handlers import households, recipients
from anbu_registry.handlers.common import Context
from anbu_runtime.auth import SERVICE
from anbu_runtime.clock import SystemClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.uow import Transactions

OLD, NEW, INDEX = os.urandom(32), os.urandom(32), os.urandom(32)


def test_sealed_values_open_only_in_their_own_context() -> None:
    cipher = PiiCipher([("k1", OLD)], INDEX)
    token = cipher.seal("010-1234-5678", context="person.phone")
    assert "1234" not in token
    assert cipher.open(token, context="person.phone") == "010-1234-5678"
    with pytest.raises(InvalidTag):
        cipher.open(token, context="person.name")


def test_after_a_rotation_old_values_still_open_and_new_ones_use_the_new_key() -> None:
    old = PiiCipher([("k1", OLD)], INDEX).seal("김영희", context="person.name")
    rotated = PiiCipher([("k2", NEW), ("k1", OLD)], INDEX)
    assert rotated.open(old, context="person.name") == "김영희"
    assert rotated.needs_rotation(old)
    assert not rotated.needs_rotation(rotated.seal("김영희", context="person.name"))


def test_the_blind_index_matches_a_number_however_it_is_written() -> None:
    cipher = PiiCipher([("k1", OLD)], INDEX)
    assert cipher.blind_index("010-1234-5678", kind="phone") == cipher.blind_index(
        "01012345678", kind="phone"
    )
    assert cipher.blind_index("010-1234-5678", kind="phone") != PiiCipher(
        [("k1", OLD)], os.urandom(32)
    ).blind_index("010-1234-5678", kind="phone")


def test_the_notifier_resolves_a_sealed_number_and_the_file_never_holds_it(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'registry.db'}")
    upgrade(db)
    ctx = Context(PiiCipher([("k1", OLD)], INDEX))
    tx = Transactions(
        db, Outbox(install(metadata), "registry"), SystemClock(), lambda s: Repositories(s, ctx)
    )
    household = HouseholdIn.model_validate(
        {
            "district_code": "11110",
            "dong_code": "1111051500",
            "tier": "high_risk",
            "address": "서울특별시 종로구 비밀로 7",
            "people": [{"relation": "resident", "name": "홍길순", "phone": "010-5555-7777"}],
        }
    )
    household_id = tx.run_sync(lambda uow: households.register(uow, household, SERVICE))
    [address] = tx.run_sync(
        lambda uow: recipients.resolve(
            uow,
            RecipientRef(kind=RecipientKind.RESIDENT, household_id=household_id),
            SERVICE,
            "unit test",
        ),
    )
    assert address.phone == "010-5555-7777" and address.name == "홍길순"
    db.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in ("010-5555-7777", "01055557777", "홍길순", "비밀로"):
        assert secret.encode() not in raw
    assert household_id.encode() in raw  # the pseudonymous id is not secret


def test_a_blind_index_is_the_hmac_sha256_of_kind_and_normalised_value() -> None:
    # Indexes already stored must keep matching: the digest is fixed by the key and input.
    index_key = bytes(range(32))
    cipher = PiiCipher([("k1", os.urandom(32))], index_key)
    assert cipher.blind_index("010-1234 5678", kind="phone") == _hmac(
        index_key, b"phone:01012345678"
    )
    assert cipher.blind_index("  서울 예시로  1 ", kind="address") == _hmac(
        index_key, "address:서울 예시로 1".encode()
    )


def _hmac(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()
