"""The bulk import stages its snapshots itself (serialised in its worker processes, for
speed): the rows it writes must be the rows ``uow.publish_many`` would have staged, so that
the relay and every consumer see an imported household exactly as a registered one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from anbu_contracts import HouseholdSnapshot
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_registry.adapters.orm import metadata
from anbu_registry.handlers.import_batches import prepare_batch
from anbu_runtime.auth import SERVICE
from anbu_runtime.outbox import install

from .conftest import registry_units

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
ROW = {
    "district_code": "11110",
    "dong_code": "1111051500",
    "tier": "high_risk",
    "channels": "phone",
    "resident_name": "김시험",
    "resident_phone": "010-0000-7777",
    "landlord_name": "박임대",
}


def test_an_imported_snapshot_is_staged_as_publish_many_stages_it(tmp_path: Path) -> None:
    tx, ctx = registry_units(tmp_path / "registry.db", NOW)
    db = tx.db
    prepared = prepare_batch(ctx.cipher, [(2, [], ROW)], SERVICE, NOW, True)
    assert prepared.tables is not None and prepared.invalid == 0
    [imported] = prepared.tables.outbox
    snapshot = HouseholdSnapshot.model_validate_json(imported["value"])
    assert snapshot.landlord_on_file and snapshot.household_id

    tx.run_sync(lambda uow: uow.publish_many(REGISTRY_HOUSEHOLD, [snapshot]))
    outbox = install(metadata).outbox
    with db.session() as s:
        [published] = s.execute(
            select(outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
        ).all()
    db.dispose()
    assert (imported["topic"], imported["key"], imported["value"], imported["headers"]) == (
        published.topic,
        published.key,
        published.value,
        published.headers,
    )
