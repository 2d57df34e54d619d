"""all_or_nothing files: every row is checked before anything is published."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from anbu_contracts import SignalKind
from anbu_runtime.uow import Transactions

from ..adapters import csv_files
from ..adapters.orm import SubmissionRow
from ..adapters.repository import GatewayRepository, Uow
from ..domain.csv_columns import Header
from ..domain.file_rows import check_record
from ..domain.records import Candidate, RecordError, reused_id


def scan_all(
    tx: Transactions[GatewayRepository],
    row: SubmissionRow,
    header: Header,
    codec: str,
    stop: asyncio.Event,
    now: datetime,
    *,
    max_errors: int,
    batch_rows: int,
) -> tuple[int, int, list[RecordError]]:
    """Check every row of ``row``'s file (in a thread): (rows, rejected, the refusals kept).

    A row is refused when invalid, when it reuses a partner event id of an earlier row of
    the file (within a window) for other content, or one this partner used before.
    """
    kind = SignalKind(row.kind)
    rows = 0
    rejected = 0
    kept: list[RecordError] = []
    seen: dict[str, tuple[str, int]] = {}
    window = 50_000  # ids reused inside the file: checked within this many rows
    batch: list[Candidate] = []

    def refuse(error: RecordError) -> None:
        nonlocal rejected
        rejected += 1
        if len(kept) < max_errors:
            kept.append(error)

    def check_log() -> None:
        # ids this partner used before (another submission) for other content; this runs
        # in the scan's thread, hence run_sync
        ids = [c.partner_event_id for c in batch]
        known = tx.run_sync(lambda uow: uow.repos.log_entries(row.partner_id, ids))
        for c in batch:
            entry = known.get(c.partner_event_id)
            if entry is not None and entry.digest != c.digest:
                refuse(reused_id(c))
        batch.clear()

    for record in csv_files.records(Path(row.file_path), codec):
        if stop.is_set():
            break
        rows += 1
        outcome = check_record(record, header, kind, row.partner_id, now)
        if isinstance(outcome, RecordError):
            refuse(outcome)
            continue
        first = seen.get(outcome.partner_event_id)
        if first is not None and first[0] != outcome.digest:
            refuse(reused_id(outcome, first[1]))
            continue
        if len(seen) >= window:
            seen.clear()
        seen.setdefault(outcome.partner_event_id, (outcome.digest, outcome.line))
        batch.append(outcome)
        if len(batch) >= batch_rows:
            check_log()
    if batch:
        check_log()
    kept.sort(key=lambda e: e.line)
    return rows, rejected, kept


def refuse_file(
    uow: Uow, submission_id: str, rows: int, rejected: int, kept: list[RecordError], took: float
) -> None:
    """Record why an all_or_nothing file is refused: the counts and the refusals kept."""
    current = uow.repos.submission(submission_id)
    assert current is not None
    current.rows = rows
    current.rejected = rejected
    current.errors = [e.as_problem() for e in kept]
    current.errors_truncated = rejected > len(kept)
    current.detail = (
        f"{rejected} of {rows} rows are invalid; mode all_or_nothing: nothing was published"
    )
    current.processing_seconds += took
    uow.repos.add(current)
