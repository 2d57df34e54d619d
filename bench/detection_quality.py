"""Detection quality: how many injected crises the detector's rules find, how fast, at what
cost in false alerts — single-channel rules against fused rules, and the national list.

    uv run --frozen python bench/detection_quality.py [--households 100000] [--days 90]
        [--seed 1] [--crisis-rate 0.1] [--out bench/results/detection_quality.json]
        [--doc docs/detection-quality.md]

The population simulator (``anbu_simulator.domain``) generates a seeded period of partner
signals with injected crises (the ground truth). The signals go, in delivery order and on
the simulated clock, through the detector's *pure domain rules* in this process — the
inactivity index (``Monitor``), channel fusion, the safety-call streak, the signal rules,
the alert lifecycle and the protocol state machine. This measures the rules, not Kafka,
the databases or the services (see ``bench/detector_throughput.py`` for those).

Per rule variant:

- **recall**: injected crises with an actionable alert (one that starts a protocol, so a
  person is sent) on the household within the crisis kind's horizon after onset;
- **time to first alert** from onset, and **time to first human contact**: the deadline of
  the first task the protocol creates (day-1 call within 8 h, emergency response within
  1 h, welfare-check call within 3 working days) — contact as the protocol's timing
  promises it, not as people keep it;
- **false alerts**: actionable alerts on households with no crisis under way, per 1,000
  households per week.

A person's contact settles an alert: a household not in crisis is found well (the alert is
resolved, a safety-call streak starts again); a household in crisis is found.

Variants: **fused** is the detector as configured (absence fused across a household's
channels: one silent channel is only "watch", all silent is "safety not confirmed");
**single-channel** treats each channel's silence as "safety not confirmed" on its own, as
a stand-alone phone-inactivity or smart-plug programme does. The other signal rules are the
same in both. **National list** is one blind-spot list every two months, nothing else.
"""

from __future__ import annotations

import argparse
import heapq
import json
import platform
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from anbu_contracts import (
    AlertReason,
    ArrearsSignal,
    BlindSpotSignal,
    DisconnectionSignal,
    HospitalDischargeSignal,
    MailUncollectedSignal,
    MonitoringChannel,
    ReportCategory,
    ReportSignal,
    RuleRef,
    SafetyCallSignal,
    Severity,
    SignalKind,
    SosSignal,
    TaskAction,
    UsageDropSignal,
)
from anbu_detector.adapters.config_files import load_catalog, load_protocols
from anbu_detector.domain import alerts, protocols, safety_calls, signal_rules
from anbu_detector.domain.absence import QuietHours, fuse
from anbu_detector.domain.alerts import Finding
from anbu_detector.domain.monitor import Monitor, WatchConfig
from anbu_detector.domain.protocols import Context, ProtocolSpec
from anbu_detector.domain.rules import RuleSet
from anbu_simulator.domain.crises import CrisisKind
from anbu_simulator.domain.population import HouseholdProfile, synthetic_population
from anbu_simulator.domain.simulation import SEOUL, Flaw, Observation, Simulation, SimulationConfig

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 1, 5, tzinfo=SEOUL)  # a Monday; lists on 20 Feb and 20 Apr
HORIZON: dict[CrisisKind, timedelta] = {
    CrisisKind.FALL: timedelta(days=3),
    CrisisKind.ACUTE_ILLNESS: timedelta(days=7),
    CrisisKind.DISAPPEARANCE: timedelta(days=7),
    CrisisKind.DEATH: timedelta(days=7),
    CrisisKind.FINANCIAL_COLLAPSE: timedelta(days=75),
}
ABSENCE = (AlertReason.SAFETY_NOT_CONFIRMED, AlertReason.CHANNEL_SILENT)


@dataclass
class OpenedAlert:
    household_id: str
    reason: AlertReason
    severity: Severity
    at: datetime
    protocol_id: str | None
    contact_at: datetime | None
    rule_id: str = ""


@dataclass
class RuleHarness:
    """The detector's decisions, made by its pure domain code on a simulated clock."""

    mode: str  # "fused" | "single"
    rules: RuleSet
    specs: dict[str, ProtocolSpec]
    profiles: dict[str, HouseholdProfile]
    monitor: Monitor = field(default_factory=Monitor)
    open: dict[tuple[str, str], alerts.Alert] = field(default_factory=dict)
    calls: dict[str, safety_calls.SafetyCallState] = field(default_factory=dict)
    arrears: dict[str, signal_rules.ArrearsMemory] = field(default_factory=dict)
    opened: list[OpenedAlert] = field(default_factory=list)
    contacts: list[tuple[datetime, tuple[str, str]]] = field(default_factory=list)
    _ids: int = 0

    def __post_init__(self) -> None:
        absence = self.rules.absence
        quiet = QuietHours(absence.quiet_start, absence.quiet_end)
        configs: dict[tuple[MonitoringChannel, ...], WatchConfig] = {}
        for profile in self.profiles.values():
            config = configs.get(profile.channels)
            if config is None:
                windows = {c: timedelta(hours=absence.window_hours(c)) for c in profile.channels}
                config = configs[profile.channels] = WatchConfig(windows, quiet, SEOUL)
            self.monitor.configure(profile.household_id, 0, config, START)
        self.monitor.take_dirty()

    def _uuid(self) -> UUID:
        self._ids += 1
        return UUID(int=self._ids)

    # -- time passing: windows expire, people make contact --------------------------------

    def advance(self, now: datetime, world: Simulation) -> None:
        due = sorted(self.monitor.due(now), key=lambda hc: (hc[0], hc[1].value))
        expired = {}
        for household_id, channel in due:
            expiry = self.monitor.expire(household_id, channel, now)
            if expiry is not None:
                expired[(household_id, channel)] = expiry
        latest = {e.household_id: e for e in expired.values()}
        if self.mode == "fused":
            for household_id, expiry in sorted(latest.items()):
                fused = fuse(set(expiry.silent), set(expiry.enrolled), self.rules.absence)
                if fused is not None:
                    self._conclude(
                        household_id, self._absence(fused.reason, fused.severity), now, None
                    )
        else:
            for (household_id, channel), _ in sorted(expired.items(), key=lambda kv: kv[0][0]):
                finding = self._absence(AlertReason.SAFETY_NOT_CONFIRMED, Severity.ALERT)
                self._conclude(household_id, finding, now, None, key_suffix=channel.value)
        self.monitor.dirty.clear()
        while self.contacts and self.contacts[0][0] <= now:
            at, key = heapq.heappop(self.contacts)
            self._contact(key, at, world)

    def _absence(self, reason: AlertReason, severity: Severity) -> Finding:
        rule = RuleRef(rule_id=self.rules.absence.rule_id, rule_version=self.rules.version)
        return Finding(reason=reason, severity=severity, rule=rule, evidence=())

    def _contact(self, key: tuple[str, str], at: datetime, world: Simulation) -> None:
        """A person reaches the household: found well (resolve), or found in crisis."""
        alert = self.open.pop(key, None)
        if alert is None:
            return
        household_id = key[0]
        if world.crisis_of(household_id, at) is None and household_id in self.calls:
            self.calls[household_id] = safety_calls.reset(self.calls[household_id])

    # -- signals --------------------------------------------------------------------------

    def heartbeat(self, obs: Observation) -> None:
        recovery = self.monitor.heartbeat(
            obs.household_id, 0, obs.fields["channel"], obs.fields["last_active_at"]
        )
        if recovery is None or not self.rules.absence.recovery_resolves:
            return
        hid = obs.household_id
        if self.mode == "fused":
            reasons = (AlertReason.SAFETY_NOT_CONFIRMED,) if recovery.still_silent else ABSENCE
            for reason in reasons:
                alert = self.open.get((hid, reason.value))
                if alert is not None and alert.rule.rule_id.startswith("absence."):
                    del self.open[(hid, reason.value)]
        else:
            self.open.pop(
                (hid, f"{AlertReason.SAFETY_NOT_CONFIRMED.value}:{recovery.channel.value}"), None
            )

    def signal(self, obs: Observation) -> None:
        signal = obs.signal()
        rules = self.rules
        findings: list[Finding] = []
        abuse = False
        hid = obs.household_id
        if isinstance(signal, SafetyCallSignal):
            state = self.calls.get(hid, safety_calls.SafetyCallState())
            state, streak = safety_calls.apply_safety_call(
                state, signal, rules.safety_call, rules.version
            )
            self.calls[hid] = state
            concern = signal_rules.safety_call_concern(signal, rules)
            findings += [f for f in (streak, concern) if f]
        elif isinstance(signal, ArrearsSignal):
            memory, finding = signal_rules.arrears(
                self.arrears.get(hid, signal_rules.ArrearsMemory()), signal, rules
            )
            self.arrears[hid] = memory
            findings += [finding] if finding else []
        elif isinstance(signal, DisconnectionSignal):
            month = signal.occurred_at.astimezone(SEOUL).month
            findings.append(signal_rules.disconnection(signal, rules, month))
        elif isinstance(signal, UsageDropSignal):
            finding = signal_rules.usage_drop(signal, rules)
            findings += [finding] if finding else []
        elif isinstance(signal, ReportSignal):
            findings.append(signal_rules.report(signal, rules))
            abuse = signal.category is ReportCategory.ABUSE
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
        facts = {"abuse": abuse, "signal_date": due}
        for finding in findings:
            self._conclude(hid, finding, obs.deliver_at, facts)

    # -- alerts and protocols -------------------------------------------------------------

    def _conclude(
        self,
        household_id: str,
        finding: Finding,
        now: datetime,
        facts: dict[str, Any] | None,
        key_suffix: str | None = None,
    ) -> None:
        reason_key = finding.reason.value + (f":{key_suffix}" if key_suffix else "")
        key = (household_id, reason_key)
        existing = self.open.get(key)
        if existing is not None:
            self.open[key], _ = alerts.absorb(existing, finding)
            return
        protocol_id = self.rules.protocol_for(finding.reason, finding.severity)
        alert = alerts.open_alert(self._uuid(), household_id, finding, now, protocol_id)
        contact = None
        if protocol_id is not None:
            contact = self._first_contact(self.specs[protocol_id], alert, now, facts or {})
            heapq.heappush(self.contacts, (contact, key))
        if protocol_id is not None or finding.reason in ABSENCE:
            self.open[key] = alert  # a watch-level absence alert stays open until recovery
        self.opened.append(
            OpenedAlert(
                household_id,
                finding.reason,
                finding.severity,
                now,
                protocol_id,
                contact,
                finding.rule.rule_id,
            )
        )

    def _first_contact(
        self, spec: ProtocolSpec, alert: alerts.Alert, now: datetime, facts: dict[str, Any]
    ) -> datetime:
        """When the protocol's first task is due: the promised first human contact."""
        profile = self.profiles[alert.household_id]
        signal_date = facts.get("signal_date")
        ctx = Context(
            tz=SEOUL,
            medical_aid=profile.medical_aid,
            landlord_on_file=profile.landlord_on_file,
            guardians_on_file=profile.guardians_on_file,
            abuse=bool(facts.get("abuse")),
            signal_date=signal_date,
        )
        escalation = protocols.start(spec, self._uuid(), alert.alert_id, alert.household_id, now)
        at = now
        for _ in range(len(spec.steps) + 1):
            escalation, results = protocols.run_due(spec, escalation, ctx, at)
            deadlines = [
                action.deadline
                for result in results
                for action in result.record.actions
                if isinstance(action, TaskAction)
            ]
            if deadlines:
                return min(deadlines)
            following = protocols.next_due(spec, escalation, ctx)
            if following is None:
                break
            at = following[1]
        return now


def simulate(
    households: int, days: float, seed: int, crisis_rate: float
) -> tuple[Simulation, dict[str, RuleHarness], list[Observation]]:
    """Run the period once through both rule variants; returns the world, harnesses, lists."""
    population = synthetic_population(seed, households)
    config = SimulationConfig(seed=seed, start=START, days=days, crisis_rate_per_year=crisis_rate)
    world = Simulation(population, config)
    catalog = load_catalog()
    specs = load_protocols()
    profiles = {p.household_id: p for p in population}
    harnesses = {
        mode: RuleHarness(mode, catalog.default, specs, profiles) for mode in ("single", "fused")
    }
    lists: list[Observation] = []
    # The inbox drops redelivered events; duplicates come within hours, so two days of ids do.
    seen_today: set[UUID] = set()
    seen_before: set[UUID] = set()
    next_day = START.timestamp() + 86400
    for obs in world.observations():
        if obs.flaw is Flaw.MALFORMED:
            continue  # dead-lettered by the consumer
        if obs.deliver_at.timestamp() >= next_day:
            while obs.deliver_at.timestamp() >= next_day:
                next_day += 86400
            seen_before, seen_today = seen_today, set()
        if obs.event_id in seen_today or obs.event_id in seen_before:
            continue  # the inbox drops a redelivered event
        seen_today.add(obs.event_id)
        if obs.kind is SignalKind.BLIND_SPOT:
            lists.append(obs)
        for harness in harnesses.values():
            harness.advance(obs.deliver_at, world)
            if obs.kind is SignalKind.HEARTBEAT:
                harness.heartbeat(obs)
            else:
                harness.signal(obs)
    for harness in harnesses.values():
        harness.advance(config.end, world)
    return world, harnesses, lists


def _hours(values: Iterable[timedelta]) -> list[float]:
    return [v.total_seconds() / 3600 for v in values]


def _stats(hours: list[float]) -> dict[str, float | None]:
    if not hours:
        return {"median_h": None, "p90_h": None}
    ordered = sorted(hours)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))], 2)

    return {"median_h": q(0.5), "p90_h": q(0.9)}


def score(
    world: Simulation,
    alerts_opened: list[OpenedAlert],
    households: int,
    days: float,
) -> dict[str, Any]:
    """Recall, delays and false alerts of one variant's actionable alerts."""
    end = world.config.end
    actionable = [a for a in alerts_opened if a.protocol_id is not None]
    by_household: dict[str, list[OpenedAlert]] = defaultdict(list)
    for alert in actionable:
        by_household[alert.household_id].append(alert)
    evaluated = found = 0
    to_alert: list[timedelta] = []
    to_contact: list[timedelta] = []
    per_kind: dict[str, dict[str, int]] = defaultdict(lambda: {"evaluated": 0, "found": 0})
    for crisis in world.ground_truth:
        horizon = HORIZON[crisis.kind]
        if crisis.onset + horizon > end:
            continue  # censored: the period ends before the horizon
        evaluated += 1
        per_kind[crisis.kind.value]["evaluated"] += 1
        hits = [
            a
            for a in by_household.get(crisis.household_id, ())
            if crisis.onset <= a.at <= crisis.onset + horizon
        ]
        if not hits:
            continue
        found += 1
        per_kind[crisis.kind.value]["found"] += 1
        to_alert.append(min(a.at for a in hits) - crisis.onset)
        contacts = [a.contact_at for a in hits if a.contact_at is not None]
        if contacts:
            to_contact.append(min(contacts) - crisis.onset)
    false = [a for a in actionable if world.crisis_of(a.household_id, a.at) is None]
    weeks = days / 7
    reasons = Counter(a.rule_id or a.reason.value for a in false)
    return {
        "crises_evaluated": evaluated,
        "crises_found": found,
        "recall": round(found / evaluated, 4) if evaluated else None,
        "recall_by_kind": {
            k: {**v, "recall": round(v["found"] / v["evaluated"], 3) if v["evaluated"] else None}
            for k, v in sorted(per_kind.items())
        },
        "time_to_first_alert": _stats(_hours(to_alert)),
        "time_to_first_contact": _stats(_hours(to_contact)),
        "actionable_alerts": len(actionable),
        "false_alerts": len(false),
        "false_alerts_per_1000_households_per_week": round(
            len(false) / (households / 1000) / weeks, 3
        ),
        "false_alerts_by_reason": dict(sorted(reasons.items())),
        "watch_alerts": sum(1 for a in alerts_opened if a.protocol_id is None),
    }


def national_list(
    world: Simulation,
    lists: list[Observation],
    specs: dict[str, ProtocolSpec],
    households: int,
    days: float,
) -> dict[str, Any]:
    """The national baseline: the blind-spot list every two months, a welfare check each row."""
    spec = specs["welfare-check"]
    alerts_opened = []
    for n, obs in enumerate(lists):
        escalation = protocols.start(
            spec, UUID(int=n + 1), UUID(int=n + 1), obs.household_id, obs.deliver_at
        )
        _, results = protocols.run_due(spec, escalation, Context(tz=SEOUL), obs.deliver_at)
        deadlines = [
            a.deadline for r in results for a in r.record.actions if isinstance(a, TaskAction)
        ]
        alerts_opened.append(
            OpenedAlert(
                obs.household_id,
                AlertReason.BLIND_SPOT,
                Severity.CAUTION,
                obs.deliver_at,
                spec.id,
                min(deadlines) if deadlines else obs.deliver_at,
                "national-list",
            )
        )
    result = score(world, alerts_opened, households, days)
    result["rounds"] = sorted({o.fields["round_id"] for o in lists})
    return result


def run(households: int, days: float, seed: int, crisis_rate: float = 0.1) -> dict[str, Any]:
    """Every figure of the benchmark (deterministic for the arguments)."""
    world, harnesses, lists = simulate(households, days, seed, crisis_rate)
    specs = load_protocols()
    kinds = Counter(c.kind.value for c in world.ground_truth)
    return {
        "households": households,
        "days": days,
        "seed": seed,
        "start": START.isoformat(),
        "crisis_rate_per_household_year": crisis_rate,
        "crises_injected": dict(sorted(kinds.items())),
        "horizons_days": {k.value: v.days for k, v in HORIZON.items()},
        "single_channel": score(world, harnesses["single"].opened, households, days),
        "fused": score(world, harnesses["fused"].opened, households, days),
        "national_list": national_list(world, lists, specs, households, days),
    }


def _row(name: str, r: dict[str, Any]) -> str:
    a, c = r["time_to_first_alert"], r["time_to_first_contact"]

    def h(value: float | None) -> str:
        return "—" if value is None else f"{value:.1f} h"

    recall = "—" if r["recall"] is None else f"{r['recall']:.1%}"
    return (
        f"| {name} | {recall} ({r['crises_found']}/{r['crises_evaluated']}) | {h(a['median_h'])} / "
        f"{h(a['p90_h'])} | {h(c['median_h'])} / {h(c['p90_h'])} | "
        f"{r['false_alerts_per_1000_households_per_week']:.2f} |"
    )


def table(figures: dict[str, Any]) -> str:
    lines = [
        "| rules | recall | onset → first alert (median / p90) "
        "| onset → first human contact (median / p90) "
        "| false alerts per 1,000 households per week |",
        "|---|---|---|---|---|",
        _row("single-channel", figures["single_channel"]),
        _row("fused (as configured)", figures["fused"]),
        _row("national list only (every 2 months)", figures["national_list"]),
    ]
    return "\n".join(lines)


def by_kind(figures: dict[str, Any]) -> str:
    kinds = sorted(figures["fused"]["recall_by_kind"])
    lines = [
        "| crisis | horizon | single-channel | fused | national list |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        cells = []
        for variant in ("single_channel", "fused", "national_list"):
            v = figures[variant]["recall_by_kind"].get(kind, {"found": 0, "evaluated": 0})
            cells.append(f"{v['found']}/{v['evaluated']}")
        lines.append(f"| {kind} | {figures['horizons_days'][kind]} d | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--crisis-rate", type=float, default=0.1)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench" / "results" / "detection_quality.json"
    )
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "detection-quality.md")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite the doc's figures")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    figures = run(args.households, args.days, args.seed, args.crisis_rate)
    elapsed = time.perf_counter() - started
    command = "uv run --frozen python bench/detection_quality.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    result = {
        "benchmark": "detection_quality",
        "command": command.strip(),
        "figures": figures,
        "run": {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "elapsed_s": round(elapsed, 1),
            "python": platform.python_version(),
            "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(table(figures))
    print()
    print(by_kind(figures))
    print(
        f"\n{args.households} households, {args.days:g} days, seed {args.seed}: "
        f"{elapsed:.0f} s; {args.out}"
    )
    if not args.no_doc:
        write_doc(args.doc, result)
    return 0


DOC_BEGIN = "<!-- figures:begin (written by bench/detection_quality.py) -->"
DOC_END = "<!-- figures:end -->"


def write_doc(path: Path, result: dict[str, Any]) -> None:
    """Put the figures between the markers of the doc (the prose around them stays)."""
    figures = result["figures"]
    block = "\n".join(
        [
            DOC_BEGIN,
            "",
            f"Command: `{result['command']}` — {figures['households']:,} households, "
            f"{figures['days']:g} simulated days from {figures['start'][:10]}, "
            f"seed {figures['seed']}, "
            f"{result['run']['elapsed_s']:.0f} s on {result['run']['machine']} "
            f"({result['run']['at'][:10]}).",
            "",
            "Crises injected: "
            + ", ".join(f"{k} {v}" for k, v in figures["crises_injected"].items())
            + ".",
            "",
            table(figures),
            "",
            "Recall by crisis kind (found / evaluated within the horizon):",
            "",
            by_kind(figures),
            "",
            "False actionable alerts by reason (fused): "
            + (
                ", ".join(f"{k} {v}" for k, v in figures["fused"]["false_alerts_by_reason"].items())
                or "none"
            )
            + "; (single-channel): "
            + (
                ", ".join(
                    f"{k} {v}"
                    for k, v in figures["single_channel"]["false_alerts_by_reason"].items()
                )
                or "none"
            )
            + ". Watch-level alerts (no protocol) with fused rules: "
            + f"{figures['fused']['watch_alerts']}.",
            "",
            DOC_END,
        ]
    )
    text = (
        path.read_text(encoding="utf-8")
        if path.exists()
        else f"# Detection quality\n\n{DOC_BEGIN}\n{DOC_END}\n"
    )
    if DOC_BEGIN in text and DOC_END in text:
        head, rest = text.split(DOC_BEGIN, 1)
        tail = rest.split(DOC_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
