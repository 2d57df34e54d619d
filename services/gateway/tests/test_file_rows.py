"""Checking a file's rows in the worker: one serialisation per row, the same records and
the same refusals as validating and serialising each signal on its own."""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as kafka_murmur2

from anbu_contracts import SignalKind
from anbu_gateway.adapters import csv_files
from anbu_gateway.adapters.csv_spans import FileToCheck, Span, check_span
from anbu_gateway.adapters.kafka_batches import hashed_partitioner
from anbu_gateway.adapters.key_hashes import murmur2
from anbu_gateway.adapters.validation_pool import ValidationPool
from anbu_gateway.domain.csv_columns import COLUMNS, COMMON_REQUIRED, parse_header
from anbu_gateway.domain.envelope import content_digest, serialised, to_signal_of_kind
from anbu_gateway.domain.file_rows import check_record, check_rows
from anbu_gateway.domain.prepared import Prepared, prepare
from anbu_gateway.domain.records import RecordError
from anbu_gateway.handlers.file_chunks import FileChunks

NOW = datetime(2026, 12, 4, 6, 0, tzinfo=UTC)
PARTNER = "kepco"
HEADER = "household_id,partner_event_id,occurred_at,arrears_type,months_overdue,amount_krw,as_of"


def test_a_file_of_good_and_bad_rows_gives_the_records_and_refusals_of_the_reference_path(
    tmp_path: Path,
) -> None:
    lines = [
        HEADER + ",correlation_id",
        "HH-AAAAAA,a-1,2026-11-01T09:00:00+09:00,electricity,3,182000,2026-10-31,",
        "HH-BBBBBB,a-2,2026-11-01T09:00:00+09:00,water,700,182000,2026-10-31,",  # > 600
        "HH-CCCCCC,a-3,2026-11-01T09:00:00+09:00,gas,3,182000,2026-10-31,corr-7",
        "hh-lower,a-4,yesterday,gas,-1,x,2026-10-31,",  # four invalid fields
        "HH-DDDDDD,a-5,2026-11-01T09:00:00+09:00,gas,3",  # too few columns
        "",
        'HH-EEEEEE,a-6,2026-11-01T09:00:00+09:00,"telecom",4,"1000",2026-10-31,',
        "HH-FFFFFF,a-7,2026-11-01T09:00:00Z,rent,1,500000,2026-10-31,",
        "HH-GGGGGG,a-8,2026-11-01T09:00:00Z,rent,1,500000,2026-10-3",  # cut: no line break
    ]
    path = tmp_path / "arrears.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    header = parse_header(SignalKind.ARREARS, csv_files.read_header(path, "utf-8-sig") or [])
    records = list(csv_files.records(path, "utf-8-sig"))

    prepared, errors = check_rows(records, header, SignalKind.ARREARS, PARTNER, NOW)

    reference = [check_record(r, header, SignalKind.ARREARS, PARTNER, NOW) for r in records]
    assert prepared == [prepare(c) for c in reference if not isinstance(c, RecordError)]
    assert errors == [e for e in reference if isinstance(e, RecordError)]
    assert [(p.line, p.partner_event_id, p.correlation_id) for p in prepared] == [
        (2, "a-1", None),
        (4, "a-3", "corr-7"),
        (8, "a-6", None),
        (9, "a-7", None),
    ]
    assert [(e.line, e.type, e.reason) for e in errors] == [
        (3, "invalid-signal", "1 validation error(s) in: months_overdue"),
        (
            5,
            "invalid-signal",
            "4 validation error(s) in: amount_krw, household_id, months_overdue, occurred_at",
        ),
        (6, "invalid-csv-row", "the row has 5 columns, the header 8"),
        (
            10,
            "truncated-record",
            "the file ends inside this row (7 of 8 columns): it was cut off",
        ),
    ]


@pytest.mark.parametrize("kind", list(COLUMNS), ids=lambda k: k.value)
@pytest.mark.parametrize("correlation_id", [None, "corr-1"])
def test_one_serialisation_gives_the_value_and_the_content_digest_of_every_kind(
    kind: SignalKind, correlation_id: str | None
) -> None:
    columns = COLUMNS[kind]
    body = dict(
        zip(
            COMMON_REQUIRED + columns.required,
            ("HH-AAAAAA", "e-1", "2026-11-01T09:00:00+09:00", *columns.example),
            strict=True,
        )
    )
    if kind is SignalKind.USAGE_DROP:
        body["drop_ratio"] = "0.6"  # the example's one column is not a whole signal
    for name in columns.lists:
        if name in body:
            body[name] = body[name].split(";")
    if correlation_id is not None:
        body["correlation_id"] = correlation_id
    signal = to_signal_of_kind(kind, body, PARTNER, NOW)

    value, digest = serialised(signal)

    assert value == signal.model_dump_json().encode()
    assert digest == content_digest(signal)


# Files whose records the gateway must read the same whether it reads them whole or in spans
# cut from the raw bytes: quoted line breaks, blank lines, CR LF and lone CR line ends, a
# stray quote inside an unquoted field (the span's guessed end falls inside a quoted field),
# a byte-order mark, a last row cut off, a quote never closed.
ROWS = [
    "HH-AAAAAA,a-1,2026-11-01T09:00:00+09:00,electricity,3,182000,2026-10-31",
    'HH-AAAAAB,a-2,2026-11-01T09:00:00+09:00,"water",3,"18\n2000",2026-10-31',
    "",
    "HH-AAAAAC,a-3,2026-11-01T09:00:00+09:00,gas,3,182000,2026-10-31\r",
    'HH-AAAAAD,a"4,2026-11-01T09:00:00+09:00,gas,"3\n\n",182000,2026-10-31',
    "HH-AAAAAE,a-5,2026-11-01T09:00:00+09:00,gas,3,182000,2026-10-31\rHH-AAAAAF,a-6,x,y,z,1,2",
    'HH-AAAAAG,a-7,2026-11-01T09:00:00+09:00,"gas"x,3,182000,2026-10-31',
    "HH-AAAAAH,a-8,2026-11-01T09:00:00+09:00,telecom,3,182000,2026-10-31",
]
FILES = {
    "tricky": "\ufeff" + HEADER + "\n" + "\n".join(ROWS * 3) + "\n",
    "cut": HEADER + "\n" + "\n".join(ROWS) + "\nHH-AAAAAZ,a-9,2026-11-01T09:00:00Z,gas,3,18",
    "unclosed": HEADER + "\n" + "\n".join(ROWS) + '\nHH-AAAAAZ,a-9,"2026\n\n',
    "crlf": (HEADER + "\n" + "\n".join(ROWS * 2) + "\n").replace("\n", "\r\n"),
    "header only": HEADER + "\n",
}


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("rows", [1, 2, 5, 10_000])
@pytest.mark.parametrize("after_line", [0, 9])
async def test_a_file_checked_in_spans_gives_what_reading_it_whole_gives(
    tmp_path: Path, name: str, rows: int, after_line: int
) -> None:
    path = tmp_path / "arrears.csv"
    path.write_bytes(FILES[name].encode())
    header = parse_header(SignalKind.ARREARS, csv_files.read_header(path, "utf-8-sig") or [])
    whole = [r for r in csv_files.records(path, "utf-8-sig") if r.line > after_line]
    expected = check_rows(whole, header, SignalKind.ARREARS, PARTNER, NOW)

    chunks = await FileChunks.open(
        ValidationPool(0),
        path,
        "utf-8-sig",
        header,
        SignalKind.ARREARS,
        PARTNER,
        after_line,
        rows=rows,
        ahead=3,
        now=lambda: NOW,
    )
    prepared: list[Prepared] = []
    errors: list[RecordError] = []
    while (chunk := await chunks.next()) is not None:
        prepared += [p._replace(row=p.row + chunk.first_row) for p in chunk.prepared]
        errors += [replace(e, row=e.row + chunk.first_row) for e in chunk.errors]

    assert (prepared, errors) == expected
    assert expected[0] or expected[1] or name == "header only"


def test_keys_hashed_in_the_worker_choose_the_default_partitioners_partition(
    tmp_path: Path,
) -> None:
    path = tmp_path / "arrears.csv"
    rows = [f"HH-K{i:08d},k-{i},2026-11-01T09:00:00Z,gas,3,1000,2026-10-31" for i in range(300)]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    header = parse_header(SignalKind.ARREARS, csv_files.read_header(path, "utf-8-sig") or [])
    size = path.stat().st_size
    file = FileToCheck(path, "utf-8-sig", size, True, header, SignalKind.ARREARS, PARTNER, 0)

    chunk = check_span(file, Span(0, size, 1, 302), NOW)

    partition = hashed_partitioner(chunk.key_hashes)
    for every in ([0, 1, 2], list(range(12))):
        chosen = [partition(p.key, every, every) for p in chunk.prepared]
        assert chosen == [DefaultPartitioner()(p.key, every, every) for p in chunk.prepared]
        assert len(set(chosen)) == len(every)


@pytest.mark.parametrize("length", range(0, 41))
def test_keys_are_hashed_with_kafkas_murmur2_at_every_length(length: int) -> None:
    keys = [bytes(range(i, i + length)) for i in (0, 97, 200)]
    keys += [("가" * length).encode()[:length], b"\xff" * length]
    assert [murmur2(k) for k in keys] == [kafka_murmur2(k) for k in keys]


def test_a_checked_chunk_crosses_processes_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "arrears.csv"
    path.write_bytes(FILES["tricky"].encode())
    header = parse_header(SignalKind.ARREARS, csv_files.read_header(path, "utf-8-sig") or [])
    size = path.stat().st_size
    file = FileToCheck(path, "utf-8-sig", size, True, header, SignalKind.ARREARS, PARTNER, 0)
    chunk = check_span(file, Span(0, size, 1, 1), NOW)
    assert chunk.prepared and chunk.errors

    crossed = pickle.loads(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))

    assert crossed == chunk
    assert all(type(p) is Prepared for p in crossed.prepared)
    assert [p.key for p in crossed.prepared] == [p.key for p in chunk.prepared]
