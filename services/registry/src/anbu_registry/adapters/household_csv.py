"""Reading the household lists districts hand over: checked lines, CSV records, households.

A file that cannot be read as CSV at all (bad encoding, a NUL character, broken quoting, a
line or a field over the limits below) raises :class:`MalformedFile`, which names the line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import IO, Any

from ..domain.model import HouseholdIn

COLUMNS = [
    "household_id",
    "district_code",
    "dong_code",
    "tier",
    "tier_reason",
    "channels",
    "consent_form",
    "medical_aid",
    "violence_risk",
    "responsible_worker_id",
    "address",
    "resident_name",
    "resident_phone",
    "guardian_name",
    "guardian_phone",
    "landlord_name",
    "landlord_phone",
]
REQUIRED = {"district_code", "dong_code", "tier"}
MAX_REPORTED_ERRORS = 1000
# The longest real cell is an address (300 characters); anything near these limits is not a
# household list. Checked here rather than with csv.field_size_limit, which is process-wide;
# the line limit bounds the memory one physical line can take before the csv module sees it.
MAX_FIELD_CHARS = 4_000
MAX_LINE_BYTES = 256 * 1024


class HeaderError(ValueError):
    """The header line is unfit (missing, unknown or repeated columns); it is line 1."""

    line = 1


class MalformedFile(ValueError):
    """The file is not readable CSV from ``line`` on (1-based, physical lines)."""

    def __init__(self, line: int, detail: str) -> None:
        super().__init__(f"line {line}: {detail}")
        self.line = line
        self.detail = detail
        self.report: Any = None  # the ImportReport of what was done before the bad line
        self.partial: Any = None  # the records read since the last full batch


def file_lines(
    binary: IO[bytes], encoding: str = "utf-8-sig", max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[str]:
    """The decoded lines of an upload, each checked before the csv module sees it.

    Decoding line by line names the exact line of a bad byte (a text wrapper decodes in
    chunks). Splitting bytes at ``\n`` is safe for UTF-8 and EUC-KR, whose multi-byte
    characters never contain that byte.
    """
    number = 0
    while True:
        raw = binary.readline(max_line_bytes + 1)
        if not raw:
            return
        number += 1
        if len(raw) > max_line_bytes:
            raise MalformedFile(number, f"a line is longer than {max_line_bytes:,} bytes")
        try:
            line = raw.decode(encoding if number == 1 else _without_bom(encoding))
        except UnicodeDecodeError as exc:
            raise MalformedFile(
                number, f"not {encoding.removesuffix('-sig').upper()} at byte {exc.start + 1}"
            ) from None
        if "\x00" in line:
            # PostgreSQL text cannot hold NUL, and no household list has one.
            raise MalformedFile(number, "the line contains a NUL character")
        yield line


def _without_bom(encoding: str) -> str:
    return "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "y", "예", "o"}


_PEOPLE = [(r, f"{r}_name", f"{r}_phone") for r in ("resident", "guardian", "landlord")]


def to_household(fields: dict[str, str]) -> HouseholdIn:
    """One CSV row as a validated household (raises ValidationError)."""
    # Every cell stripped once, an empty one as None (a closure a cell was a tenth of this).
    cells = {name: value.strip() or None for name, value in fields.items()}
    cell = cells.get
    people: list[dict[str, Any]] = [
        {"relation": relation, "name": cell(name), "phone": cell(phone)}
        for relation, name, phone in _PEOPLE
        if cell(name)
    ]
    channels = [c for c in (cell("channels") or "").replace(",", ";").split(";") if c.strip()]
    return HouseholdIn.model_validate(
        {
            "household_id": cell("household_id"),
            "district_code": cell("district_code"),
            "dong_code": cell("dong_code"),
            "tier": cell("tier"),
            "tier_reason": cell("tier_reason") or "bulk import",
            "channels": [{"channel": c.strip(), "consent": True} for c in channels],
            "consent_form": cell("consent_form"),
            "medical_aid": _flag(cell("medical_aid") or ""),
            "violence_risk": _flag(cell("violence_risk") or ""),
            "responsible_worker_id": cell("responsible_worker_id"),
            "address": cell("address"),
            "people": people,
        }
    )


Record = tuple[int, list[str], dict[str, str]]  # line, cell-count problems, cells by column


def rows_of(lines: Iterable[str]) -> Iterator[Record]:
    """``(line, problems, fields)`` per record; ``problems`` name a wrong number of cells.

    Raises :class:`HeaderError` for an unfit header and :class:`MalformedFile` where the
    csv module gives up or a cell is over :data:`MAX_FIELD_CHARS`.
    """
    reader, names = _header(lines)
    yield from _records(reader, names)


class RecordBatch:
    """Consecutive records of a file, and the physical lines they were read from.

    Pickled (to an import's worker process) as its lines, which the worker reads again:
    that costs a fraction of pickling the records' dicts (docs/performance.md)."""

    def __init__(self, names: list[str], offset: int, lines: list[str], records: list[Record]):
        self.names = names
        self.offset = offset  # physical lines before the first of ``lines``
        self.lines = lines
        self.records = records

    def __reduce__(self) -> tuple[Any, tuple[list[str], int, list[str]]]:
        return (_read_again, (self.names, self.offset, self.lines))


def _read_again(names: list[str], offset: int, lines: list[str]) -> RecordBatch:
    # The lines were read once already (record_batches), so they are known to be CSV.
    reader = csv.reader(lines, strict=True)
    records = [_record(names, offset + reader.line_num, cells) for cells in reader if cells]
    return RecordBatch(names, offset, lines, records)


def record_batches(lines: Iterable[str], size: int) -> Iterator[RecordBatch]:
    """:func:`rows_of` ``lines`` in batches of ``size`` records with their lines. On a
    malformed line, the records read since the last batch travel on the exception
    (``exc.partial``, a batch) so the report still counts them."""
    taken: list[str] = []  # the lines the csv module has read, since the last batch

    def tap() -> Iterator[str]:
        for line in lines:
            taken.append(line)
            yield line

    reader, names = _header(tap())
    offset = len(taken)
    taken.clear()
    records: list[Record] = []
    read = 0  # lines of whole records among ``taken``
    try:
        for record in _records(reader, names):
            records.append(record)
            read = len(taken)
            if len(records) >= size:
                yield RecordBatch(names, offset, taken.copy(), records)
                offset += read
                taken.clear()
                records, read = [], 0
    except MalformedFile as exc:
        exc.partial = RecordBatch(names, offset, taken[:read], records)
        raise
    if records:
        yield RecordBatch(names, offset, taken[:read], records)


def _header(lines: Iterable[str]) -> tuple[Any, list[str]]:
    """A csv reader of ``lines`` past their header, and the column names; raises
    :class:`HeaderError` or :class:`MalformedFile`."""
    reader = csv.reader(lines, strict=True)
    try:
        names = next(reader, None)
    except csv.Error as exc:
        raise MalformedFile(max(reader.line_num, 1), f"the header is not CSV: {exc}") from None
    names = [name.strip() for name in names or ()]
    if not any(names):
        raise HeaderError("the first line is empty; it must name the columns")
    _check_cells(reader.line_num, names)
    header = set(names)
    missing = REQUIRED - header
    if missing:
        raise HeaderError(f"the header lacks required columns: {', '.join(sorted(missing))}")
    unknown = header - set(COLUMNS)
    if unknown:
        raise HeaderError(
            f"unknown columns: {', '.join(sorted(unknown))}; expected {', '.join(COLUMNS)}"
        )
    if len(header) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise HeaderError(f"columns named twice: {', '.join(twice)}")
    return reader, names


def _records(reader: Any, names: list[str]) -> Iterator[Record]:
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise MalformedFile(reader.line_num, f"not CSV: {exc}") from None
        if cells is None:
            return
        if not cells:
            continue  # a blank line
        _check_cells(reader.line_num, cells)
        yield _record(names, reader.line_num, cells)


def _record(names: list[str], line: int, cells: list[str]) -> Record:
    problems = []
    if len(cells) != len(names):
        problems.append(f"row: {len(cells)} cells where the header has {len(names)}")
    return line, problems, dict(zip(names, cells, strict=False))


def _check_cells(line: int, cells: list[str]) -> None:
    if any(len(cell) > MAX_FIELD_CHARS for cell in cells):
        raise MalformedFile(line, f"a cell is longer than {MAX_FIELD_CHARS:,} characters")
