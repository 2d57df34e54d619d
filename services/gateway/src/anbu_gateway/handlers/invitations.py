"""Invitations: the links operators give reporters, checked and rate limited per link."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from anbu_contracts import ReporterRole
from anbu_runtime.auth import Principal
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.uow import Transactions

from ..adapters.orm import InvitationRow
from ..adapters.repository import GatewayRepository, Uow
from ..domain.rate_limit import TokenBucket
from .report_access import (
    NotAllowed,
    NotFound,
    ReportSettings,
    _code,
    may_invite,
    sees_dongs,
    token_digest,
)

log = get_logger(__name__)


class InvitationDesk:
    """The invitation use cases of :class:`~.reports.SafetyNet`."""

    runtime: ServiceRuntime
    tx: Transactions[GatewayRepository]
    settings: ReportSettings
    _buckets: dict[str, TokenBucket]

    async def invite(
        self,
        principal: Principal,
        role: ReporterRole,
        reporter_id: str | None,
        dong_codes: list[str],
        valid_days: int,
    ) -> tuple[InvitationRow, str]:
        """A new invitation and its link (the token is shown once, only its digest kept)."""
        if not may_invite(principal):
            raise NotAllowed("only operators and dong officials invite reporters")
        if not dong_codes and not principal.is_admin:
            dong_codes = sorted(principal.dong_codes)
        if not sees_dongs(principal, dong_codes):
            raise NotAllowed("an invitation may cover only dongs you serve")
        token = secrets.token_urlsafe(24)
        now = self.runtime.clock.now()
        row = InvitationRow(
            invitation_id="INV-" + _code(12),
            token_digest=token_digest(token),
            reporter_id=reporter_id or "R-" + _code(10),
            reporter_role=role.value,
            dong_codes=sorted(set(dong_codes)),
            created_by=principal.subject,
            created_at=now,
            expires_at=now + timedelta(days=valid_days),
        )
        await self.tx.run(lambda uow: uow.repos.add(row))
        link = f"{self.settings.public_url.rstrip('/')}/r/{token}"
        log.info(
            "reporter invited",
            invitation_id=row.invitation_id,
            reporter_id=row.reporter_id,
            role=role.value,
        )
        return row, link

    async def invitations(self, principal: Principal) -> list[InvitationRow]:
        if not may_invite(principal):
            raise NotAllowed("only operators and dong officials manage invitations")

        def read(uow: Uow) -> list[InvitationRow]:
            rows = uow.repos.latest_invitations(1000)
            return [r for r in rows if sees_dongs(principal, r.dong_codes)]

        return await self.tx.run(read)

    async def revoke(self, principal: Principal, invitation_id: str) -> None:
        def change(uow: Uow) -> None:
            row = uow.repos.invitation(invitation_id)
            if row is None or not sees_dongs(principal, row.dong_codes):
                raise NotFound(f"invitation {invitation_id} not found")
            if not may_invite(principal):
                raise NotAllowed("only operators and dong officials manage invitations")
            if row.revoked_at is None:
                row.revoked_at = uow.now
                uow.repos.add(row)

        await self.tx.run(change)

    async def invitation_for(self, token: str) -> InvitationRow | None:
        """The live invitation behind a link's token (None: unknown, expired or revoked)."""
        if not token or len(token) > 100:
            return None
        digest = token_digest(token)
        now = self.runtime.clock.now()

        def read(uow: Uow) -> InvitationRow | None:
            row = uow.repos.invitation_by_digest(digest)
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                return None
            return row

        return await self.tx.run(read)

    def admit(self, invitation: InvitationRow) -> bool:
        """A reporter's own rate limit (a leaked link cannot flood the detector)."""
        now = time.monotonic()
        per_hour = float(max(self.settings.reports_per_hour, 1))
        bucket = self._buckets.get(invitation.invitation_id)
        if bucket is None:
            bucket = TokenBucket(per_hour, per_hour / 3600.0, per_hour, now)
            self._buckets[invitation.invitation_id] = bucket
        return bucket.admit(1, now).allowed
