"""The human safety net: invitations, reports from the form, operators' review and rewards.

A report is stored first (its free text and any address sealed with AES-GCM: they never
leave the gateway's database, and the database never holds them in clear), then published
as a ``report`` signal through the submission log with its payload kept, so a report stored
while Kafka is away is published by the sweeper later: a reporter who saw the confirmation
never loses the report. A report whose household was not found waits, unpublished, until an
operator matches it to a household. The reporter is told the same thing either way.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from anbu_contracts import ReportCategory, ReporterRole, ReportSignal, ReportUrgency
from anbu_runtime.auth import Principal, UserRole
from anbu_runtime.logs import get_logger
from anbu_runtime.sealing import FieldSealer
from anbu_runtime.service import ServiceRuntime

from ..adapters import submission_log as log_repo
from ..adapters.kafka_batches import send_prepared
from ..adapters.orm import InvitationRow, ReportReadRow, ReportRow
from ..adapters.registry_client import RegistryClient
from ..adapters.submission_log import NewEntry
from ..domain.envelope import content_digest, signal_event_id
from ..domain.prepared import Prepared, prepare
from ..domain.rate_limit import TokenBucket
from ..domain.records import Candidate
from ..domain.reports import (
    Lookup,
    LookupKind,
    LookupResult,
    ReportInput,
    ReportState,
)
from ..domain.rewards import ReportFacts, RewardPolicy, RewardRecord, yearly_records
from ..metrics import REPORTS, SIGNALS
from .publishing import TOPIC_OF, KafkaUnavailable, Publisher, real_now

log = get_logger(__name__)

# Sealing contexts: a sealed note does not open as an address (AES-GCM associated data).
NOTE_CONTEXT = "report.note"
ADDRESS_CONTEXT = "report.address"
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud over the phone


def _code(n: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NotAllowed(Exception):
    pass


class NotFound(Exception):
    pass


class Conflict(Exception):
    pass


@dataclass(frozen=True)
class ReportSettings:
    partner_id: str = "safety-net"
    public_url: str = "http://127.0.0.1:8702"
    reports_per_hour: int = 20  # per invitation
    publish_timeout_s: float = 10.0


def may_invite(principal: Principal) -> bool:
    return principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL)


def sees_dongs(principal: Principal, dongs: Sequence[str]) -> bool:
    """Whether ``principal`` serves every dong in ``dongs`` (an empty list: admins only)."""
    if principal.is_admin:
        return True
    return bool(dongs) and all(principal.sees_dong(d) for d in dongs)


def sees_report(principal: Principal, row: ReportRow, invitation: InvitationRow | None) -> bool:
    if principal.is_admin:
        return True
    if not principal.has_role(UserRole.OPERATOR, UserRole.DONG_OFFICIAL):
        return False
    if row.dong_code is not None:
        return principal.sees_dong(row.dong_code)
    return invitation is not None and sees_dongs(principal, invitation.dong_codes)


class SafetyNet:
    def __init__(
        self,
        runtime: ServiceRuntime,
        publisher: Publisher,
        settings: ReportSettings,
        policy: RewardPolicy,
        registry: RegistryClient,
        sealer: FieldSealer,
    ) -> None:
        self.runtime = runtime
        self.publisher = publisher
        self.settings = settings
        self.policy = policy
        self.registry = registry
        self.sealer = sealer
        self._buckets: dict[str, TokenBucket] = {}
        self._sending: set[asyncio.Task[None]] = set()  # background sends, kept referenced

    # -- invitations ---------------------------------------------------------------------

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
        await self.runtime.db.run(lambda s: s.add(row))
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

        def read(session: Session) -> list[InvitationRow]:
            rows = session.exec(
                select(InvitationRow).order_by(col(InvitationRow.created_at).desc()).limit(1000)
            ).all()
            return [r for r in rows if sees_dongs(principal, r.dong_codes)]

        return await self.runtime.db.run(read)

    async def revoke(self, principal: Principal, invitation_id: str) -> None:
        def change(session: Session) -> None:
            row = session.get(InvitationRow, invitation_id)
            if row is None or not sees_dongs(principal, row.dong_codes):
                raise NotFound(f"invitation {invitation_id} not found")
            if not may_invite(principal):
                raise NotAllowed("only operators and dong officials manage invitations")
            if row.revoked_at is None:
                row.revoked_at = self.runtime.clock.now()
                session.add(row)

        await self.runtime.db.run(change)

    async def invitation_for(self, token: str) -> InvitationRow | None:
        """The live invitation behind a link's token (None: unknown, expired or revoked)."""
        if not token or len(token) > 100:
            return None
        digest = token_digest(token)
        now = self.runtime.clock.now()

        def read(session: Session) -> InvitationRow | None:
            row = session.exec(
                select(InvitationRow).where(InvitationRow.token_digest == digest)
            ).first()
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                return None
            return row

        return await self.runtime.db.run(read)

    def admit(self, invitation: InvitationRow) -> bool:
        """A reporter's own rate limit (a leaked link cannot flood the detector)."""
        now = time.monotonic()
        per_hour = float(max(self.settings.reports_per_hour, 1))
        bucket = self._buckets.get(invitation.invitation_id)
        if bucket is None:
            bucket = TokenBucket(per_hour, per_hour / 3600.0, per_hour, now)
            self._buckets[invitation.invitation_id] = bucket
        return bucket.admit(1, now).allowed

    # -- reports -------------------------------------------------------------------------

    async def submit(self, invitation: InvitationRow, form: ReportInput) -> ReportRow:
        """Take a report: find its household, store it, and return (publication follows).

        The caller learns nothing of what the lookup found: whatever it was, the report is
        stored and the same row kind comes back. A matched report is stored together with
        its pending signal (payload kept) in one transaction and sent in the background, so
        answering takes the same path for every outcome and a crash after the answer still
        publishes it (the sweeper). An unmatched one keeps what the reporter typed, sealed,
        for an operator to match.
        """
        assert form.ok and form.category is not None and form.urgency is not None
        assert form.lookup_kind is not None
        found = await self._look_up(invitation, form)
        now = self.runtime.clock.now()
        matched = found.result is LookupResult.FOUND and found.household_id is not None
        row = ReportRow(
            reference="RPT-" + _code(10),
            invitation_id=invitation.invitation_id,
            reporter_id=invitation.reporter_id,
            reporter_role=invitation.reporter_role,
            lookup_kind=form.lookup_kind.value,
            household_id=found.household_id if matched else None,
            dong_code=found.dong_code if matched else None,
            category=form.category.value,
            urgency=form.urgency.value,
            note=self.sealer.seal(form.note, context=NOTE_CONTEXT),
            # An id or phone that named nobody is kept like an address: the operator's clue.
            address=None
            if matched
            else self.sealer.seal(form.lookup_value, context=ADDRESS_CONTEXT),
            submitted_at=now,
        )
        pending = prepare(self._candidate(row)) if matched else None

        def store(session: Session) -> None:
            session.add(row)
            current = session.get(InvitationRow, invitation.invitation_id)
            if current is not None:
                current.last_used_at = now
                session.add(current)
            if pending is not None:
                entry = NewEntry(row.reference, "report", pending.digest, None, pending.value)
                owner = f"report-{row.reference}"
                log_repo.reserve(session, self.settings.partner_id, owner, [entry], real_now())

        await self.runtime.db.run(store)
        if pending is None:
            REPORTS.labels(row.category, ReportState.UNMATCHED.value).inc()
            log.info("report stored unmatched", reference=row.reference, category=row.category)
            return row
        if invitation.dong_codes and row.dong_code not in invitation.dong_codes:
            # Routed like any other (the household's own officials see it); the reporter is
            # told nothing, and the invitation's officials see it only if they serve there.
            log.info(
                "report names a household outside its invitation's area",
                reference=row.reference,
                invitation_id=invitation.invitation_id,
            )
        task = asyncio.create_task(self._send_stored(row, pending))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        return row

    async def drain(self) -> None:
        """Wait for the background sends ``submit`` started (shutdown; tests)."""
        while self._sending:
            await asyncio.gather(*list(self._sending), return_exceptions=True)

    async def _look_up(self, invitation: InvitationRow, form: ReportInput) -> Lookup:
        if form.lookup_kind is LookupKind.ADDRESS:
            return Lookup(LookupResult.NOT_FOUND)  # an address is matched by an operator
        assert form.lookup_kind is not None
        return await self.registry.reporter_lookup(
            invitation.invitation_id,
            invitation.reporter_role,
            form.lookup_kind.value,
            form.lookup_value,
        )

    async def _send_stored(self, row: ReportRow, pending: Prepared) -> None:
        """Send a report signal stored pending by ``submit``; on failure the sweeper does."""
        try:
            if not self.runtime.producer.started or not self.runtime.connected:
                raise KafkaUnavailable("Kafka is not connected")
            await asyncio.wait_for(
                send_prepared(self.runtime.producer, TOPIC_OF, [pending]),
                timeout=self.settings.publish_timeout_s,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "report stored; publication pending",
                reference=row.reference,
                error=type(exc).__name__,
            )
            REPORTS.labels(row.category, ReportState.PENDING.value).inc()
            return
        reference = row.reference
        await self.runtime.db.run(
            lambda s: log_repo.mark_published(s, self.settings.partner_id, [reference], real_now())
        )
        self._published(row)

    def _published(self, row: ReportRow) -> None:
        REPORTS.labels(row.category, ReportState.PUBLISHED.value).inc()
        SIGNALS.labels("report", self.settings.partner_id, "form", "accepted").inc()
        log.info(
            "report published",
            reference=row.reference,
            category=row.category,
            urgency=row.urgency,
            household_id=row.household_id,
        )

    def opened(self, row: ReportRow) -> ReportRow:
        """A detached copy of ``row`` with its note and address in clear (for a reader the
        caller has checked); the stored row keeps them sealed. Rows written before sealing
        hold plaintext and are returned as they are."""
        copy = ReportRow.model_validate(row.model_dump())
        copy.note = self._open(row.note, NOTE_CONTEXT)
        copy.address = None if row.address is None else self._open(row.address, ADDRESS_CONTEXT)
        return copy

    def _open(self, value: str, context: str) -> str:
        if not FieldSealer.is_sealed(value):
            return value
        return self.sealer.open(value, context=context)

    def _candidate(self, row: ReportRow) -> Candidate:
        signal = self._signal(row)
        return Candidate(0, signal, content_digest(signal))

    def _signal(self, row: ReportRow) -> ReportSignal:
        assert row.household_id is not None
        partner = self.settings.partner_id
        return ReportSignal(
            event_id=signal_event_id(partner, row.reference),
            occurred_at=row.submitted_at,
            produced_at=self.runtime.clock.now(),
            source=partner,
            household_id=row.household_id,
            partner_id=partner,
            partner_event_id=row.reference,
            reporter_role=ReporterRole(row.reporter_role),
            reporter_id=row.reporter_id,
            category=ReportCategory(row.category),
            urgency=ReportUrgency(row.urgency),
            note_ref=row.reference,
        )

    async def _publish(self, row: ReportRow) -> ReportState:
        candidate = self._candidate(row)
        try:
            await asyncio.wait_for(
                self.publisher.publish(
                    self.settings.partner_id,
                    f"report-{row.reference}",
                    [prepare(candidate)],
                    keep_payload=True,
                ),
                timeout=self.settings.publish_timeout_s,
            )
        except (KafkaUnavailable, TimeoutError) as exc:
            # Keep the signal with its payload in the log (a no-op when the attempt got that
            # far): the sweeper publishes it once Kafka answers.
            entry = NewEntry(
                row.reference, "report", candidate.digest, None, prepare(candidate).value
            )
            owner = f"report-{row.reference}"
            await self.runtime.db.run(
                lambda s: log_repo.reserve(s, self.settings.partner_id, owner, [entry], real_now())
            )
            log.warning(
                "report stored; publication pending", reference=row.reference, error=str(exc)
            )
            REPORTS.labels(row.category, ReportState.PENDING.value).inc()
            return ReportState.PENDING
        self._published(row)
        return ReportState.PUBLISHED

    async def report_of(self, invitation: InvitationRow, reference: str) -> ReportRow | None:
        def read(session: Session) -> ReportRow | None:
            row = session.get(ReportRow, reference)
            return (
                row if row is not None and row.invitation_id == invitation.invitation_id else None
            )

        return await self.runtime.db.run(read)

    async def state_of(self, row: ReportRow) -> ReportState:
        return await self.runtime.db.run(lambda s: self._states(s, [row])[row.reference])

    # -- operators -----------------------------------------------------------------------

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

        def read(session: Session) -> ReportRow:
            row = session.get(ReportRow, reference)
            invitation = session.get(InvitationRow, row.invitation_id) if row else None
            if row is None or not sees_report(principal, row, invitation):
                raise NotFound(f"report {reference} not found")
            if row.household_id is not None:
                raise Conflict(f"report {reference} is already matched to a household")
            return row

        return await self.runtime.db.run(read)

    async def match(
        self, principal: Principal, reference: str, found: Lookup
    ) -> tuple[ReportRow, ReportState]:
        """Attach an unmatched report to the household an operator found, and publish it."""

        def change(session: Session) -> ReportRow:
            row = session.get(ReportRow, reference)
            invitation = session.get(InvitationRow, row.invitation_id) if row else None
            if row is None or not sees_report(principal, row, invitation):
                raise NotFound(f"report {reference} not found")
            if row.household_id is not None:
                raise Conflict(f"report {reference} is already matched to a household")
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
