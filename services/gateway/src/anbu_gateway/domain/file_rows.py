"""Checking the data rows of a CSV file: each row a prepared record or the reason it is refused.

Pure code, so that a chunk of rows can be checked in a worker process
(``adapters/validation_pool.py``) while the gateway's event loop publishes the previous one.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import ValidationError

from anbu_contracts import Signal, SignalKind

from .csv_columns import Header
from .envelope import content_digest, to_signal_of_kind
from .prepared import Prepared, prepare_signal
from .records import Candidate, RecordError, invalid


class Record(NamedTuple):
    """One CSV record: the physical line it starts on, its data-row number and its cells.

    ``error`` is set when the record cannot be read (bad quoting); ``cut`` when it is the
    last record of a file that does not end with a line break (it may have been truncated).
    A named tuple: built for every row and sent to a worker process by the chunk.
    """

    line: int
    row: int
    cells: list[str]
    error: str | None = None
    cut: bool = False


def check_record(
    record: Record, header: Header, kind: SignalKind, partner_id: str, now: datetime
) -> Candidate | RecordError:
    """One CSV record as a validated candidate, or the reason it is refused."""
    outcome = _checked(record, header, kind, partner_id, now)
    if isinstance(outcome, RecordError):
        return outcome
    return Candidate(record.line, outcome, content_digest(outcome), record.row)


def _checked(
    record: Record, header: Header, kind: SignalKind, partner_id: str, now: datetime
) -> Signal | RecordError:
    if record.error is not None:
        kind_of = "truncated-record" if "never closed" in record.error else "invalid-csv-row"
        return RecordError(record.line, record.error, type=kind_of, row=record.row)
    if len(record.cells) != header.width:
        if record.cut:
            return RecordError(
                record.line,
                f"the file ends inside this row ({len(record.cells)} of {header.width} "
                "columns): it was cut off",
                type="truncated-record",
                row=record.row,
            )
        return RecordError(
            record.line,
            f"the row has {len(record.cells)} columns, the header {header.width}",
            type="invalid-csv-row",
            row=record.row,
        )
    body = header.body(record.cells)
    pid = body.get("partner_event_id")
    try:
        signal = to_signal_of_kind(kind, body, partner_id, now)
    except ValidationError as exc:
        return invalid(record.line, exc, row=record.row, partner_event_id=pid)
    if record.cut:
        return RecordError(
            record.line,
            "the file does not end with a line break after this row, so it may have been "
            "cut off; end the file with a line break and send this row again",
            type="truncated-record",
            row=record.row,
            partner_event_id=signal.partner_event_id,
        )
    return signal


def check_rows(
    records: list[Record], header: Header, kind: SignalKind, partner_id: str, now: datetime
) -> tuple[list[Prepared], list[RecordError]]:
    """A chunk of records checked and serialised: (ready to publish, refused)."""
    prepared: list[Prepared] = []
    errors: list[RecordError] = []
    for record in records:
        outcome = _checked(record, header, kind, partner_id, now)
        if isinstance(outcome, RecordError):
            errors.append(outcome)
        else:
            prepared.append(prepare_signal(record.line, outcome, record.row))
    return prepared, errors
