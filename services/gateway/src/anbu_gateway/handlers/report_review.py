"""Operators' side of the reports: listing, reading (recorded), review, matching, rewards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from anbu_runtime.auth import Principal, UserRole
from anbu_runtime.service import ServiceRuntime

from ..adapters import submission_log as log_repo
from ..adapters.orm import InvitationRow, ReportReadRow, ReportRow
from ..domain.reports import (
    Lookup,
    ReportState,
)
from ..domain.rewards import ReportFacts, RewardPolicy, RewardRecord, yearly_records
from .report_access import (
    Conflict,
    NotAllowed,
    NotFound,
    ReportSettings,
    sees_dongs,
    sees_report,
)


class ReportReview:
    """The operators' use cases of :class:`~.reports.SafetyNet`."""

    runtime: ServiceRuntime
    settings: ReportSettings
    policy: RewardPolicy

    def opened(self, row: ReportRow) -> ReportRow:
        raise NotImplementedError

    async def _publish(self, row: ReportRow) -> ReportState:
        raise NotImplementedError

    def _states(self, session: Session, rows: Sequence[ReportRow]) -> dict[str, ReportState]:
        statuses = log_repo.status_of(
            session, self.settings.partner_id, [r.reference for r in rows if r.household_id]
        )
        out: dict[str, ReportState] = {}
        for r in rows:
            if r.household_id is None:
                out[r.reference] = ReportState.UNMATCHED
            elif statuses.get(r.reference) == log_repo.PUBLISHED:
                out[r.reference] = ReportState.PUBLISHED
            else:
                out[r.reference] = ReportState.PENDING
        return out

    async def listing(
        self,
        principal: Principal,
        state: ReportState | None,
        dong_code: str | None,
        limit: int,
    ) -> list[tuple[ReportRow, ReportState]]:
        if not principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL):
            raise NotAllowed("only operators and dong officials read reports")

        def read(session: Session) -> list[tuple[ReportRow, ReportState]]:
            query = select(ReportRow).order_by(col(ReportRow.submitted_at).desc())
            if dong_code is not None:
                query = query.where(ReportRow.dong_code == dong_code)
            if state is ReportState.UNMATCHED:
                query = query.where(col(ReportRow.household_id).is_(None))
            rows = session.exec(query.limit(5000)).all()
            invitations = _invitations(session, rows)
            visible = [
                r for r in rows if sees_report(principal, r, invitations.get(r.invitation_id))
            ]
            states = self._states(session, visible)
            out = [(r, states[r.reference]) for r in visible]
            if state is not None:
                out = [item for item in out if item[1] is state]
            return out[:limit]

        return await self.runtime.db.run(read)

    async def read(self, principal: Principal, reference: str) -> tuple[ReportRow, ReportState]:
        """A report with its free text; the read is recorded (who and when)."""

        def read(session: Session) -> tuple[ReportRow, ReportState]:
            row = session.get(ReportRow, reference)
            invitation = session.get(InvitationRow, row.invitation_id) if row else None
            if row is None or not sees_report(principal, row, invitation):
                raise NotFound(f"report {reference} not found")
            session.add(
                ReportReadRow(
                    reference=reference, reader=principal.subject, at=self.runtime.clock.now()
                )
            )
            return self.opened(row), self._states(session, [row])[reference]

        return await self.runtime.db.run(read)

    async def review(
        self, principal: Principal, reference: str, valid: bool, reason: str
    ) -> tuple[ReportRow, ReportState]:
        """Mark a report valid or invalid for the reward record."""

        def change(session: Session) -> tuple[ReportRow, ReportState]:
            row = session.get(ReportRow, reference)
            invitation = session.get(InvitationRow, row.invitation_id) if row else None
            if row is None or not sees_report(principal, row, invitation):
                raise NotFound(f"report {reference} not found")
            row.marked_invalid = not valid
            row.review_reason = reason
            row.reviewed_by = principal.subject
            row.reviewed_at = self.runtime.clock.now()
            session.add(row)
            return row, self._states(session, [row])[reference]

        return await self.runtime.db.run(change)

    async def unmatched(self, principal: Principal, reference: str) -> ReportRow:
        """The unmatched report ``reference`` if ``principal`` may match it."""

        return await self.runtime.db.run(lambda s: _unmatched(s, principal, reference))

    async def match(
        self, principal: Principal, reference: str, found: Lookup
    ) -> tuple[ReportRow, ReportState]:
        """Attach an unmatched report to the household an operator found, and publish it."""

        def change(session: Session) -> ReportRow:
            row = _unmatched(session, principal, reference)
            if found.dong_code is not None and not principal.sees_dong(found.dong_code):
                raise NotAllowed("the household is outside your area")
            row.household_id = found.household_id
            row.dong_code = found.dong_code
            row.matched_by = principal.subject
            session.add(row)
            return row

        row = await self.runtime.db.run(change)
        return row, await self._publish(row)

    async def rewards(self, principal: Principal, year: int) -> list[RewardRecord]:
        """Every reporter's reward record for ``year`` (the reporters an operator serves)."""
        if not principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL):
            raise NotAllowed("only operators and dong officials read reward records")

        def read(session: Session) -> list[ReportFacts]:
            start = datetime(year - 1, 12, 31, 0, 0, tzinfo=UTC)
            end = datetime(year + 1, 1, 2, 0, 0, tzinfo=UTC)
            rows = session.exec(
                select(ReportRow).where(
                    col(ReportRow.submitted_at) >= start, col(ReportRow.submitted_at) < end
                )
            ).all()
            invitations = _invitations(session, rows)
            visible = [
                r
                for r in rows
                if principal.is_admin
                or sees_dongs(principal, invitations[r.invitation_id].dong_codes)
                if r.invitation_id in invitations
            ]
            states = self._states(session, visible)
            return [
                ReportFacts(
                    reference=r.reference,
                    reporter_id=r.reporter_id,
                    household_id=r.household_id,
                    submitted_at=r.submitted_at,
                    published=states[r.reference] is ReportState.PUBLISHED,
                    marked_invalid=r.marked_invalid,
                )
                for r in visible
            ]

        facts = await self.runtime.db.run(read)
        return yearly_records(facts, year, self.policy)


def _invitations(session: Session, rows: Sequence[ReportRow]) -> dict[str, InvitationRow]:
    ids = sorted({r.invitation_id for r in rows})
    if not ids:
        return {}
    found = session.exec(
        select(InvitationRow).where(col(InvitationRow.invitation_id).in_(ids))
    ).all()
    return {i.invitation_id: i for i in found}


def _unmatched(session: Session, principal: Principal, reference: str) -> ReportRow:
    """The unmatched report ``reference`` that ``principal`` sees (NotFound, Conflict)."""
    row = session.get(ReportRow, reference)
    invitation = session.get(InvitationRow, row.invitation_id) if row else None
    if row is None or not sees_report(principal, row, invitation):
        raise NotFound(f"report {reference} not found")
    if row.household_id is not None:
        raise Conflict(f"report {reference} is already matched to a household")
    return row
