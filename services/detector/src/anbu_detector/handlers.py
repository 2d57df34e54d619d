"""The detector's service layer: load state, let the domain decide, save, stage events.

Work arrives three ways — a batch of records from the consumer, a sweep of inactivity
deadlines, a protocol timer — and all of it runs under the consumer's lock (one writer of
the in-memory index) and in one database transaction per unit, with its events staged in
the outbox in that same transaction. Timers are set only after the commit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from prometheus_client import Counter as MetricCounter
from prometheus_client import Gauge, Histogram
from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from anbu_contracts import (
    AlertChange,
    AlertEvent,
    AlertReason,
    AlertResolution,
    AlertStatus,
    ApprovalRecord,
    ArrearsSignal,
    BlindSpotSignal,
    DisconnectionSignal,
    EscalationChange,
    EscalationClosure,
    EscalationEvent,
    EscalationStatus,
    EvidenceRef,
    HeartbeatSignal,
    HospitalDischargeSignal,
    HouseholdSnapshot,
    HouseholdStatus,
    MailUncollectedSignal,
    MonitoringChannel,
    OutcomeEvent,
    OutcomeResult,
    ReportCategory,
    ReportSignal,
    RuleRef,
    SafetyCallSignal,
    Signal,
    SignalKind,
    SosSignal,
    StepRecord,
    UsageDropSignal,
)
from anbu_contracts.topics import DETECTOR_ALERT, DETECTOR_ESCALATION
from anbu_runtime.batch import Received
from anbu_runtime.clock import Clock
from anbu_runtime.db import Database
from anbu_runtime.kafka import Tombstone, message_id
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import Inbox, Outbox

from .adapters.orm import (
    AlertRow,
    ChannelStateRow,
    EscalationRow,
    HouseholdRow,
    Repository,
    protocol_context,
    watch_config,
)
from .adapters.timers import StepTimers
from .domain import alerts, protocols, safety_calls, signal_rules
from .domain.absence import fuse
from .domain.alerts import Alert, Finding
from .domain.monitor import Monitor, Recovery
from .domain.protocols import Escalation, ProtocolSpec, StepResult, StepState
from .domain.rules import RuleCatalog, RuleSet
from .domain.signal_rules import ArrearsMemory

# What indexing a household reads of its row (``watch_config`` and ``rules_for``).
INDEXED_FIELDS = (
    "household_id",
    "partition",
    "status",
    "suspended_until",
    "timezone",
    "quiet_start",
    "quiet_end",
    "programme",
    "windows",
    "rule_overrides",
)
log = get_logger(__name__)
SOURCE = "detector"
ABSENCE_REASONS = (AlertReason.SAFETY_NOT_CONFIRMED, AlertReason.CHANNEL_SILENT)
# Humans asking for help are heard even while a household is suspended (away, hospital).
HEARD_WHEN_SUSPENDED = (SignalKind.SOS, SignalKind.REPORT)

SIGNALS = MetricCounter(
    "anbu_detector_signals_total", "Signals handled, by kind and partner.", ["kind", "partner"]
)
UNKNOWN = MetricCounter(
    "anbu_detector_unknown_household_signals_total",
    "Signals naming a household the registry never announced, by kind.",
    ["kind"],
)
LATENCY = Histogram(
    "anbu_detector_signal_latency_seconds",
    "From a signal's arrival on the broker to the commit of its effect.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OPEN_ALERTS = Gauge("anbu_detector_open_alerts", "Open alerts, by severity.", ["severity"])
RUNNING = Gauge(
    "anbu_detector_running_escalations", "Running escalations, by protocol.", ["protocol"]
)
WATCHED = Gauge("anbu_detector_watched_households", "Households in this instance's index.")
DEADLINES = Gauge("anbu_detector_pending_deadlines", "Inactivity deadlines in the index.")


@dataclass
class Effects:
    """What to do after the transaction committed: timers to set or clear."""

    timers: dict[UUID, tuple[int, datetime | None]] = field(default_factory=dict)


@dataclass
class Detector:
    catalog: RuleCatalog
    protocols: dict[str, ProtocolSpec]
    db: Database
    outbox: Outbox
    inbox: Inbox
    clock: Clock
    monitor: Monitor
    instance: str
    timers: StepTimers | None = None

    # -- rules -----------------------------------------------------------------------------

    def rules_for(self, household: HouseholdRow | None) -> RuleSet:
        if household is None:
            return self.catalog.default
        return self.catalog.for_household(household.programme, household.rule_overrides)

    # == the consumer's batches ===============================================================

    async def handle(self, batch: list[Received]) -> None:
        """Apply a batch. Heartbeats only touch the in-memory index (``flush`` makes them
        durable before their offsets are committed); everything else commits here."""
        now = self.clock.now()
        recoveries: list[Recovery] = []
        unknown: dict[str, Counter[str]] = defaultdict(Counter)
        others: list[Received] = []
        heartbeats: Counter[str] = Counter()
        monitor = self.monitor
        for item in batch:
            event = item.event
            if isinstance(event, HeartbeatSignal):
                heartbeats[event.partner_id] += 1
                watch = monitor.households.get(event.household_id)
                if watch is None or watch.config is None:
                    unknown[event.household_id][event.kind] += 1
                recovery = monitor.heartbeat(
                    event.household_id,
                    item.partition,
                    event.channel,
                    event.last_active_at,
                    event.event_id,
                    event.partner_id,
                )
                if recovery is not None:
                    recoveries.append(recovery)
            else:
                others.append(item)
        effects = Effects()
        if others or recoveries or unknown:

            def transaction(session: Session) -> None:
                repo = Repository(session)
                for item in others:
                    event = item.event
                    if isinstance(event, Tombstone):
                        continue
                    if not self.inbox.first_time(session, message_id(event)):
                        continue
                    self._apply(repo, item, now, unknown, effects)
                for recovery in recoveries:
                    self._recover(repo, recovery, now, effects)
                repo.note_unknown({h: dict(k) for h, k in unknown.items()}, now)

            await self.db.run(transaction)
            self.outbox.notify()
            await self._after_commit(effects)
        for partner, n in heartbeats.items():
            SIGNALS.labels(SignalKind.HEARTBEAT.value, partner).inc(n)
        for kinds in unknown.values():
            for kind, n in kinds.items():
                UNKNOWN.labels(kind).inc(n)
        done = time.time() * 1000
        for item in batch[:: max(len(batch) // 50, 1)]:  # a sample: observing every one costs
            LATENCY.observe(max(done - item.timestamp_ms, 0) / 1000)

    async def flush(self) -> None:
        """Make the index's changes durable (called before offsets are committed)."""
        rows = self._dirty_rows()
        if rows:
            await self.db.run(lambda session: self._upsert_channels(session, rows))

    def _apply(
        self,
        repo: Repository,
        item: Received,
        now: datetime,
        unknown: dict[str, Counter[str]],
        effects: Effects,
    ) -> None:
        event = item.event
        if isinstance(event, HouseholdSnapshot):
            self._on_household(repo, event, item.partition, now, effects)
        elif isinstance(event, OutcomeEvent):
            self._on_outcome(repo, event, now, effects)
        elif isinstance(event, Signal):
            SIGNALS.labels(event.kind, event.partner_id).inc()  # type: ignore[attr-defined]
            household = repo.household(event.household_id)
            if household is None:
                unknown[event.household_id][event.kind] += 1  # type: ignore[attr-defined]
            elif not self._processing(household, event, event.occurred_at):
                return
            self._on_signal(repo, event, household, item.partition, now, effects)

    @staticmethod
    def _processing(household: HouseholdRow, signal: Signal, at: datetime) -> bool:
        """Moved or closed households, and suspended ones (but for SOS and reports), rest."""
        if household.status in (HouseholdStatus.MOVED.value, HouseholdStatus.CLOSED.value):
            return False
        if household.status == HouseholdStatus.SUSPENDED.value:
            kind = SignalKind(signal.kind)  # type: ignore[attr-defined]
            ended = household.suspended_until is not None and household.suspended_until <= at
            return ended or kind in HEARD_WHEN_SUSPENDED
        return True

    # -- registry --------------------------------------------------------------------------

    def _on_household(
        self,
        repo: Repository,
        snapshot: HouseholdSnapshot,
        partition: int,
        now: datetime,
        effects: Effects,
    ) -> None:
        row = repo.save_household(snapshot, partition)
        if row is None:
            return  # an older revision
        rules = self.rules_for(row)
        dropped = self.monitor.configure(
            row.household_id, partition, watch_config(row, rules.absence.windows_hours), now
        )
        for channel in dropped:  # consent withdrawn or channel removed: stop at once
            repo.session.exec(
                delete(ChannelStateRow).where(  # type: ignore[call-overload]
                    ChannelStateRow.household_id == row.household_id,
                    ChannelStateRow.channel == channel.value,
                )
            )
        if snapshot.status in (HouseholdStatus.MOVED, HouseholdStatus.CLOSED):
            self._stand_down(repo, row.household_id, snapshot.correlation_id, now, effects)
        elif dropped:
            watch = self.monitor.households.get(row.household_id)
            still = {c for c, k in (watch.channels.items() if watch else ()) if k.silent}
            if not still:
                self._resolve_absence(
                    repo,
                    row.household_id,
                    AlertResolution.HOUSEHOLD_INACTIVE,
                    now,
                    effects,
                    only_recoverable=False,
                )

    # -- signals ---------------------------------------------------------------------------

    def _on_signal(
        self,
        repo: Repository,
        signal: Signal,
        household: HouseholdRow | None,
        partition: int,
        now: datetime,
        effects: Effects,
    ) -> None:
        rules = self.rules_for(household)
        findings: list[Finding] = []
        facts: dict[str, Any] = {}
        if isinstance(signal, SafetyCallSignal):
            state = repo.safety_calls(signal.household_id)
            new_state, streak = safety_calls.apply_safety_call(
                state, signal, rules.safety_call, rules.version
            )
            repo.save_safety_calls(signal.household_id, new_state)
            findings += [f for f in (streak, signal_rules.safety_call_concern(signal, rules)) if f]
        elif isinstance(signal, ArrearsSignal):
            memory = _arrears_memory(repo.rule_state(signal.household_id, "arrears"))
            memory, finding = signal_rules.arrears(memory, signal, rules)
            repo.save_rule_state(signal.household_id, "arrears", _arrears_state(memory))
            findings += [finding] if finding else []
        elif isinstance(signal, DisconnectionSignal):
            tz = ZoneInfo(household.timezone) if household else ZoneInfo("Asia/Seoul")
            findings.append(
                signal_rules.disconnection(signal, rules, signal.occurred_at.astimezone(tz).month)
            )
        elif isinstance(signal, UsageDropSignal):
            finding = signal_rules.usage_drop(signal, rules)
            findings += [finding] if finding else []
        elif isinstance(signal, ReportSignal):
            findings.append(signal_rules.report(signal, rules))
            facts["abuse"] = signal.category is ReportCategory.ABUSE
        elif isinstance(signal, SosSignal):
            findings.append(signal_rules.sos(signal, rules))
        elif isinstance(signal, BlindSpotSignal):
            findings.append(signal_rules.blind_spot(signal, rules))
        elif isinstance(signal, HospitalDischargeSignal):
            findings.append(signal_rules.hospital_discharge(signal, rules))
        elif isinstance(signal, MailUncollectedSignal):
            finding = signal_rules.mail_uncollected(signal, rules)
            findings += [finding] if finding else []
        due = signal_rules.due_by(signal)
        if due is not None:
            facts["signal_date"] = due.isoformat()
        correlation = signal.correlation_id or str(signal.event_id)
        for finding in findings:
            self._conclude(
                repo,
                signal.household_id,
                partition,
                finding,
                rules,
                now,
                correlation,
                str(signal.event_id),
                facts,
                effects,
            )

    # -- absence ---------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Expire the inactivity windows that ended; returns how many channels fell silent."""
        now = self.clock.now()
        expired = []
        for household_id, channel in self.monitor.due(now):
            expiry = self.monitor.expire(household_id, channel, now)
            if expiry is not None:
                expired.append(expiry)
        if not expired and not self.monitor.dirty:
            return 0
        latest = {e.household_id: e for e in expired}  # the last expiry has every silent channel
        effects = Effects()

        def transaction(session: Session) -> None:
            repo = Repository(session)
            for household_id, expiry in latest.items():
                household = repo.household(household_id)
                if household is None:
                    continue
                rules = self.rules_for(household)
                fused = fuse(set(expiry.silent), set(expiry.enrolled), rules.absence)
                if fused is None:
                    continue
                finding = Finding(
                    reason=fused.reason,
                    severity=fused.severity,
                    rule=self._absence_rule(rules, household_id, fused.silent),
                    evidence=self._absence_evidence(household_id, fused.silent),
                )
                self._conclude(
                    repo,
                    household_id,
                    household.partition,
                    finding,
                    rules,
                    now,
                    str(uuid4()),
                    f"absence:{household_id}",
                    {},
                    effects,
                )
            self._flush_channels(session)

        try:
            await self.db.run(transaction)
        except Exception:
            for expiry in expired:  # not durable: they will expire again next sweep
                self.monitor.unsilence(expiry.household_id, expiry.channel)
            raise
        self.outbox.notify()
        await self._after_commit(effects)
        return len(expired)

    def _absence_rule(
        self, rules: RuleSet, household_id: str, silent: tuple[MonitoringChannel, ...]
    ) -> RuleRef:
        watch = self.monitor.households[household_id]
        windows = watch.config.windows if watch.config else {}
        thresholds: dict[str, float | int | str | bool] = {
            f"{c.value}_window_hours": round(windows[c].total_seconds() / 3600, 2) for c in windows
        }
        thresholds["silent_channels"] = ",".join(c.value for c in silent)
        thresholds["enrolled_channels"] = ",".join(sorted(c.value for c in windows))
        if watch.config:
            thresholds["quiet_hours"] = (
                f"{watch.config.quiet.start:%H:%M}-{watch.config.quiet.end:%H:%M}"
            )
        return RuleRef(
            rule_id=rules.absence.rule_id, rule_version=rules.version, thresholds=thresholds
        )

    def _absence_evidence(
        self, household_id: str, silent: tuple[MonitoringChannel, ...]
    ) -> tuple[EvidenceRef, ...]:
        """The last heartbeat of each silent channel (a channel never heard from has none)."""
        watch = self.monitor.households[household_id]
        refs = []
        for channel in silent:
            clock = watch.channels.get(channel)
            if clock is not None and clock.last_event is not None and clock.last_partner:
                refs.append(
                    EvidenceRef(
                        event_id=clock.last_event,
                        kind=SignalKind.HEARTBEAT,
                        partner_id=clock.last_partner,
                        occurred_at=datetime.fromtimestamp(clock.last_active, tz=now_tz()),
                    )
                )
        return tuple(refs)

    def _recover(
        self, repo: Repository, recovery: Recovery, now: datetime, effects: Effects
    ) -> None:
        """A silent channel is active again: the person is not silent everywhere any more."""
        household = repo.household(recovery.household_id)
        rules = self.rules_for(household)
        if not rules.absence.recovery_resolves:
            return
        if recovery.still_silent:
            self._resolve_absence(
                repo,
                recovery.household_id,
                AlertResolution.RECOVERY,
                now,
                effects,
                reasons=(AlertReason.SAFETY_NOT_CONFIRMED,),
            )
        else:
            self._resolve_absence(
                repo, recovery.household_id, AlertResolution.RECOVERY, now, effects
            )

    def _resolve_absence(
        self,
        repo: Repository,
        household_id: str,
        resolution: AlertResolution,
        now: datetime,
        effects: Effects,
        *,
        reasons: tuple[AlertReason, ...] = ABSENCE_REASONS,
        only_recoverable: bool = True,
    ) -> None:
        for alert in repo.open_alerts_of(household_id):
            if alert.reason not in reasons:
                continue
            if only_recoverable and not alert.rule.rule_id.startswith("absence."):
                continue  # e.g. a safety-call streak: only a person can settle it
            closure = (
                EscalationClosure.ACTIVITY_RESUMED
                if resolution is AlertResolution.RECOVERY
                else EscalationClosure.HOUSEHOLD_INACTIVE
            )
            escalation = repo.escalation_for_alert(alert.alert_id)
            correlation = repo.alert_correlation(alert.alert_id) or str(alert.alert_id)
            if escalation is not None and escalation.status is EscalationStatus.RUNNING:
                self._close(
                    repo, escalation, closure, now, correlation, str(alert.alert_id), effects
                )
            else:
                self._resolve_alert(repo, alert, resolution, now, correlation, str(alert.alert_id))

    def _flush_channels(self, session: Session) -> None:
        self._upsert_channels(session, self._dirty_rows())

    def _dirty_rows(self) -> list[tuple[str, str, int, float, bool]]:
        households = self.monitor.households
        return [
            (
                household_id,
                channel.value,
                households[household_id].partition,
                clock.last_active,
                clock.silent,
            )
            for household_id, channel, clock in self.monitor.take_dirty()
        ]

    def _upsert_channels(
        self, session: Session, rows: list[tuple[str, str, int, float, bool]]
    ) -> None:
        """One executemany through the driver: the heartbeat flush is the hottest write."""
        if not rows:
            return
        postgres = self.db.engine.dialect.name == "postgresql"
        session.connection().exec_driver_sql(_UPSERT_PG if postgres else _UPSERT_SQLITE, rows)

    # -- alerts and protocols --------------------------------------------------------------

    def _conclude(
        self,
        repo: Repository,
        household_id: str,
        partition: int,
        finding: Finding,
        rules: RuleSet,
        now: datetime,
        correlation: str,
        causation: str,
        facts: dict[str, Any],
        effects: Effects,
    ) -> None:
        existing = repo.open_alert(household_id, finding.reason)
        if existing is not None:
            updated, change = alerts.absorb(existing, finding)
            if change is None:
                return
            repo.save_alert(updated)
            self._emit_alert(
                repo,
                updated,
                change,
                now,
                repo.alert_correlation(updated.alert_id) or correlation,
                causation,
            )
            protocol_id = rules.protocol_for(updated.reason, updated.severity)
            running = repo.escalation_for_alert(updated.alert_id)
            if protocol_id and (running is None or running.status is not EscalationStatus.RUNNING):
                self._start(
                    repo,
                    self.protocols[protocol_id],
                    updated,
                    partition,
                    now,
                    correlation,
                    facts,
                    effects,
                )
            return
        protocol_id = rules.protocol_for(finding.reason, finding.severity)
        alert = alerts.open_alert(uuid4(), household_id, finding, now, protocol_id)
        repo.save_alert(alert, correlation)
        self._emit_alert(repo, alert, AlertChange.OPENED, now, correlation, causation)
        log.info(
            "alert opened",
            alert_id=str(alert.alert_id),
            household_id=household_id,
            reason=alert.reason.value,
            severity=alert.severity.value,
            rule=alert.rule.rule_id,
        )
        if protocol_id is not None:
            self._start(
                repo,
                self.protocols[protocol_id],
                alert,
                partition,
                now,
                correlation,
                facts,
                effects,
            )

    def _start(
        self,
        repo: Repository,
        protocol: ProtocolSpec,
        alert: Alert,
        partition: int,
        now: datetime,
        correlation: str,
        facts: dict[str, Any],
        effects: Effects,
    ) -> None:
        escalation = protocols.start(protocol, uuid4(), alert.alert_id, alert.household_id, now)
        repo.save_escalation(
            escalation, partition=partition, facts=facts, correlation_id=correlation
        )
        self._emit_escalation(
            repo,
            protocol,
            escalation,
            EscalationChange.STARTED,
            None,
            now,
            correlation,
            str(alert.alert_id),
        )
        self._advance(repo, escalation, now, effects)

    def _context(self, repo: Repository, escalation: Escalation) -> protocols.Context:
        row = repo.escalation_row(escalation.escalation_id)
        return protocol_context(
            repo.household(escalation.household_id), row.trigger_facts if row else {}
        )

    def _advance(
        self, repo: Repository, escalation: Escalation, now: datetime, effects: Effects
    ) -> Escalation:
        """Run what is due, record each step once, and set the timer for the next."""
        protocol = self.protocols[escalation.protocol_id]
        ctx = self._context(repo, escalation)
        escalation, results = protocols.run_due(protocol, escalation, ctx, now)
        row = repo.escalation_row(escalation.escalation_id)
        correlation = (row.correlation_id if row else None) or str(escalation.escalation_id)
        for result in results:
            if result.state is StepState.AWAITING_APPROVAL:
                continue  # recorded when it finally runs
            repo.record_step(
                escalation.escalation_id,
                result.record.step_id,
                result.state.value,
                result.record.due_at,
                now,
                self.instance,
                [a.model_dump(mode="json") for a in result.record.actions],
            )
        upcoming = protocols.next_due(protocol, escalation, ctx)
        repo.save_escalation(escalation, next_due_at=upcoming[1] if upcoming else None)
        for result in results:
            self._emit_escalation(
                repo,
                protocol,
                escalation,
                _change(result),
                result.record,
                now,
                correlation,
                str(escalation.escalation_id),
            )
            log.info(
                "protocol step",
                escalation_id=str(escalation.escalation_id),
                protocol_id=protocol.id,
                step_id=result.record.step_id,
                state=result.state.value,
            )
        partition = row.partition if row else 0
        effects.timers[escalation.escalation_id] = (partition, upcoming[1] if upcoming else None)
        return escalation

    async def fire(self, escalation_id: str) -> None:
        """A protocol timer went off: run the steps that are due now."""
        await self.fire_many([escalation_id])

    async def fire_many(self, escalation_ids: Sequence[str]) -> None:
        """Timers that went off together: their due steps run in one transaction."""
        effects = Effects()

        def transaction(session: Session) -> None:
            repo = Repository(session)
            now = self.clock.now()
            for escalation_id in escalation_ids:
                escalation = repo.escalation(UUID(escalation_id))
                if escalation is None or escalation.status is not EscalationStatus.RUNNING:
                    continue
                self._advance(repo, escalation, now, effects)

        await self.db.run(transaction)
        self.outbox.notify()
        await self._after_commit(effects)

    async def defer(self, escalation_id: str, seconds: float = 1.0) -> None:
        """Fire this escalation's timer again in ``seconds`` of real time."""
        timers = self.timers
        if timers is None:
            return

        def read(session: Session) -> tuple[int, datetime | None] | None:
            row = Repository(session).escalation_row(UUID(escalation_id))
            return (row.partition, row.next_due_at) if row else None

        found = await self.db.run(read)
        if found is None or found[1] is None:
            return
        speed = float(getattr(self.clock, "speed", 1.0))
        soon = self.clock.now() + timedelta(seconds=seconds * speed)
        await asyncio.to_thread(timers.set, UUID(escalation_id), found[0], soon)

    def _on_outcome(
        self, repo: Repository, outcome: OutcomeEvent, now: datetime, effects: Effects
    ) -> None:
        if outcome.escalation_id is not None:
            found = repo.escalation(outcome.escalation_id)
            targets = [found] if found is not None else []
        else:
            targets = repo.running_escalations(outcome.household_id)
        for escalation in targets:
            if escalation.status is not EscalationStatus.RUNNING:
                continue  # a late or replayed outcome does not reopen anything
            protocol = self.protocols[escalation.protocol_id]
            step_id = outcome.step_id if outcome.escalation_id == escalation.escalation_id else None
            updated, closure = protocols.apply_outcome(
                protocol, escalation, outcome.result, step_id
            )
            row = repo.escalation_row(escalation.escalation_id)
            correlation = (row.correlation_id if row else None) or str(outcome.event_id)
            if closure is not None:
                self._close(
                    repo, updated, closure, now, correlation, str(outcome.event_id), effects
                )
            elif updated is not escalation:
                repo.save_escalation(updated)
                self._advance(repo, updated, now, effects)
        if outcome.result is OutcomeResult.CONTACT_CONFIRMED:
            state = repo.safety_calls(outcome.household_id)
            repo.save_safety_calls(outcome.household_id, safety_calls.reset(state))

    def _close(
        self,
        repo: Repository,
        escalation: Escalation,
        closure: EscalationClosure,
        now: datetime,
        correlation: str,
        causation: str,
        effects: Effects,
    ) -> None:
        protocol = self.protocols[escalation.protocol_id]
        closed, cancelled = protocols.close(
            protocol, escalation, closure, now, self._context(repo, escalation)
        )
        row = repo.save_escalation(closed, next_due_at=None)
        for result in cancelled:
            repo.record_step(
                closed.escalation_id,
                result.record.step_id,
                result.state.value,
                result.record.due_at,
                now,
                self.instance,
                [],
            )
            self._emit_escalation(
                repo, protocol, closed, _change(result), result.record, now, correlation, causation
            )
        self._emit_escalation(
            repo, protocol, closed, EscalationChange.CLOSED, None, now, correlation, causation
        )
        effects.timers[closed.escalation_id] = (row.partition, None)
        alert = repo.alert(closed.alert_id)
        if alert is not None:
            resolution = {
                EscalationClosure.OPERATOR: AlertResolution.OPERATOR,
                EscalationClosure.ACTIVITY_RESUMED: AlertResolution.RECOVERY,
                EscalationClosure.HOUSEHOLD_INACTIVE: AlertResolution.HOUSEHOLD_INACTIVE,
            }.get(closure, AlertResolution.OUTCOME)
            self._resolve_alert(repo, alert, resolution, now, correlation, causation)
        log.info(
            "escalation closed", escalation_id=str(closed.escalation_id), closure=closure.value
        )

    def _resolve_alert(
        self,
        repo: Repository,
        alert: Alert,
        resolution: AlertResolution,
        now: datetime,
        correlation: str,
        causation: str,
    ) -> None:
        if alert.status is not AlertStatus.OPEN:
            return
        resolved = alerts.resolve(alert, resolution, now)
        repo.save_alert(resolved)
        self._emit_alert(repo, resolved, AlertChange.RESOLVED, now, correlation, causation)

    def _stand_down(
        self,
        repo: Repository,
        household_id: str,
        correlation: str | None,
        now: datetime,
        effects: Effects,
    ) -> None:
        """A household moved or closed: its protocols close and its alerts resolve."""
        for escalation in repo.running_escalations(household_id):
            corr = repo.alert_correlation(escalation.alert_id) or correlation or household_id
            self._close(
                repo,
                escalation,
                EscalationClosure.HOUSEHOLD_INACTIVE,
                now,
                corr,
                household_id,
                effects,
            )
        for alert in repo.open_alerts_of(household_id):
            corr = repo.alert_correlation(alert.alert_id) or correlation or household_id
            self._resolve_alert(
                repo, alert, AlertResolution.HOUSEHOLD_INACTIVE, now, corr, household_id
            )

    # -- people acting on the detector (HTTP) ------------------------------------------------

    async def resolve_by_operator(self, alert_id: UUID, actor: str) -> bool:
        effects = Effects()

        def transaction(session: Session) -> bool:
            repo = Repository(session)
            alert = repo.alert(alert_id)
            if alert is None:
                raise LookupError(f"alert {alert_id} not found")
            if alert.status is not AlertStatus.OPEN:
                return False
            now = self.clock.now()
            correlation = repo.alert_correlation(alert_id) or str(alert_id)
            escalation = repo.escalation_for_alert(alert_id)
            if escalation is not None and escalation.status is EscalationStatus.RUNNING:
                self._close(
                    repo, escalation, EscalationClosure.OPERATOR, now, correlation, actor, effects
                )
            else:
                self._resolve_alert(repo, alert, AlertResolution.OPERATOR, now, correlation, actor)
            return True

        changed = await self.db.run(transaction)
        self.outbox.notify()
        await self._after_commit(effects)
        return changed

    async def record_approval(self, escalation_id: UUID, approval: ApprovalRecord) -> Escalation:
        """Record who asked, who approved, who was present; a waiting step runs at once."""
        effects = Effects()

        def transaction(session: Session) -> Escalation:
            repo = Repository(session)
            escalation = repo.escalation(escalation_id)
            if escalation is None:
                raise LookupError(f"escalation {escalation_id} not found")
            if escalation.status is not EscalationStatus.RUNNING:
                raise ValueError(f"escalation {escalation_id} is closed")
            protocol = self.protocols[escalation.protocol_id]
            waiting = [s for s, st in escalation.steps.items() if st is StepState.AWAITING_APPROVAL]
            updated = protocols.record_approval(escalation, approval)
            repo.save_escalation(updated)
            row = repo.escalation_row(escalation_id)
            correlation = (row.correlation_id if row else None) or str(escalation_id)
            now = self.clock.now()
            step = protocol.step(waiting[0]) if waiting else None
            record = StepRecord(
                step_id=step.id if step else "approval",
                title=step.heading.ko if step else approval.kind,
                due_at=now,
                executed_at=now,
                approval=approval,
            )
            self._emit_escalation(
                repo,
                protocol,
                updated,
                EscalationChange.APPROVAL_RECORDED,
                record,
                now,
                correlation,
                approval.approved_by,
            )
            return self._advance(repo, updated, now, effects)

        escalation = await self.db.run(transaction)
        self.outbox.notify()
        await self._after_commit(effects)
        return escalation

    # -- partitions ------------------------------------------------------------------------

    async def load_partitions(self, partitions: set[int]) -> None:
        """Rebuild the in-memory index for newly assigned partitions from durable state."""
        started = time.perf_counter()
        defaults = self.catalog.default.absence.windows_hours

        def load(session: Session) -> tuple[int, int]:
            # Streamed in chunks and indexed as they come: a million households never sit
            # in memory as ORM rows at once. In a thread (``db.run``), so the event loop
            # keeps the consumer's group heartbeat going; the batch consumer's lock keeps
            # every other writer of the index out meanwhile.
            chunk = {"yield_per": 5000}
            configured: list[tuple[str, int]] = []
            rows = session.exec(
                select(*[col(getattr(HouseholdRow, name)) for name in INDEXED_FIELDS])
                .where(col(HouseholdRow.partition).in_(partitions))
                .execution_options(**chunk)
            )
            for row in rows:  # plain rows, not ORM objects: same attribute names, cheaper
                watch = self.monitor.watch(row.household_id, row.partition)
                windows = self.rules_for(row).absence.windows_hours or defaults
                watch.config = watch_config(row, windows)
                configured.append((row.household_id, row.partition))
            channels = 0
            states = session.exec(
                select(
                    col(ChannelStateRow.household_id),
                    col(ChannelStateRow.partition),
                    col(ChannelStateRow.channel),
                    col(ChannelStateRow.last_active),
                    col(ChannelStateRow.silent),
                )
                .where(col(ChannelStateRow.partition).in_(partitions))
                .execution_options(**chunk)
            )
            for state in states:
                self.monitor.restore(
                    state.household_id,
                    state.partition,
                    MonitoringChannel(state.channel),
                    datetime.fromtimestamp(state.last_active, tz=UTC),
                    state.silent,
                )
                channels += 1
            now = self.clock.now()
            for household_id, partition in configured:  # enrolled, never persisted: start now
                watch = self.monitor.households[household_id]
                if watch.config and any(c not in watch.channels for c in watch.config.windows):
                    self.monitor.configure(household_id, partition, watch.config, now)
            return len(configured), channels

        households, channels = await self.db.run(load)
        if self.timers is not None:
            self.timers.add_partitions(partitions)
            await self._reconcile_timers(partitions)
        WATCHED.set(len(self.monitor.households))
        DEADLINES.set(self.monitor.pending())
        log.info(
            "partitions loaded",
            partitions=sorted(partitions),
            households=households,
            channels=channels,
            seconds=round(time.perf_counter() - started, 2),
        )

    async def _reconcile_timers(self, partitions: set[int]) -> None:
        """Every running escalation of these partitions has its timer (a crash may lose one)."""
        assert self.timers is not None
        timers = self.timers

        def read(session: Session) -> list[tuple[UUID, int, datetime | None]]:
            rows = session.exec(
                select(
                    EscalationRow.escalation_id, EscalationRow.partition, EscalationRow.next_due_at
                ).where(
                    col(EscalationRow.partition).in_(partitions),
                    EscalationRow.status == EscalationStatus.RUNNING.value,
                )
            )
            return [(r[0], r[1], r[2]) for r in rows]

        running = await self.db.run(read)

        def restore() -> int:
            scheduled = {p: timers.scheduled(p) for p in partitions}
            missing = [
                (escalation_id, partition, due)
                for escalation_id, partition, due in running
                if due is not None and str(escalation_id) not in scheduled[partition]
            ]
            timers.set_many(missing)
            return len(missing)

        restored = await asyncio.to_thread(restore)
        if restored:
            log.warning("protocol timers restored", count=restored)

    async def drop_partitions(self, partitions: set[int]) -> None:
        def flush(session: Session) -> None:
            self._flush_channels(session)

        await self.db.run(flush)
        self.monitor.forget_partitions(partitions)
        if self.timers is not None:
            self.timers.remove_partitions(partitions)
        WATCHED.set(len(self.monitor.households))

    # -- events ----------------------------------------------------------------------------

    async def _after_commit(self, effects: Effects) -> None:
        """Set the timers the transaction asked for (their job store writes block: a thread)."""
        if self.timers is None or not effects.timers:
            return
        timers = self.timers

        await asyncio.to_thread(
            timers.set_many,
            [
                (escalation_id, partition, due)
                for escalation_id, (partition, due) in effects.timers.items()
            ],
        )

    def _emit_alert(
        self,
        repo: Repository,
        alert: Alert,
        change: AlertChange,
        now: datetime,
        correlation: str,
        causation: str,
    ) -> None:
        self.outbox.add(
            repo.session,
            DETECTOR_ALERT,
            AlertEvent(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=correlation,
                causation_id=causation,
                alert_id=alert.alert_id,
                household_id=alert.household_id,
                reason=alert.reason,
                change=change,
                severity=alert.severity,
                status=alert.status,
                opened_at=alert.opened_at,
                resolved_at=alert.resolved_at,
                resolution=alert.resolution,
                rule=alert.rule,
                evidence=list(alert.evidence),
                protocol_id=alert.protocol_id,
            ),
        )

    def _emit_escalation(
        self,
        repo: Repository,
        protocol: ProtocolSpec,
        escalation: Escalation,
        change: EscalationChange,
        step: StepRecord | None,
        now: datetime,
        correlation: str,
        causation: str,
    ) -> None:
        upcoming = protocols.next_due(protocol, escalation, self._context(repo, escalation))
        self.outbox.add(
            repo.session,
            DETECTOR_ESCALATION,
            EscalationEvent(
                occurred_at=now,
                produced_at=now,
                source=SOURCE,
                correlation_id=correlation,
                causation_id=causation,
                escalation_id=escalation.escalation_id,
                alert_id=escalation.alert_id,
                household_id=escalation.household_id,
                protocol_id=escalation.protocol_id,
                protocol_version=escalation.protocol_version,
                change=change,
                status=escalation.status,
                triggered_at=escalation.triggered_at,
                step=step,
                next_step_id=upcoming[0].id if upcoming else None,
                next_step_due_at=upcoming[1] if upcoming else None,
                closure=escalation.closure,
            ),
        )

    # -- figures ---------------------------------------------------------------------------

    async def refresh_gauges(self) -> None:
        def read(session: Session) -> tuple[list[Any], list[Any]]:
            by_severity = list(
                session.exec(
                    select(AlertRow.severity, func.count())
                    .where(AlertRow.status == AlertStatus.OPEN.value)
                    .group_by(AlertRow.severity)
                )
            )
            by_protocol = list(
                session.exec(
                    select(EscalationRow.protocol_id, func.count())
                    .where(EscalationRow.status == EscalationStatus.RUNNING.value)
                    .group_by(EscalationRow.protocol_id)
                )
            )
            return by_severity, by_protocol

        # The index's own figures: counted here, every few seconds, not on every batch.
        WATCHED.set(len(self.monitor.households))
        DEADLINES.set(self.monitor.pending())
        by_severity, by_protocol = await self.db.run(read)
        for severity in ("watch", "caution", "alert", "critical"):
            OPEN_ALERTS.labels(severity).set(dict(by_severity).get(severity, 0))
        for protocol_id in self.protocols:
            RUNNING.labels(protocol_id).set(dict(by_protocol).get(protocol_id, 0))


_UPSERT = (
    "INSERT INTO channel_clock (household_id, channel, partition, last_active, silent) "
    "VALUES ({0}, {0}, {0}, {0}, {0}) ON CONFLICT (household_id, channel) DO UPDATE SET "
    "partition = excluded.partition, last_active = excluded.last_active, silent = excluded.silent"
)
_UPSERT_SQLITE = _UPSERT.format("?")
_UPSERT_PG = _UPSERT.format("%s")


def _change(result: StepResult) -> EscalationChange:
    return {
        StepState.EXECUTED: EscalationChange.STEP_EXECUTED,
        StepState.SKIPPED: EscalationChange.STEP_SKIPPED,
        StepState.AWAITING_APPROVAL: EscalationChange.STEP_AWAITING_APPROVAL,
        StepState.CANCELLED: EscalationChange.STEP_CANCELLED,
    }[result.state]


def now_tz() -> Any:
    return UTC


def _arrears_memory(state: dict[str, Any]) -> ArrearsMemory:
    return ArrearsMemory(
        recent=tuple(
            (r["type"], date.fromisoformat(r["as_of"]), EvidenceRef.model_validate(r["evidence"]))
            for r in state.get("recent", [])
        )
    )


def _arrears_state(memory: ArrearsMemory) -> dict[str, Any]:
    return {
        "recent": [
            {"type": t, "as_of": d.isoformat(), "evidence": e.model_dump(mode="json")}
            for t, d, e in memory.recent
        ]
    }
