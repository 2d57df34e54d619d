"""Operators' side of the reports: listing, reading (recorded), review, matching, rewards."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from anbu_runtime.auth import Principal, UserRole
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.uow import Transactions

from ..adapters.orm import ReportReadRow, ReportRow
from ..adapters.repository import GatewayRepository, Uow
from ..adapters.submission_log import PUBLISHED
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
    tx: Transactions[GatewayRepository]
    settings: ReportSettings
    policy: RewardPolicy

    def opened(self, row: ReportRow) -> ReportRow:
        raise NotImplementedError

    async def _publish(self, row: ReportRow) -> ReportState:
        raise NotImplementedError

    def _states(
        self, repos: GatewayRepository, rows: Sequence[ReportRow]
    ) -> dict[str, ReportState]:
        statuses = repos.log_status(
            self.settings.partner_id, [r.reference for r in rows if r.household_id]
        )
        out: dict[str, ReportState] = {}
        for r in rows:
            if r.household_id is None:
                out[r.reference] = ReportState.UNMATCHED
            elif statuses.get(r.reference) == PUBLISHED:
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

        def read(uow: Uow) -> list[tuple[ReportRow, ReportState]]:
            repos = uow.repos
            rows = repos.reports(dong_code, state is ReportState.UNMATCHED, 5000)
            invitations = repos.invitations_of(rows)
            visible = [
                r for r in rows if sees_report(principal, r, invitations.get(r.invitation_id))
            ]
            states = self._states(repos, visible)
            out = [(r, states[r.reference]) for r in visible]
            if state is not None:
                out = [item for item in out if item[1] is state]
            return out[:limit]

        return await self.tx.run(read)

    async def read(self, principal: Principal, reference: str) -> tuple[ReportRow, ReportState]:
        """A report with its free text; the read is recorded (who and when)."""

        def read(uow: Uow) -> tuple[ReportRow, ReportState]:
            row = _visible(uow.repos, principal, reference)
            uow.repos.add(ReportReadRow(reference=reference, reader=principal.subject, at=uow.now))
            return self.opened(row), self._states(uow.repos, [row])[reference]

        return await self.tx.run(read)

    async def review(
        self, principal: Principal, reference: str, valid: bool, reason: str
    ) -> tuple[ReportRow, ReportState]:
        """Mark a report valid or invalid for the reward record."""

        def change(uow: Uow) -> tuple[ReportRow, ReportState]:
            row = _visible(uow.repos, principal, reference)
            row.marked_invalid = not valid
            row.review_reason = reason
            row.reviewed_by = principal.subject
            row.reviewed_at = uow.now
            uow.repos.add(row)
            return row, self._states(uow.repos, [row])[reference]

        return await self.tx.run(change)

    async def unmatched(self, principal: Principal, reference: str) -> ReportRow:
        """The unmatched report ``reference`` if ``principal`` may match it."""

        return await self.tx.run(lambda uow: _unmatched(uow.repos, principal, reference))

    async def match(
        self, principal: Principal, reference: str, found: Lookup
    ) -> tuple[ReportRow, ReportState]:
        """Attach an unmatched report to the household an operator found, and publish it."""

        def change(uow: Uow) -> ReportRow:
            row = _unmatched(uow.repos, principal, reference)
            if found.dong_code is not None and not principal.sees_dong(found.dong_code):
                raise NotAllowed("the household is outside your area")
            row.household_id = found.household_id
            row.dong_code = found.dong_code
            row.matched_by = principal.subject
            uow.repos.add(row)
            return row

        row = await self.tx.run(change)
        return row, await self._publish(row)

    async def rewards(self, principal: Principal, year: int) -> list[RewardRecord]:
        """Every reporter's reward record for ``year`` (the reporters an operator serves)."""
        if not principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL):
            raise NotAllowed("only operators and dong officials read reward records")

        def read(repos: GatewayRepository) -> list[ReportFacts]:
            start = datetime(year - 1, 12, 31, 0, 0, tzinfo=UTC)
            end = datetime(year + 1, 1, 2, 0, 0, tzinfo=UTC)
            rows = repos.reports_between(start, end)
            invitations = repos.invitations_of(rows)
            visible = [
                r
                for r in rows
                if principal.is_admin
                or sees_dongs(principal, invitations[r.invitation_id].dong_codes)
                if r.invitation_id in invitations
            ]
            states = self._states(repos, visible)
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

        facts = await self.tx.read(read)
        return yearly_records(facts, year, self.policy)


def _visible(repos: GatewayRepository, principal: Principal, reference: str) -> ReportRow:
    """The report ``reference`` if ``principal`` sees it (else NotFound)."""
    row = repos.report(reference)
    invitation = repos.invitation(row.invitation_id) if row else None
    if row is None or not sees_report(principal, row, invitation):
        raise NotFound(f"report {reference} not found")
    return row


def _unmatched(repos: GatewayRepository, principal: Principal, reference: str) -> ReportRow:
    """The unmatched report ``reference`` that ``principal`` sees (NotFound, Conflict)."""
    row = _visible(repos, principal, reference)
    if row.household_id is not None:
        raise Conflict(f"report {reference} is already matched to a household")
    return row
