"""Bulk enrolment import: the CSV files districts hand over, streamed with bounded memory.

Records are read in batches of ``batch_size``, each written in one transaction: all-or-nothing
per batch (a batch with any invalid row is written not at all, and the report names every
invalid row with its line number and reasons). ``dry_run`` validates everything and writes
nothing. ``progress`` is called after every batch.

The CPU-bound half of a batch (validation, sealing, blind indexes, the snapshot) runs in
``workers`` processes (handlers/import_batches.py) while this process reads the file and
writes the batches before it in file order, with COPY on PostgreSQL.

A file that cannot be read as CSV at all stops the import with :class:`MalformedFile`,
which names the line; batches before that line stay written, as with any batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from anbu_runtime.auth import Principal
from anbu_runtime.uow import Transactions

from ..adapters.household_csv import (
    MAX_FIELD_CHARS,
    MAX_LINE_BYTES,
    HeaderError,
    MalformedFile,
    file_lines,
    record_batches,
)
from ..adapters.pii import PiiCipher
from ..adapters.repository import Repositories, UoW
from .common import audit
from .import_batches import BatchPreparer, CopyTables, PreparedBatch, Tables

__all__ = [
    "MAX_FIELD_CHARS",
    "MAX_LINE_BYTES",
    "HeaderError",
    "ImportReport",
    "MalformedFile",
    "file_lines",
    "run_import",
]
MAX_REPORTED_ERRORS = 1000


@dataclass
class RowError:
    line: int
    errors: list[str]


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    imported: int = 0
    batches: int = 0
    batches_rejected: int = 0
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False


def run_import(
    tx: Transactions[Repositories],
    cipher: PiiCipher,
    lines: Iterable[str],
    principal: Principal,
    *,
    dry_run: bool = False,
    batch_size: int = 1000,
    progress: Callable[[ImportReport], None] | None = None,
    workers: int = 0,
    start_method: str = "spawn",
) -> ImportReport:
    """Import households from CSV ``lines`` (synchronous: run it off the event loop; the
    caller wakes the outbox relay afterwards, as it would after ``tx.run``)."""
    report = ImportReport(dry_run=dry_run)
    seen: set[str] = set()  # household ids the file gives, to refuse one given twice
    pending: deque[Future[PreparedBatch]] = deque()
    # On PostgreSQL the workers format their rows as COPY text: this process copies bytes.
    copy = tx.db.engine.dialect.name == "postgresql"

    def settle_next() -> None:
        prepared = pending.popleft().result()
        if not _account(report, prepared, seen) and prepared.tables is not None:
            _write(tx, report, prepared.tables, prepared.notes, principal)
        if progress:
            progress(report)

    with BatchPreparer(cipher, workers, start_method) as preparer:
        try:
            for chunk in record_batches(lines, batch_size):
                now = tx.clock.now()
                pending.append(preparer.submit(chunk, principal, now, not dry_run, copy))
                while len(pending) > preparer.depth:
                    settle_next()
        except MalformedFile as exc:
            while pending:  # the batches before the bad line are written
                settle_next()
            if exc.partial and exc.partial.records:  # the rows read after them: counted, unwritten
                rest = preparer.submit(exc.partial, principal, tx.clock.now(), False).result()
                _account(report, rest, seen, batch=False)
            exc.report = report  # the caller says what was written before the bad line
            raise
        while pending:
            settle_next()
    return report


def _account(
    report: ImportReport, prepared: PreparedBatch, seen: set[str], *, batch: bool = True
) -> bool:
    """Count a batch's rows and errors into ``report``; True if the batch is rejected."""
    invalid = prepared.invalid
    for line, errors, given_id in prepared.notes:
        if given_id:
            if given_id in seen:
                invalid += 0 if errors else 1
                errors = [*errors, f"household {given_id} appears twice in the file"]
            seen.add(given_id)
        if errors:
            _error(report, line, errors)
    report.rows += prepared.rows
    report.invalid += invalid
    report.valid += prepared.rows - invalid
    if batch:
        report.batches += 1
        report.batches_rejected += 1 if invalid else 0
    return invalid > 0


def _write(
    tx: Transactions[Repositories],
    report: ImportReport,
    tables: Tables | CopyTables,
    notes: list[tuple[int, list[str], str | None]],
    principal: Principal,
) -> None:
    def write(uow: UoW) -> bool:
        clashes = uow.repos.existing_households([given for _, _, given in notes if given])
        if clashes:
            report.batches_rejected += 1
            for line, _, given in notes:
                if given in clashes:
                    _error(report, line, [f"household {given} already exists"])
            return False
        write_batch(uow, tables, principal)
        return True

    if tx.run_sync(write):
        report.imported += tables.households


def _error(report: ImportReport, line: int, errors: list[str]) -> None:
    if len(report.errors) < MAX_REPORTED_ERRORS:
        report.errors.append(RowError(line=line, errors=errors))
    else:
        report.errors_truncated = True


def write_batch(uow: UoW, tables: Tables | CopyTables, principal: Principal) -> None:
    """Store a prepared batch and its snapshots with bulk statements, and audit it."""
    uow.repos.add_import_batch(tables)
    audit(
        uow,
        principal,
        "household.import",
        f"batch:{tables.households}",
        "bulk enrolment",
        {"first": tables.first_household_id, "count": tables.households},
    )
