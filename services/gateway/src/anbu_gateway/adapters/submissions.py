"""The submissions table: finding a stored file, claiming work, releasing claims, counts.

A file worker claims a submission with a compare-and-set on ``claimed_by``/``claimed_at``;
a claim older than the lease is another instance's that died, and may be taken over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import Session

from anbu_contracts import SignalKind

from ..domain.records import Mode
from ..domain.submissions import SubmissionState
from .csv_files import StoredFile
from .orm import SubmissionRow

S = SubmissionState
_table: Any = SubmissionRow.__table__  # type: ignore[attr-defined]
ACTIVE = (S.RECEIVED.value, S.VALIDATING.value, S.PROCESSING.value)


def find(
    session: Session, partner_id: str, kind: SignalKind, mode: Mode, stored: StoredFile
) -> SubmissionRow | None:
    found = session.execute(
        select(_table.c.submission_id).where(
            _table.c.partner_id == partner_id,
            _table.c.kind == kind.value,
            _table.c.mode == mode.value,
            _table.c.file_sha256 == stored.sha256,
        )
    ).scalar_one_or_none()
    return None if found is None else session.get(SubmissionRow, found)


def release_claims(session: Session, instance: str) -> int:
    """Release the claims an earlier run of this instance left (called before workers start)."""
    result: Any = session.execute(
        update(_table)
        .where(_table.c.claimed_by.like(f"{instance}/%"))
        .where(_table.c.state.in_(ACTIVE))
        .values(claimed_by=None)
    )
    return int(result.rowcount or 0)


def get(session: Session, submission_id: str) -> SubmissionRow | None:
    return session.get(SubmissionRow, submission_id)


def claim(session: Session, owner: str, now: datetime, *, stale: datetime) -> str | None:
    """Claim the oldest active submission nobody holds (or whose claim is older than
    ``stale``) for ``owner``; its id, or None."""
    t = _table
    candidates = (
        session.execute(
            select(t.c.submission_id)
            .where(t.c.state.in_(ACTIVE))
            .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
            .order_by(t.c.created_at)
            .limit(5)
        )
        .scalars()
        .all()
    )
    for submission_id in candidates:
        result: Any = session.execute(
            update(t)
            .where(t.c.submission_id == submission_id)
            .where(or_(t.c.claimed_by.is_(None), t.c.claimed_at < stale))
            .values(claimed_by=owner, claimed_at=now)
        )
        if result.rowcount == 1:
            return str(submission_id)
    return None


def count_by_state(session: Session) -> dict[str, int]:
    return {
        state: n
        for state, n in session.execute(
            select(_table.c.state, func.count()).group_by(_table.c.state)
        )
    }
