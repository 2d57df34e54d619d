"""The bulk import writes its households' snapshots as JSON text directly (for speed):
whatever the row, the outbox row must be byte for byte what ``outbox_row`` makes from the
contract model ``household_snapshot`` builds for the stored household, as every other path
into the outbox stages it. The expectation goes through the models; only the event id, which
is random, is taken from what the import produced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from anbu_contracts import MonitoringChannel, Tier
from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_registry.adapters.events import household_snapshot
from anbu_registry.adapters.pii import PiiCipher
from anbu_registry.adapters.snapshot_json import SnapshotWriter
from anbu_registry.domain.model import HouseholdIn
from anbu_registry.handlers.import_batches import Tables, prepare_batch
from anbu_runtime.auth import SERVICE
from anbu_runtime.outbox import outbox_row

CIPHER = PiiCipher([("k1", b"k" * 32)], b"i" * 32)
# Free text as a district's file may hold it: quotes, backslashes, control characters,
# Hangul, astral characters.
TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
FLAG = st.sampled_from(["", "y", "n", "예", "TRUE", "0"])
WORKER = st.one_of(st.just(""), st.from_regex(r"W-[0-9A-Z]{3,26}", fullmatch=True))
CHANNELS = st.lists(st.sampled_from([c.value for c in MonitoringChannel]), unique=True).map(
    ";".join
)


@st.composite
def csv_row(draw: st.DrawFn) -> dict[str, str]:
    district = draw(st.sampled_from(["11110", "11680", "26440"]))
    return {
        "household_id": draw(
            st.one_of(st.just(""), st.from_regex(r"HH-[0-9A-Z]{6,26}", fullmatch=True))
        ),
        "district_code": district,
        "dong_code": district + draw(st.from_regex(r"[0-9]{5}", fullmatch=True)),
        "tier": draw(st.sampled_from([t.value for t in Tier])),
        "tier_reason": draw(TEXT),
        "channels": draw(CHANNELS),
        "consent_form": draw(TEXT),
        "medical_aid": draw(FLAG),
        "violence_risk": draw(FLAG),
        "responsible_worker_id": draw(WORKER),
        "address": draw(TEXT),
        "resident_name": draw(TEXT),
        "resident_phone": draw(st.sampled_from(["", "010-1234-5678", "+82 10 1234 5678"])),
        "guardian_name": draw(st.sampled_from(["", "보호자"])),
        "guardian_phone": "",
        "landlord_name": draw(st.sampled_from(["", "박임대"])),
        "landlord_phone": draw(st.sampled_from(["", "02-123-4567"])),
    }


def expected_outbox_row(household: dict[str, Any], relations: set[str], event_id: str) -> Any:
    """What ``outbox_row`` stages for the stored household, through the contract model."""
    now = household["updated_at"]
    snapshot = household_snapshot(SimpleNamespace(**household), relations, now)
    staged = snapshot.model_copy(update={"event_id": UUID(event_id)})
    return outbox_row(REGISTRY_HOUSEHOLD, staged, now)


@settings(max_examples=60, deadline=None)
@given(
    # ids given in the file are unique in it (the import refuses one given twice)
    rows=st.lists(
        csv_row(), min_size=1, max_size=8, unique_by=lambda r: r["household_id"] or id(r)
    ),
    minutes=st.integers(0, 10**6),
)
def test_an_imported_rows_snapshot_is_what_the_contract_model_serialises(
    rows: list[dict[str, str]], minutes: int
) -> None:
    now = datetime(2026, 12, 4, tzinfo=UTC) + timedelta(minutes=minutes, microseconds=minutes)
    records = [(n + 2, [], row) for n, row in enumerate(rows)]
    prepared = prepare_batch(CIPHER, records, SERVICE, now, write=True)
    assume(not prepared.invalid)  # rows that fail are reported, not staged (test_bulk_import)
    assert isinstance(prepared.tables, Tables)
    tables = dict(prepared.tables.by_table())
    for household, staged in zip(tables["household"], tables["outbox"], strict=True):
        relations = {
            p["relation"]
            for p in tables["person"]
            if p["household_id"] == household["household_id"]
        }
        event_id = json.loads(staged["value"])["event_id"]
        assert staged == expected_outbox_row(household, relations, event_id)


ZONES = st.sampled_from(["Asia/Seoul", "UTC", "America/Argentina/Buenos_Aires"])
TIMES = st.times().map(lambda t: t.replace(tzinfo=None))


@settings(max_examples=60, deadline=None)
@given(
    programme=TEXT.filter(bool),
    zone=ZONES,
    quiet=st.tuples(TIMES, TIMES),
    windows=st.lists(
        st.tuples(
            st.sampled_from(list(MonitoringChannel)),
            st.booleans(),
            st.one_of(st.none(), st.floats(0.01, 24 * 14)),
        ),
        max_size=5,
    ),
    locale=st.sampled_from(["ko", "en"]),
    volunteer=WORKER,
    offset=st.integers(-12, 14),
)
def test_every_field_the_writer_takes_serialises_as_the_contract_model_does(
    programme: str,
    zone: str,
    quiet: tuple[time, time],
    windows: list[tuple[MonitoringChannel, bool, float | None]],
    locale: str,
    volunteer: str,
    offset: int,
) -> None:
    # Fields a CSV row cannot set (the writer takes them from HouseholdIn all the same),
    # and a clock that is not in UTC.
    now = datetime(2026, 12, 4, 9, 30, tzinfo=timezone(timedelta(hours=offset)))
    data = HouseholdIn.model_validate(
        {
            "district_code": "11110",
            "dong_code": "1111051500",
            "tier": "watch",
            "timezone": zone,
            "programme": programme,
            "quiet_start": quiet[0],
            "quiet_end": quiet[1],
            "channels": [
                {"channel": c, "consent": given, "window_hours": hours}
                for c, given, hours in windows
            ],
            "locale": locale,
            "matched_volunteer_id": volunteer or None,
        }
    )
    household = {
        "household_id": "HH-0123456789",
        "revision": 1,
        "district_code": data.district_code,
        "dong_code": data.dong_code,
        "timezone": data.timezone,
        "tier": data.tier.value,
        "status": "active",
        "suspended_until": None,
        "suspension_reason": None,
        "channels": [c.model_dump(mode="json") for c in data.channels],
        "quiet_start": data.quiet_start,
        "quiet_end": data.quiet_end,
        "programme": data.programme,
        "rule_overrides": {},
        "medical_aid": data.medical_aid,
        "violence_risk": data.violence_risk,
        "responsible_worker_id": data.responsible_worker_id,
        "matched_volunteer_id": data.matched_volunteer_id,
        "locale": data.locale.value,
        "updated_at": now,
    }
    writer = SnapshotWriter(now, "registry")
    for landlord, guardians in [(False, False), (True, False), (False, True), (True, True)]:
        value, headers = writer.snapshot("HH-0123456789", data, landlord, guardians)
        relations = {r for r, on in [("landlord", landlord), ("guardian", guardians)] if on}
        expected = expected_outbox_row(household, relations, json.loads(value)["event_id"])
        assert (value, headers) == (expected["value"], expected["headers"])
        assert UUID(json.loads(headers)["event_id"]) == UUID(json.loads(value)["event_id"])
