"""The submission log: which partner observations the gateway holds, and their status.

Rows are written ``pending`` before a record is sent to Kafka and marked ``published``
after the broker acknowledged it, so the log never claims more than Kafka has. A row
left ``pending`` by a crash is reconciled against the topic before anything is sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, literal_column, select, update
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from .orm import SubmissionLogRow

PENDING = "pending"
PUBLISHED = "published"
_IN_CHUNK = 5000

log_table: Any = SubmissionLogRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class LogEntry:
    partner_event_id: str
    kind: str
    digest: str
    status: str
    owner: str
    line: int | None
    attempted_at: datetime


class NewEntry(NamedTuple):
    """A log row to reserve; a named tuple: one is built for every record of a file."""

    partner_event_id: str
    kind: str
    digest: str
    line: int | None
    payload: bytes | None


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


def _sqlite_cursor(session: Session) -> Any | None:
    """The driver's cursor when the log is on SQLite, else None.

    Every request classifies, reserves and marks its records by id; binding a thousand ids
    through SQLAlchemy's expanding ``IN`` cost ~1 µs an id to read and ~3 µs to mark, three
    to four times the statement itself (docs/performance.md). Instants are written as
    SQLAlchemy writes them on SQLite (UTC, no offset), so both paths read the same values.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return None
    return connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _sqlite_stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _with_ids(statement: str, n: int) -> str:
    """``statement`` with ``n`` placeholders in its ``IN ()`` (only ``?`` is inserted)."""
    return statement.replace("IN ()", f"IN ({', '.join('?' * n)})")


_SELECT_IDS = (
    "SELECT partner_event_id, kind, digest, status, owner, line, attempted_at "
    "FROM submission_log WHERE partner_id = ? AND partner_event_id IN ()"
)
_MARK_IDS = (
    "UPDATE submission_log SET status = ?, attempted_at = ?, payload = NULL "
    "WHERE partner_id = ? AND partner_event_id IN ()"
)


def existing(session: Session, partner_id: str, ids: Sequence[str]) -> dict[str, LogEntry]:
    """The log rows of ``ids`` (of ``partner_id``) that exist."""
    t = log_table
    found: dict[str, LogEntry] = {}
    cursor = _sqlite_cursor(session)
    if cursor is not None:
        for part in _chunks(ids):
            cursor.execute(_with_ids(_SELECT_IDS, len(part)), [partner_id, *part])
            for r in cursor:
                at = datetime.fromisoformat(r[6]).replace(tzinfo=UTC)
                found[r[0]] = LogEntry(r[0], r[1], r[2], r[3], r[4], r[5], at)
        cursor.close()
        return found
    for part in _chunks(ids):
        rows = session.execute(
            select(
                t.c.partner_event_id,
                t.c.kind,
                t.c.digest,
                t.c.status,
                t.c.owner,
                t.c.line,
                t.c.attempted_at,
            ).where(t.c.partner_id == partner_id, t.c.partner_event_id.in_(part))
        )
        for r in rows:
            found[r.partner_event_id] = LogEntry(
                r.partner_event_id, r.kind, r.digest, r.status, r.owner, r.line, r.attempted_at
            )
    return found


def reserve(
    session: Session, partner_id: str, owner: str, entries: Sequence[NewEntry], now: datetime
) -> set[str]:
    """Insert ``entries`` as pending for ``owner`` unless a row exists; return those inserted.

    Safe against a concurrent request inserting the same ids: the loser sees the other's row.
    """
    if not entries:
        return set()
    cursor = _sqlite_cursor(session)
    if cursor is not None:
        # The file path inserts millions of rows: the driver's executemany is several times
        # faster than binding each row through SQLAlchemy.
        stamp = _sqlite_stamp(now)
        cursor.executemany(
            "INSERT OR IGNORE INTO submission_log (partner_id, partner_event_id, kind, digest, "
            "status, owner, line, attempted_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    partner_id,
                    e.partner_event_id,
                    e.kind,
                    e.digest,
                    PENDING,
                    owner,
                    e.line,
                    stamp,
                    e.payload,
                )
                for e in entries
            ],
        )
        inserted = cursor.rowcount
        cursor.close()
        if inserted == len(entries):
            return {e.partner_event_id for e in entries}
    else:
        rows: list[dict[str, Any]] = [
            {
                "partner_id": partner_id,
                "partner_event_id": e.partner_event_id,
                "kind": e.kind,
                "digest": e.digest,
                "status": PENDING,
                "owner": owner,
                "line": e.line,
                "attempted_at": now,
                "payload": e.payload,
            }
            for e in entries
        ]
        session.execute(postgresql.insert(log_table).on_conflict_do_nothing(), rows)
    ids = [e.partner_event_id for e in entries]
    mine = existing(session, partner_id, ids)
    return {i for i, e in mine.items() if e.owner == owner and e.status == PENDING}


def take_over(
    session: Session,
    partner_id: str,
    owner: str,
    stale: Sequence[LogEntry],
    now: datetime,
) -> set[str]:
    """Claim pending rows another owner abandoned (compare-and-set on their attempt time)."""
    taken: set[str] = set()
    for entry in stale:
        result: Any = session.execute(
            update(log_table)
            .where(
                log_table.c.partner_id == partner_id,
                log_table.c.partner_event_id == entry.partner_event_id,
                log_table.c.status == PENDING,
                log_table.c.attempted_at == entry.attempted_at,
            )
            .values(owner=owner, attempted_at=now)
        )
        if result.rowcount == 1:
            taken.add(entry.partner_event_id)
    return taken


def touch(session: Session, partner_id: str, ids: Sequence[str], now: datetime) -> None:
    """Record a new send attempt of pending rows (moves their reconciliation window)."""
    for part in _chunks(ids):
        session.execute(
            update(log_table)
            .where(
                log_table.c.partner_id == partner_id,
                log_table.c.partner_event_id.in_(part),
                log_table.c.status == PENDING,
            )
            .values(attempted_at=now)
        )


def mark_published(session: Session, partner_id: str, ids: Sequence[str], now: datetime) -> None:
    cursor = _sqlite_cursor(session)
    if cursor is not None:
        stamp = _sqlite_stamp(now)
        for part in _chunks(ids):
            cursor.execute(_with_ids(_MARK_IDS, len(part)), [PUBLISHED, stamp, partner_id, *part])
        cursor.close()
        return
    for part in _chunks(ids):
        session.execute(
            update(log_table)
            .where(log_table.c.partner_id == partner_id, log_table.c.partner_event_id.in_(part))
            .values(status=PUBLISHED, attempted_at=now, payload=None)
        )


@dataclass(frozen=True)
class StrandedRecord:
    partner_id: str
    partner_event_id: str
    kind: str
    attempted_at: datetime
    payload: bytes


def stranded(session: Session, older_than: datetime, limit: int) -> list[StrandedRecord]:
    """Pending rows with a payload whose last attempt is older than ``older_than``."""
    t = log_table
    rows = session.execute(
        select(t.c.partner_id, t.c.partner_event_id, t.c.kind, t.c.attempted_at, t.c.payload)
        # the literal lets the partial index on pending rows serve this query
        .where(t.c.status == literal_column(f"'{PENDING}'"))
        .where(t.c.attempted_at < older_than, t.c.payload.is_not(None))
        .order_by(t.c.attempted_at)
        .limit(limit)
    )
    return [
        StrandedRecord(r.partner_id, r.partner_event_id, r.kind, r.attempted_at, r.payload)
        for r in rows
    ]


def claim_stranded(session: Session, record: StrandedRecord, owner: str, now: datetime) -> bool:
    result: Any = session.execute(
        update(log_table)
        .where(
            and_(
                log_table.c.partner_id == record.partner_id,
                log_table.c.partner_event_id == record.partner_event_id,
                log_table.c.status == PENDING,
                log_table.c.attempted_at == record.attempted_at,
            )
        )
        .values(owner=owner, attempted_at=now)
    )
    return bool(result.rowcount == 1)


def status_of(session: Session, partner_id: str, ids: Sequence[str]) -> dict[str, str]:
    return {i: e.status for i, e in existing(session, partner_id, ids).items()}


def prune(session: Session, published_before: datetime, limit: int = 50_000) -> int:
    """Forget published rows older than the dedupe window; returns how many."""
    t = log_table
    keys = list(
        session.execute(
            select(t.c.partner_id, t.c.partner_event_id)
            .where(t.c.status == PUBLISHED, t.c.attempted_at < published_before)
            .limit(limit)
        )
    )
    for key in keys:
        session.execute(
            delete(t).where(
                t.c.partner_id == key.partner_id, t.c.partner_event_id == key.partner_event_id
            )
        )
    return len(keys)
