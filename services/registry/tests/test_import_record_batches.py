"""An import hands its batches to worker processes as the lines they were read from, and
the worker reads them again: a batch must arrive with the records, line numbers and
cell-count problems the importing process read, whatever the file holds between them."""

from __future__ import annotations

import csv
import io
import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlmodel import Session

from anbu_registry.adapters.household_csv import MalformedFile, record_batches, rows_of
from anbu_registry.adapters.orm import HouseholdRow
from anbu_registry.handlers.imports import run_import
from anbu_runtime.auth import SERVICE

from .conftest import registry_units

HEADER = "district_code,dong_code,tier,tier_reason,address\n"
# Cells that span lines, hold quotes, carriage returns, separators and lone line breaks of
# other kinds (\x0c, \u2028), which must not split a line the way str.splitlines would.
CELL = st.text(st.sampled_from(list('ab가,"\r\n\t;\x0c\u2028 ')), max_size=12)
ROW = st.lists(CELL, min_size=1, max_size=7)  # short and long rows: reported, not fatal


def file_of(rows: list[list[str]], blank_every: int) -> list[str]:
    out = io.StringIO(newline="")
    # Cells with a line break or a carriage return are quoted, as a spreadsheet writes them.
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    out.write(HEADER)
    for n, row in enumerate(rows):
        writer.writerow(row)
        if blank_every and n % blank_every == 0:
            out.write("\n")  # blank lines are skipped, but they count
    # split as file_lines splits an upload: at "\n" only
    return [line + "\n" for line in out.getvalue().split("\n")[:-1]]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=25), size=st.integers(1, 6), blank_every=st.integers(0, 4))
def test_a_batch_read_again_from_its_lines_holds_the_records_read_the_first_time(
    rows: list[list[str]], size: int, blank_every: int
) -> None:
    lines = file_of(rows, blank_every)
    batches = list(record_batches(lines, size))
    again = [pickle.loads(pickle.dumps(batch)) for batch in batches]

    assert [b.records for b in again] == [b.records for b in batches]
    assert [r for b in batches for r in b.records] == list(rows_of(lines))
    assert all(0 < len(b.records) <= size for b in batches)


def test_the_records_before_a_malformed_line_travel_on_the_exception_and_cross_intact() -> None:
    # a good row, a short one, a cell over two lines, then a quote that never closes
    lines = [HEADER, "11110,1111051500,watch,a,b\n", "x,y\n", '11110,"1111051500\n']
    lines += ['",watch,a,b\n', '11110,1111051500,watch,"a\n']
    with pytest.raises(MalformedFile) as raised:
        for _ in record_batches(lines, 10):
            pass
    partial = raised.value.partial
    expected = list(rows_of(lines[:-1]))
    assert partial.records == expected
    assert pickle.loads(pickle.dumps(partial)).records == expected


NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
# Batches of 2: the first is prepared in this process, the rest in the worker pool.
FILE = (
    "district_code,dong_code,tier,address\n"  # line 1
    "11110,1111051500,watch,\n"  # 2
    "11110,1111053000,caution,\n"  # 3
    "\n"  # 4: blank
    "11110,1111054000,watch,\n"  # 5
    "11110,1111054000,nope,\n"  # 6: no such tier: its batch is refused
    '11110,1111055000,watch,"서울 예시로 1\n2층"\n'  # 7-8: a cell over two lines
    "11110,1111056000,high_risk,\n"  # 9
    "11110,1111051500\n"  # 10: two cells of four: refused
)


@pytest.mark.parametrize("workers", [0, 2])
def test_an_import_through_worker_processes_reports_and_writes_what_one_process_does(
    database_url: str, workers: int
) -> None:
    tx, ctx = registry_units(database_url, NOW)
    report = run_import(
        tx,
        ctx.cipher,
        FILE.splitlines(True),
        SERVICE,
        batch_size=2,
        workers=workers,
        start_method="fork",  # as the command line starts them
    )
    with Session(tx.db.engine) as s:
        stored = {h.dong_code: h.address_enc for h in s.exec(select(HouseholdRow)).scalars()}
    tx.db.dispose()

    assert (report.rows, report.imported, report.invalid, report.batches_rejected) == (7, 4, 2, 2)
    assert [e.line for e in report.errors] == [6, 10]
    assert "cells where the header has 4" in report.errors[1].errors[0]
    assert sorted(stored) == ["1111051500", "1111053000", "1111055000", "1111056000"]
    sealed = stored["1111055000"] or ""
    assert ctx.cipher.open(sealed, context="household.address") == "서울 예시로 1\n2층"
