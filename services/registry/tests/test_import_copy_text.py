"""On PostgreSQL the import's workers format their rows as COPY text and the writer copies
the bytes: what lands in the tables must be what was in the file, awkward cells included,
on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from anbu_contracts import HouseholdSnapshot
from anbu_registry.adapters.copy_text import copy_in, copy_rows, copy_text
from anbu_registry.adapters.orm import (
    ConsentRow,
    HouseholdRow,
    PersonRow,
    TierChangeRow,
    metadata,
)
from anbu_registry.adapters.repository import UoW
from anbu_registry.handlers.imports import run_import
from anbu_runtime.auth import SERVICE
from anbu_runtime.outbox import install

from .conftest import registry_units

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
# A tab, a backslash, a line break and a carriage return inside quoted cells, and quotes.
ADDRESS = 'Seoul "예시로"\t1\\2\n3층\r끝'
NAME = "김\\시험\t님"
CSV = (
    "district_code,dong_code,tier,channels,tier_reason,resident_name,resident_phone,"
    "landlord_name,address\n"
    f'11110,1111051500,caution,phone;smart_plug,"a\\b\tc","{NAME}",010-0000-7777,박임대,'
    f'"{ADDRESS.replace(chr(34), chr(34) * 2)}"\n'
    "11110,1111053000,watch,,,이없음,,,\n"
)


def test_copy_text_escapes_what_copy_would_read_as_a_separator_or_a_null() -> None:
    columns, text = copy_text(
        metadata.tables["tier_change"],
        [
            {"household_id": "HH-A\tB", "reason": "x\\N\ny\r", "at": NOW, "changed_by": None},
            {"household_id": "HH-C", "reason": "", "at": NOW, "changed_by": "svc"},
        ],
    )
    assert columns == ["household_id", "reason", "at", "changed_by"]
    assert text == (
        b"HH-A\\tB\tx\\\\N\\ny\\r\t2026-12-04T09:00:00+00:00\t\\N\n"
        b"HH-C\t\t2026-12-04T09:00:00+00:00\tsvc\n"
    )
    _, outbox = copy_text(
        install(metadata).outbox,
        [{"key": b"\x00\xff", "value": None, "flag": True, "n": 1.5}],  # type: ignore[dict-item]
    )
    assert outbox == b"\\\\x00ff\t\\N\tt\t1.5\n"
    _, escaped = copy_text(install(metadata).outbox, [{"value": b'{"a":"x\\"y"}'}])
    assert escaped == b'{"a":"x\\\\\\\\"y"}\n'  # ASCII bytea: escape format, not hex


def test_bytes_read_back_as_they_were(database_url: str) -> None:
    tx, _ = registry_units(database_url, NOW)
    values = [b'{"a":"x\\"y","b":"\\\\x41"}', "한글 \\ ok".encode(), b"\x00\x01\x7f\\x41", b""]
    rows = [
        {"topic": "t", "key": None, "value": v, "headers": "{}", "created_at": NOW} for v in values
    ]
    outbox = install(metadata).outbox

    def write(uow: UoW) -> None:
        if uow.session.connection().dialect.name == "postgresql":
            copy_in(uow.session, outbox, *copy_text(outbox, rows))
        else:
            uow.session.execute(outbox.insert(), rows)

    tx.run_sync(write)
    with Session(tx.db.engine) as s:
        stored = s.execute(select(outbox.c.value).order_by(outbox.c.id)).scalars().all()
    tx.db.dispose()
    assert stored == values


def test_imported_rows_read_back_as_they_were_in_the_file(database_url: str) -> None:
    tx, ctx = registry_units(database_url, NOW)
    report = run_import(tx, ctx.cipher, CSV.splitlines(True), SERVICE, batch_size=10)
    assert (report.rows, report.imported, report.invalid) == (2, 2, 0), report.errors
    with Session(tx.db.engine) as s:
        households = {h.dong_code: h for h in s.exec(select(HouseholdRow)).scalars()}
        people = s.exec(select(PersonRow)).scalars().all()
        tiers = s.exec(select(TierChangeRow)).scalars().all()
        consents = s.exec(select(ConsentRow)).scalars().all()
        outbox = install(metadata).outbox
        values = s.execute(select(outbox.c.value)).scalars().all()
    tx.db.dispose()

    first, second = households["1111051500"], households["1111053000"]
    assert ctx.cipher.open(first.address_enc or "", context="household.address") == ADDRESS
    assert first.address_index == ctx.cipher.blind_index(ADDRESS, kind="address")
    assert (first.tier, first.tier_reason, first.revision, first.status) == (
        "caution",
        "a\\b\tc",
        1,
        "active",
    )
    assert first.channels == [
        {"channel": "phone", "consent": True, "window_hours": None},
        {"channel": "smart_plug", "consent": True, "window_hours": None},
    ]
    assert (first.quiet_start, first.quiet_end, first.rule_overrides) == (time(23), time(7), {})
    assert first.created_at == NOW and first.suspended_until is None
    assert (second.address_enc, second.channels) == (None, [])

    names = sorted(
        (p.relation, ctx.cipher.open(p.name_enc, context="person.name"), p.phone_index)
        for p in people
    )
    assert names == [
        ("landlord", "박임대", None),
        ("resident", NAME, ctx.cipher.blind_index("010-0000-7777", kind="phone")),
        ("resident", "이없음", None),
    ]
    assert all(NAME not in (p.name_enc or "") for p in people)  # sealed at rest
    assert sorted(t.reason for t in tiers) == ["a\\b\tc", "bulk import"]
    assert sorted(c.channel for c in consents) == ["phone", "smart_plug"]
    snapshots = sorted(
        (HouseholdSnapshot.model_validate_json(v) for v in values), key=lambda e: e.dong_code
    )
    assert [(e.household_id, e.landlord_on_file) for e in snapshots] == [
        (first.household_id, True),
        (second.household_id, False),
    ]


def reference_cell(value: object, json_column: bool = False) -> str:
    """COPY text for one value, one value at a time, straight from PostgreSQL's rules."""
    if value is None:
        return "\\N"
    if json_column:
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        for char, escaped in [("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")]:
            value = value.replace(char, escaped)
        return value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, bytes):
        if value.isascii() and not any(b < 0x20 or b == 0x7F for b in value):
            return value.decode().replace("\\", "\\\\\\\\")  # bytea escape format, for COPY
        return "\\\\x" + value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def column_of(values: st.SearchStrategy[object]) -> st.SearchStrategy[list[object]]:
    # Columns of one value repeated, of distinct values, with and without NULLs.
    return st.one_of(
        st.tuples(values, st.integers(1, 6)).map(lambda v: [v[0]] * v[1]),
        st.lists(st.one_of(st.none(), values), min_size=1, max_size=6),
        st.lists(values, min_size=1, max_size=6),
    )


TEXTS = st.text(st.sampled_from(list("ab\\\t\n\r가 N")), max_size=6)
BYTES = st.one_of(st.binary(max_size=6), TEXTS.map(str.encode))
STAMPS = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=200, deadline=None)
@given(
    texts=column_of(TEXTS),
    blobs=column_of(BYTES),
    flags=column_of(st.booleans()),
    stamps=column_of(STAMPS),
    docs=column_of(st.dictionaries(TEXTS, st.one_of(TEXTS, st.integers()), max_size=2)),
)
def test_copy_text_by_column_is_the_text_of_every_value_on_its_own(
    texts: list[object],
    blobs: list[object],
    flags: list[object],
    stamps: list[object],
    docs: list[object],
) -> None:
    rows = max(map(len, [texts, blobs, flags, stamps, docs]))
    columns = [c * rows for c in (texts, blobs, flags, stamps, docs)]  # equal lengths
    values = list(zip(*(c[:rows] for c in columns), strict=True))
    table = metadata.tables["household"]  # "channels" is its JSON column
    names = ["tier", "address_enc", "medical_aid", "created_at", "channels"]
    text = copy_rows(table, names, values)
    expected = "".join(
        "\t".join(
            reference_cell(v, json_column=name == "channels")
            for v, name in zip(row, names, strict=True)
        )
        + "\n"
        for row in values
    )
    assert text == expected.encode()
