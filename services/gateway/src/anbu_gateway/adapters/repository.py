"""The gateway's repository bundle: what a handler reaches through ``uow.repos``.

One instance lives for one unit of work (``runtime.transactions(GatewayRepository)``), over
its session. The submission log's statements stay in :mod:`.submission_log` and the file
claims' in :mod:`.submissions` (set-based Core SQL); this bundle gives the handlers those
with the session bound, and holds the SQL the handlers wrote inline before (invitations,
reports, submissions by hand).

Reads that return ORM rows run with ``tx.run``, not ``tx.read``: the read snapshot's
rollback would expire the rows after their session closed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from anbu_contracts import SignalKind
from anbu_runtime.uow import UnitOfWork

from ..domain.records import Mode
from . import submission_log, submissions
from .csv_files import StoredFile
from .orm import InvitationRow, ReportRow, SubmissionRow
from .submission_log import LogEntry, NewEntry, StrandedRecord


class GatewayRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)

    # -- the submission log (exactly once per partner event id) --------------------------

    def log_entries(self, partner_id: str, ids: Sequence[str]) -> dict[str, LogEntry]:
        return submission_log.existing(self.session, partner_id, ids)

    def log_status(self, partner_id: str, ids: Sequence[str]) -> dict[str, str]:
        return submission_log.status_of(self.session, partner_id, ids)

    def reserve(
        self, partner_id: str, owner: str, entries: Sequence[NewEntry], now: datetime
    ) -> set[str]:
        return submission_log.reserve(self.session, partner_id, owner, entries, now)

    def take_over(
        self, partner_id: str, owner: str, stale: Sequence[LogEntry], now: datetime
    ) -> set[str]:
        return submission_log.take_over(self.session, partner_id, owner, stale, now)

    def touch(self, partner_id: str, ids: Sequence[str], now: datetime) -> None:
        submission_log.touch(self.session, partner_id, ids, now)

    def mark_published(self, partner_id: str, ids: Sequence[str], now: datetime) -> None:
        submission_log.mark_published(self.session, partner_id, ids, now)

    def prune_log(self, published_before: datetime) -> int:
        return submission_log.prune(self.session, published_before)

    def stranded(self, older_than: datetime, limit: int) -> list[StrandedRecord]:
        return submission_log.stranded(self.session, older_than, limit)

    def claim_stranded(self, record: StrandedRecord, owner: str, now: datetime) -> bool:
        return submission_log.claim_stranded(self.session, record, owner, now)

    # -- submissions (CSV files) ---------------------------------------------------------

    def submission(self, submission_id: str) -> SubmissionRow | None:
        return self.session.get(SubmissionRow, submission_id)

    def find_submission(
        self, partner_id: str, kind: SignalKind, mode: Mode, stored: StoredFile
    ) -> SubmissionRow | None:
        return submissions.find(self.session, partner_id, kind, mode, stored)

    def claim_submission(self, owner: str, now: datetime, *, stale: datetime) -> str | None:
        return submissions.claim(self.session, owner, now, stale=stale)

    def release_claims(self, instance: str) -> int:
        return submissions.release_claims(self.session, instance)

    def submissions_by_state(self) -> dict[str, int]:
        return submissions.count_by_state(self.session)

    def insert_submission(self, row: SubmissionRow) -> SubmissionRow:
        """Insert now (a unique file raises ``IntegrityError`` here, not at the commit)."""
        self.session.add(row)
        self.session.flush()
        return row

    # -- invitations -----------------------------------------------------------------------

    def invitation(self, invitation_id: str) -> InvitationRow | None:
        return self.session.get(InvitationRow, invitation_id)

    def invitation_by_digest(self, digest: str) -> InvitationRow | None:
        query = select(InvitationRow).where(InvitationRow.token_digest == digest)
        return self.session.exec(query).first()

    def latest_invitations(self, limit: int) -> Sequence[InvitationRow]:
        query = select(InvitationRow).order_by(col(InvitationRow.created_at).desc())
        return self.session.exec(query.limit(limit)).all()

    def invitations_of(self, rows: Sequence[ReportRow]) -> dict[str, InvitationRow]:
        ids = sorted({r.invitation_id for r in rows})
        if not ids:
            return {}
        found = self.session.exec(
            select(InvitationRow).where(col(InvitationRow.invitation_id).in_(ids))
        ).all()
        return {i.invitation_id: i for i in found}

    # -- reports ---------------------------------------------------------------------------

    def report(self, reference: str) -> ReportRow | None:
        return self.session.get(ReportRow, reference)

    def reports(
        self, dong_code: str | None, unmatched_only: bool, limit: int
    ) -> Sequence[ReportRow]:
        """The latest reports (of ``dong_code``; only unmatched ones), newest first."""
        query = select(ReportRow).order_by(col(ReportRow.submitted_at).desc())
        if dong_code is not None:
            query = query.where(ReportRow.dong_code == dong_code)
        if unmatched_only:
            query = query.where(col(ReportRow.household_id).is_(None))
        return self.session.exec(query.limit(limit)).all()

    def reports_between(self, start: datetime, end: datetime) -> Sequence[ReportRow]:
        return self.session.exec(
            select(ReportRow).where(
                col(ReportRow.submitted_at) >= start, col(ReportRow.submitted_at) < end
            )
        ).all()


Uow = UnitOfWork[GatewayRepository]
