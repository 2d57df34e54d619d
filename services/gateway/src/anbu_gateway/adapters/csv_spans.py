"""A stored CSV file cut into spans of bytes that worker processes read and check in parallel.

Reading a file in the gateway's process and sending its cells to the workers cost more CPU
per row than checking them (docs/performance.md). Instead the gateway cuts the file into
spans of about ``rows`` records, guessing each end from the raw bytes (a line break after
an even number of quote characters), and each worker reads its own span with the csv module
exactly as :func:`.csv_files.records` reads the whole file, and checks them (``check_span``:
this module imports only the domain, so that a worker process stays small).

A guess can be wrong only for a malformed file (a stray quote inside an unquoted field): a
worker whose span ends inside a quoted field reads on until the record closes, and reports
where it really ended. A span is only used when it starts where the one before it really
ended; otherwise it is cut again from there (see ``handlers/file_chunks.py``). So the
records, their lines and their numbering are those of reading the file from the start.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar, NamedTuple

from anbu_contracts import SignalKind

from ..domain.csv_columns import Header
from ..domain.file_rows import Record, check_rows
from ..domain.prepared import Prepared, PreparedAcrossProcesses
from ..domain.records import RecordError
from .key_hashes import hash_keys

READ_BLOCK = 1 << 20
NEVER_CLOSED = "a quoted field is never closed: the file ends inside it"


class Span(NamedTuple):
    """Bytes ``start``..``end`` of the file; ``first_line`` is the physical line ``start`` is
    on and ``end_line`` the one ``end`` is on (lines as the csv reader counts them)."""

    start: int
    end: int
    first_line: int
    end_line: int


def _line_breaks(data: bytes) -> int:
    """Line breaks in ``data`` as a text reader with universal newlines counts them
    (CR LF, LF and a lone CR; ``data`` never ends between a CR and its LF)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def next_span(path: Path, start: int, first_line: int, rows: int) -> Span:
    """The span from ``start`` (a record's first byte) to the line break ending about
    ``rows`` records, or to the end of the file."""
    with path.open("rb") as raw:
        raw.seek(start)
        position = start
        line = first_line
        open_quote = False
        taken = 0
        carry = b""
        while True:
            block = raw.read(READ_BLOCK)
            if not block:
                end = position + len(carry)
                return Span(start, end, first_line, line + _line_breaks(carry))
            data = carry + block
            last = data.rfind(b"\n")
            if last < 0:
                carry = data
                continue
            carry = data[last + 1 :]
            whole = data[: last + 1]
            if b'"' not in whole and not open_quote and taken + whole.count(b"\n") < rows:
                taken += whole.count(b"\n")  # the common block: no quotes, no end in it
            else:
                at = 0
                while at <= last:
                    stop = whole.index(b"\n", at)
                    if whole.count(b'"', at, stop) % 2:
                        open_quote = not open_quote
                    at = stop + 1
                    if not open_quote:
                        taken += 1
                        if taken >= rows:
                            used = whole[:at]
                            return Span(start, position + at, first_line, line + _line_breaks(used))
            position += len(whole)
            line += _line_breaks(whole)


@dataclass
class Chunk(PreparedAcrossProcesses):
    """A span's records checked: ``rows`` of them after the resume point, ``seen`` in all.

    Rows (of the refusals and prepared records) are numbered within the chunk; ``first_row``
    is the file's row before the chunk's first (set when the chunk is handed out in order).
    """

    PREPARED: ClassVar[str] = "prepared"

    prepared: list[Prepared]
    errors: list[RecordError]
    rows: int
    seen: int
    last_line: int
    span: Span
    key_hashes: dict[bytes, int]  # the records' keys hashed as Kafka's default partitioner does
    first_row: int = 0


@dataclass(frozen=True)
class FileToCheck:
    path: Path
    codec: str
    size: int
    ends_with_break: bool
    header: Header
    kind: SignalKind
    partner_id: str
    after_line: int  # records starting on or before it were committed before a restart


def check_span(file: FileToCheck, span: Span, now: datetime) -> Chunk:
    """Read ``span`` of the file and check its records (in a worker process)."""
    read = read_span(file.path, file.codec, span, file.size, file.ends_with_break, file.after_line)
    prepared, errors = check_rows(read.records, file.header, file.kind, file.partner_id, now)
    last_line = read.records[-1].line if read.records else file.after_line
    hashes = hash_keys(prepared)  # spares the gateway's process murmur2 per record
    return Chunk(prepared, errors, len(read.records), read.seen, last_line, read.span, hashes)


class SpanRecords(NamedTuple):
    """The records of a span; ``seen`` counts every record (for the numbering of the next
    span), ``records`` only those after ``after_line``; ``span`` is where it really ended."""

    records: list[Record]
    seen: int
    span: Span


def read_span(
    path: Path, codec: str, span: Span, size: int, ends_with_break: bool, after_line: int
) -> SpanRecords:
    """The records of ``span`` numbered from 1 (the header skipped when it starts the file),
    read on past the span's end when that falls inside a quoted field."""
    with path.open("rb") as raw:
        raw.seek(span.start)
        data = raw.read(span.end - span.start)
        while True:
            parsed = _parse(data, codec, span, size, after_line)
            if parsed is not None:
                records, seen, lines = parsed
                break
            # the guessed end is inside a quoted field: read on, to a line break
            data += raw.read(READ_BLOCK) + raw.readline()
    end = span.start + len(data)
    if records and end == size and not ends_with_break and records[-1].error is None:
        last = records[-1]
        records[-1] = Record(last.line, last.row, last.cells, cut=True)
    return SpanRecords(
        records, seen, Span(span.start, end, span.first_line, span.first_line + lines)
    )


def _parse(
    data: bytes, codec: str, span: Span, size: int, after_line: int
) -> tuple[list[Record], int, int] | None:
    """(records, records seen, lines read), or None when ``data`` ends inside a quoted field
    before the end of the file."""
    # the byte-order mark is only at the start of the file; elsewhere U+FEFF is text
    text = data.decode(codec if span.start == 0 or codec != "utf-8-sig" else "utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    if span.start == 0:
        try:
            next(reader)  # the header (checked by read_header)
        except (StopIteration, csv.Error):
            return [], 0, reader.line_num
    records: list[Record] = []
    seen = 0
    while True:
        start = span.first_line + reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            message = str(exc)
            if "unexpected end of data" in message:
                if span.start + len(data) < size:
                    return None
                message = NEVER_CLOSED
            seen += 1
            if start > after_line:
                records.append(Record(start, seen, [], error=message))
            continue
        if not cells:  # a blank line
            continue
        seen += 1
        if start > after_line:
            records.append(Record(start, seen, cells))
    return records, seen, reader.line_num
