"""The bulk import stages its snapshots itself (serialised in its worker processes, for
speed): the rows it writes must be the rows ``uow.publish_many`` would have staged for the
same household, so that the relay and every consumer see an imported household exactly as
a registered one. The expectation is built by hand from the CSV row, not from what the
import produced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from anbu_contracts import (
    ChannelEnrolment,
    HouseholdSnapshot,
    HouseholdStatus,
    Locale,
    MonitoringChannel,
    QuietHours,
    Tier,
)
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_registry.adapters.orm import HouseholdRow, metadata
from anbu_registry.handlers.imports import run_import
from anbu_runtime.auth import SERVICE
from anbu_runtime.db import Database
from anbu_runtime.outbox import install

from .conftest import registry_units

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
CSV = (
    "district_code,dong_code,tier,channels,medical_aid,resident_name,resident_phone,"
    "landlord_name\n"
    "11110,1111051500,high_risk,phone;smart_plug,y,김시험,010-0000-7777,박임대\n"
)


def staged(db: Database) -> list[tuple[Any, ...]]:
    outbox = install(metadata).outbox
    with db.session() as s:
        rows = s.execute(
            select(outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers).where(
                outbox.c.topic == REGISTRY_HOUSEHOLD.name
            )
        ).all()
    return [tuple(r) for r in rows]


def test_an_imported_snapshot_is_staged_as_publish_many_stages_it(tmp_path: Path) -> None:
    imported, ctx = registry_units(tmp_path / "imported.db", NOW)
    report = run_import(imported, ctx.cipher, CSV.splitlines(True), SERVICE)
    assert (report.imported, report.invalid) == (1, 0)
    with imported.db.session() as s:
        [household_id] = s.execute(select(HouseholdRow.household_id)).scalars().all()
    [(_, _, value, _)] = staged(imported.db)
    event_id = json.loads(value)["event_id"]  # random, like the household's id

    expected = HouseholdSnapshot(
        event_id=event_id,
        occurred_at=NOW,
        produced_at=NOW,
        source="registry",
        household_id=household_id,
        revision=1,
        district_code="11110",
        dong_code="1111051500",
        timezone="Asia/Seoul",
        tier=Tier.HIGH_RISK,
        status=HouseholdStatus.ACTIVE,
        channels=[
            ChannelEnrolment(channel=MonitoringChannel.PHONE, consent=True),
            ChannelEnrolment(channel=MonitoringChannel.SMART_PLUG, consent=True),
        ],
        quiet_hours=QuietHours(start=time(23, 0), end=time(7, 0)),
        programme="default",
        medical_aid=True,
        violence_risk=False,
        landlord_on_file=True,
        guardians_on_file=False,
        locale=Locale.KO,
    )
    published, _ = registry_units(tmp_path / "published.db", NOW)
    published.run_sync(lambda uow: uow.publish_many(REGISTRY_HOUSEHOLD, [expected]))

    assert staged(imported.db) == staged(published.db)
    imported.db.dispose()
    published.db.dispose()
