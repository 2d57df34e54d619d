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

from anbu_contracts import ReportSignal
from anbu_runtime.logs import get_logger
from anbu_runtime.sealing import FieldSealer
from anbu_runtime.service import ServiceRuntime

from ..adapters import events
from ..adapters.kafka_batches import send_prepared
from ..adapters.orm import InvitationRow, ReportRow
from ..adapters.registry_client import RegistryClient
from ..adapters.repository import Uow
from ..adapters.submission_log import NewEntry
from ..domain.envelope import content_digest
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
from ..domain.rewards import RewardPolicy
from ..metrics import REPORTS, SIGNALS
from .invitations import InvitationDesk
from .publishing import TOPIC_OF, KafkaUnavailable, Publisher, real_now
from .report_access import (
    ADDRESS_CONTEXT,
    NOTE_CONTEXT,
    ReportSettings,
    _code,
)
from .report_review import ReportReview

log = get_logger(__name__)


class SafetyNet(InvitationDesk, ReportReview):
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
        self.tx = publisher.tx
        self.settings = settings
        self.policy = policy
        self.registry = registry
        self.sealer = sealer
        self._buckets: dict[str, TokenBucket] = {}
        self._sending: set[asyncio.Task[None]] = set()  # background sends, kept referenced

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

        def store(uow: Uow) -> None:
            uow.repos.add(row)
            current = uow.repos.invitation(invitation.invitation_id)
            if current is not None:
                current.last_used_at = now
                uow.repos.add(current)
            if pending is not None:
                entry = NewEntry(row.reference, "report", pending.digest, None, pending.value)
                owner = f"report-{row.reference}"
                uow.repos.reserve(self.settings.partner_id, owner, [entry], real_now())

        await self.tx.run(store)
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
        await self.tx.run(
            lambda uow: uow.repos.mark_published(self.settings.partner_id, [reference], real_now())
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
        return events.report_signal(row, self.settings.partner_id, self.runtime.clock.now())

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
            await self.tx.run(
                lambda uow: uow.repos.reserve(self.settings.partner_id, owner, [entry], real_now())
            )
            log.warning(
                "report stored; publication pending", reference=row.reference, error=str(exc)
            )
            REPORTS.labels(row.category, ReportState.PENDING.value).inc()
            return ReportState.PENDING
        self._published(row)
        return ReportState.PUBLISHED

    async def report_of(self, invitation: InvitationRow, reference: str) -> ReportRow | None:
        def read(uow: Uow) -> ReportRow | None:
            row = uow.repos.report(reference)
            return (
                row if row is not None and row.invitation_id == invitation.invitation_id else None
            )

        return await self.tx.run(read)

    async def state_of(self, row: ReportRow) -> ReportState:
        return await self.tx.read(lambda repos: self._states(repos, [row])[row.reference])
