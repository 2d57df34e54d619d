"""The simulation: a pure, seeded generator of partner observations in delivery order.

``Simulation(population, config).observations()`` yields :class:`Observation` objects
ordered by ``deliver_at`` (when the partner's record reaches anbu). The same population,
configuration and seed give the same observations, event ids included. Nothing here does
I/O or reads a clock: producing to Kafka and pacing on a clock are adapters.

Partner feeds and their cadences (local time, Asia/Seoul):

- heartbeats: the telecom carrier (phone), the IoT vendor (smart plug, motion sensor,
  wearable, appliance) report a channel's latest activity a few minutes after it happens,
  at most once per ``heartbeat_block_hours`` (4 h) block;
- AI safety calls: weekly (a fixed weekday, 10:00–12:00) or twice daily (09:00 and 18:00),
  results 5 minutes to 2 hours later;
- monthly arrears files on the 5th (09:00) from each utility, insurer and landlord, with
  disconnection notices (pending at 2 months, cut at 4) from power and gas;
- usage drops computed weekly (Monday 06:00) by the power company from daily usage;
- the national blind-spot list every two months (the 20th of even months, 10:00);
- welfare registered mail on the 25th; the post office reports it uncollected after 7 days;
- hospital discharge notices the day before; human reports and SOS presses when they happen.

Misbehaviour: a share of records is duplicated (sent again later), late (hours to two
days, so out of order) or malformed (a broken record the detector must dead-letter).
"""

from __future__ import annotations

import heapq
import json
import random
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from anbu_contracts import (
    ArrearsType,
    CallOutcome,
    Concern,
    DisconnectionState,
    MonitoringChannel,
    ReportCategory,
    ReporterRole,
    ReportUrgency,
    SignalKind,
    Tier,
    Utility,
)
from anbu_contracts.signals import SIGNAL_MODELS, Activity, Signal, SosTrigger

from .crises import Crisis, CrisisKind, demo_crises, plan_crises
from .population import CallCadence, HouseholdProfile
from .rhythms import hourly_profile, is_day_off

SEOUL = ZoneInfo("Asia/Seoul")


class Partner(StrEnum):
    """The simulated partners (ids as registered in the demo seed)."""

    TELECOM = "telecom-demo"
    IOT = "iot-demo"
    AI_CALL = "ai-call-demo"
    KEPCO = "kepco-demo"
    WATER = "water-demo"
    GAS = "gas-demo"
    NHIS = "nhis-demo"
    LANDLORD = "rent-demo"
    SSIS = "ssis-demo"
    POST = "post-demo"
    HOSPITAL = "hospital-demo"
    SAFETY_NET = "safety-net-demo"
    SOS = "sos-demo"


ARREARS_PARTNER: dict[ArrearsType, Partner] = {
    ArrearsType.ELECTRICITY: Partner.KEPCO,
    ArrearsType.WATER: Partner.WATER,
    ArrearsType.GAS: Partner.GAS,
    ArrearsType.TELECOM: Partner.TELECOM,
    ArrearsType.HEALTH_INSURANCE: Partner.NHIS,
    ArrearsType.RENT: Partner.LANDLORD,
}
MONTHLY_BILL_KRW: dict[ArrearsType, int] = {
    ArrearsType.ELECTRICITY: 42_000,
    ArrearsType.WATER: 18_000,
    ArrearsType.GAS: 55_000,
    ArrearsType.TELECOM: 33_000,
    ArrearsType.HEALTH_INSURANCE: 61_000,
    ArrearsType.RENT: 350_000,
}
HEARTBEAT_PARTNER: dict[MonitoringChannel, Partner] = {
    MonitoringChannel.PHONE: Partner.TELECOM,
    MonitoringChannel.SMART_PLUG: Partner.IOT,
    MonitoringChannel.MOTION_SENSOR: Partner.IOT,
    MonitoringChannel.WEARABLE: Partner.IOT,
    MonitoringChannel.APPLIANCE: Partner.IOT,
}
HEARTBEAT_ACTIVITY: dict[MonitoringChannel, Activity] = {
    MonitoringChannel.PHONE: Activity.UNLOCK,
    MonitoringChannel.SMART_PLUG: Activity.POWER,
    MonitoringChannel.MOTION_SENSOR: Activity.MOTION,
    MonitoringChannel.WEARABLE: Activity.STEP,
    MonitoringChannel.APPLIANCE: Activity.APPLIANCE_USE,
}


_UTILITY_OF: dict[ArrearsType, Utility] = {
    ArrearsType.ELECTRICITY: Utility.POWER,
    ArrearsType.GAS: Utility.GAS,
}


class Flaw(StrEnum):
    DUPLICATE = "duplicate"
    LATE = "late"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Observation:
    """One partner record: a signal of ``kind`` about a household, delivered at ``deliver_at``.

    ``fields`` are the kind's own contract fields. ``flaw`` marks the misbehaving ones.
    """

    deliver_at: datetime
    kind: SignalKind
    household_id: str
    partner_id: str
    partner_event_id: str
    event_id: UUID
    occurred_at: datetime
    fields: Mapping[str, Any]
    flaw: Flaw | None = None

    def signal(self) -> Signal:
        """The contract model (validated); a malformed observation has none."""
        if self.flaw is Flaw.MALFORMED:
            raise ValueError("a malformed observation has no valid signal")
        return SIGNAL_MODELS[self.kind](
            event_id=self.event_id,
            occurred_at=self.occurred_at,
            produced_at=self.deliver_at,
            source=self.partner_id,
            household_id=self.household_id,
            partner_id=self.partner_id,
            partner_event_id=self.partner_event_id,
            **self.fields,
        )

    def value(self) -> bytes:
        """The record value as a partner would send it: JSON, or broken bytes if malformed."""
        if self.flaw is not Flaw.MALFORMED:
            return self.signal().model_dump_json().encode()
        good = replace(self, flaw=None).signal().model_dump(mode="json")
        variant = self.event_id.int % 3
        if variant == 0:  # truncated in transit
            return json.dumps(good).encode()[: 40 + self.event_id.int % 40]
        if variant == 1:  # a name where the pseudonymous id belongs
            return json.dumps({**good, "household_id": "홍길동 어르신"}).encode()
        # personal data riding along: the contract forbids unknown fields
        return json.dumps({**good, "resident_phone": "010-0000-0000"}).encode()


@dataclass(frozen=True)
class SimulationConfig:
    seed: int | str = 1
    start: datetime = datetime(2026, 3, 2, tzinfo=SEOUL)
    days: float = 7.0
    crisis_rate_per_year: float = 0.1
    duplicate_rate: float = 0.003
    late_rate: float = 0.01
    malformed_rate: float = 0.0005
    heartbeat_block_hours: int = 4
    background_reports_per_year: float = 0.01
    false_sos_per_year: float = 0.3
    demo: bool = False  # add the scripted demo crises

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


@dataclass
class _Household:
    """Mutable per-household state while simulating (episodes, accounts, usage history)."""

    profile: HouseholdProfile
    crisis: Crisis | None
    away_until: datetime | None = None
    away_kind: str = ""  # travel | hospital
    # out for the day with the phone left at home: (left, back)
    phone_home: tuple[datetime, datetime] | None = None
    phone_off_until: datetime | None = None
    faults: dict[MonitoringChannel, datetime] = field(default_factory=dict)
    arrears: dict[ArrearsType, int] = field(default_factory=dict)
    cut: set[Utility] = field(default_factory=set)
    usage: deque[float] = field(default_factory=lambda: deque(maxlen=35))
    base_load: float = 0.2
    mail_pending: datetime | None = None
    # hourly activity probabilities per channel: [working day, day off]
    rhythm: dict[MonitoringChannel, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict
    )


class Simulation:
    """The world: households living their days, partners reporting, crises happening."""

    def __init__(
        self,
        population: Sequence[HouseholdProfile],
        config: SimulationConfig,
        crises: Sequence[Crisis] | None = None,
    ) -> None:
        """``crises`` replaces the planned ones (tests inject exactly the crisis they study)."""
        self.population = list(population)
        self.config = config
        if crises is not None:
            crises = sorted(crises, key=lambda c: (c.onset, c.household_id))
        else:
            crises = plan_crises(
                config.seed, self.population, config.start, config.end, config.crisis_rate_per_year
            )
        if config.demo:
            scripted = demo_crises(config.seed, self.population, config.start)
            taken = {c.household_id for c in scripted}
            crises = sorted(
                [*scripted, *(c for c in crises if c.household_id not in taken)],
                key=lambda c: (c.onset, c.household_id),
            )
        self.ground_truth: list[Crisis] = list(crises)
        self._crisis_by_household = {c.household_id: c for c in crises}
        self._rng = random.Random(f"world:{config.seed}")
        self._start, self._end = config.start.astimezone(UTC), config.end.astimezone(UTC)
        self._seq = 0
        self._heap: list[tuple[float, int, Observation]] = []

    def crisis_of(self, household_id: str, at: datetime) -> Crisis | None:
        """The crisis that has begun for ``household_id`` by ``at`` (or None)."""
        crisis = self._crisis_by_household.get(household_id)
        return crisis if crisis is not None and crisis.onset <= at else None

    # -- the generator ---------------------------------------------------------------

    def observations(self) -> Iterator[Observation]:
        """Every observation of the period, in delivery order (deterministic for a seed)."""
        cfg = self.config
        rng = self._rng
        states = []
        for profile in self.population:
            state = _Household(profile, self._crisis_by_household.get(profile.household_id))
            state.base_load = rng.uniform(0.1, 0.3)
            state.rhythm = {
                c: (hourly_profile(profile, c, False), hourly_profile(profile, c, True))
                for c in profile.channels
            }
            for _ in range(28):  # a month of usage history before the start
                state.usage.append(state.base_load + (1 - state.base_load) * rng.uniform(0.8, 1.2))
            for _ in range(12):  # a year of payment history: chronic arrears exist at the start
                for account in _accounts(profile):
                    months = _habitual(state.arrears.get(account, 0), profile, rng)
                    state.arrears[account] = months
                    utility = _UTILITY_OF.get(account)
                    if utility is not None and months >= 4:
                        state.cut.add(utility)
                    elif utility is not None and months == 0:
                        state.cut.discard(utility)
            states.append(state)
        first = cfg.start.astimezone(SEOUL).date()
        last = (cfg.end - timedelta(microseconds=1)).astimezone(SEOUL).date()
        end_ts = cfg.end.timestamp()
        day = first
        while day <= last:
            # UTC instants throughout (cheaper arithmetic); local dates decide the rhythm.
            day_start = datetime.combine(day, time(0), SEOUL).astimezone(UTC)
            for state in states:
                self._live_one_day(state, day, day_start)
            self._partner_files(states, day, day_start)
            horizon = min((day_start + timedelta(days=1)).timestamp(), end_ts)
            while self._heap and self._heap[0][0] < horizon:
                yield heapq.heappop(self._heap)[2]
            day += timedelta(days=1)
        while self._heap and self._heap[0][0] < end_ts:
            yield heapq.heappop(self._heap)[2]
        self._heap.clear()

    # -- emitting, with the partners' misbehaviour -------------------------------------

    def _emit(
        self,
        kind: SignalKind,
        household_id: str,
        partner: Partner,
        occurred_at: datetime,
        deliver_at: datetime,
        fields: Mapping[str, Any],
    ) -> None:
        cfg, rng = self.config, self._rng
        if occurred_at < self._start or occurred_at >= self._end:
            return
        event_id = UUID(int=rng.getrandbits(128), version=4)
        flaw: Flaw | None = None
        r = rng.random()
        if r < cfg.malformed_rate:
            flaw = Flaw.MALFORMED
        elif r < cfg.malformed_rate + cfg.late_rate:
            flaw = Flaw.LATE
            deliver_at += timedelta(hours=rng.uniform(2, 48))
        obs = Observation(
            deliver_at=deliver_at,
            kind=kind,
            household_id=household_id,
            partner_id=partner,
            partner_event_id=f"{partner}-{event_id.hex[:20]}",
            event_id=event_id,
            occurred_at=occurred_at,
            fields=fields,
            flaw=flaw,
        )
        self._push(obs)
        if rng.random() < cfg.duplicate_rate and flaw is not Flaw.MALFORMED:
            again = deliver_at + timedelta(minutes=rng.uniform(1, 360))
            self._push(replace(obs, deliver_at=again, flaw=Flaw.DUPLICATE))

    def _push(self, obs: Observation) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (obs.deliver_at.timestamp(), self._seq, obs))

    # -- one household's day -----------------------------------------------------------

    def _live_one_day(self, state: _Household, day: date, day_start: datetime) -> None:
        cfg, rng = self.config, self._rng
        profile = state.profile
        hid = profile.household_id
        self._start_episodes(state, day, day_start)
        day_off = is_day_off(day)
        crisis = state.crisis
        day_end = day_start + timedelta(days=1)
        in_crisis_today = (
            crisis is not None
            and crisis.onset < day_end
            and (crisis.ends is None or crisis.ends > day_start)
        )
        # A plain day (no episode, no crisis) takes the fast path: the rhythm alone decides.
        plain = (
            not in_crisis_today
            and (state.away_until is None or state.away_until <= day_start)
            and (state.phone_home is None or state.phone_home[1] <= day_start)
        )
        block = cfg.heartbeat_block_hours
        random_ = rng.random
        for channel in profile.channels:
            probs = state.rhythm[channel][day_off]
            fault_until = state.faults.get(channel)
            partner = HEARTBEAT_PARTNER[channel]
            for block_start in range(0, 24, block):
                last_active: datetime | None = None
                for hour in range(block_start + block - 1, block_start - 1, -1):
                    if plain:
                        if random_() < probs[hour]:
                            last_active = day_start + timedelta(hours=hour, minutes=60 * random_())
                            break
                        continue
                    at = day_start + timedelta(hours=hour)
                    factor = self._factor(state, channel, at, day)
                    limit = 60.0
                    if in_crisis_today and crisis is not None:
                        factor, limit = self._crisis_factor(crisis, channel, at, factor)
                    if factor > 0 and random_() < probs[hour] * factor:
                        last_active = at + timedelta(minutes=random_() * limit)
                        break
                if last_active is None:
                    continue
                # The device reports its latest activity of the block a few minutes later.
                report_at = last_active + timedelta(minutes=1 + 19 * random_())
                if fault_until is not None and report_at < fault_until:
                    continue  # the device is offline: nothing reaches the vendor
                if (
                    channel is MonitoringChannel.PHONE
                    and state.phone_off_until is not None
                    and report_at < state.phone_off_until
                ):
                    continue
                self._emit(
                    SignalKind.HEARTBEAT,
                    hid,
                    partner,
                    report_at,
                    report_at + timedelta(seconds=5 + 120 * random_()),
                    {
                        "channel": channel,
                        "device_id": f"{channel.value}-{hid[3:]}",
                        "last_active_at": last_active,
                        "activity": HEARTBEAT_ACTIVITY[channel],
                    },
                )
        # power use today (the meter sees every household, enrolled in plugs or not)
        at_home = 1.0
        if state.away_until is not None and state.away_until > day_start:
            at_home = 0.1
        if in_crisis_today and crisis is not None:
            at_home = min(at_home, crisis.activity_factor)
        presence = at_home * rng.uniform(0.8, 1.2)
        state.usage.append(state.base_load + (1 - state.base_load) * presence)
        self._safety_calls(state, day, day_start, day_off)
        self._events_of_the_day(state, day, day_start)

    def _factor(
        self, state: _Household, channel: MonitoringChannel, at: datetime, day: date
    ) -> float:
        """The household's own episodes: away, hospital, phone left at home."""
        if state.away_until is not None and at < state.away_until:
            if channel is MonitoringChannel.PHONE:
                return 0.8 if state.away_kind == "travel" else 0.3
            return 0.0
        home = state.phone_home
        if channel is MonitoringChannel.PHONE and home is not None and home[0] <= at < home[1]:
            return 0.0
        return 1.0

    @staticmethod
    def _crisis_factor(
        crisis: Crisis, channel: MonitoringChannel, at: datetime, factor: float
    ) -> tuple[float, float]:
        """Activity factor and the minutes of the hour that may show activity."""
        hour_end = at + timedelta(hours=1)
        if hour_end <= crisis.onset or (crisis.ends is not None and at >= crisis.ends):
            return factor, 60.0
        if crisis.onset > at:  # the crisis begins within this hour
            return factor, (crisis.onset - at).total_seconds() / 60
        if crisis.kind is CrisisKind.DISAPPEARANCE:
            taken = channel is MonitoringChannel.PHONE and crisis.phone_taken
            return (0.6 * factor if taken else 0.0), 60.0
        if crisis.kind is CrisisKind.FINANCIAL_COLLAPSE:
            return factor, 60.0
        return factor * crisis.activity_factor, 60.0

    def _start_episodes(self, state: _Household, day: date, day_start: datetime) -> None:
        rng = self._rng
        profile = state.profile
        if state.away_until is not None and state.away_until <= day_start:
            state.away_until = None
        if state.away_until is None:
            if rng.random() < profile.trips_per_year / 365:
                state.away_until = day_start + timedelta(
                    hours=rng.uniform(8, 12) + 24 * rng.randint(1, 6)
                )
                state.away_kind = "travel"
            elif rng.random() < profile.hospital_stays_per_year / 365:
                discharge = day_start + timedelta(
                    hours=rng.uniform(8, 16) + 24 * rng.randint(3, 14)
                )
                state.away_until = discharge
                state.away_kind = "hospital"
                if rng.random() < 0.5:  # a partner hospital announces the discharge
                    notice = discharge - timedelta(hours=20)
                    self._emit(
                        SignalKind.HOSPITAL_DISCHARGE,
                        profile.household_id,
                        Partner.HOSPITAL,
                        notice,
                        notice + timedelta(minutes=rng.uniform(5, 60)),
                        {"discharge_date": discharge.astimezone(SEOUL).date(), "needs": ["care"]},
                    )
        if rng.random() < profile.phone_left_home_per_month / 30:
            left = day_start + timedelta(hours=profile.wake_hour + rng.uniform(1, 3))
            state.phone_home = (left, left + timedelta(hours=rng.uniform(4, 10)))
        if rng.random() < 0.8 / 365:  # battery dead, phone switched off
            state.phone_off_until = day_start + timedelta(hours=rng.uniform(12, 40))
        for channel in profile.channels:
            if channel is MonitoringChannel.PHONE:
                continue
            until = state.faults.get(channel)
            if until is not None and until <= day_start:
                del state.faults[channel]
            if channel not in state.faults and rng.random() < profile.device_faults_per_year / 365:
                state.faults[channel] = day_start + timedelta(hours=rng.uniform(6, 24 * 7))

    def _safety_calls(
        self, state: _Household, day: date, day_start: datetime, day_off: bool
    ) -> None:
        profile = state.profile
        rng = self._rng
        if profile.calls is CallCadence.NONE:
            return
        if profile.calls is CallCadence.WEEKLY:
            if day.weekday() != profile.call_weekday or day_off:
                return
            times = [day_start + timedelta(hours=10, minutes=rng.uniform(0, 120))]
        else:
            times = [
                day_start + timedelta(hours=9, minutes=rng.uniform(0, 30)),
                day_start + timedelta(hours=18, minutes=rng.uniform(0, 30)),
            ]
        for at in times:
            outcome, concerns = self._call_outcome(state, at)
            self._emit(
                SignalKind.SAFETY_CALL,
                profile.household_id,
                Partner.AI_CALL,
                at,
                at + timedelta(minutes=rng.uniform(5, 120)),
                {"outcome": outcome, "concerns": concerns},
            )

    def _call_outcome(self, state: _Household, at: datetime) -> tuple[CallOutcome, list[Concern]]:
        rng = self._rng
        r = rng.random()
        crisis = state.crisis
        if crisis is not None and crisis.active(at):
            if crisis.kind in (CrisisKind.DEATH, CrisisKind.FALL):
                return (CallOutcome.UNANSWERED if r < 0.9 else CallOutcome.UNREACHABLE), []
            if crisis.kind is CrisisKind.DISAPPEARANCE:
                if crisis.phone_taken:
                    return (CallOutcome.UNANSWERED if r < 0.8 else CallOutcome.ANSWERED_OK), []
                return (CallOutcome.UNREACHABLE if r < 0.6 else CallOutcome.UNANSWERED), []
            if crisis.kind is CrisisKind.ACUTE_ILLNESS:
                if r < 0.45:
                    return CallOutcome.ANSWERED_CONCERN, [Concern.ILL]
                return (CallOutcome.UNANSWERED if r < 0.9 else CallOutcome.ANSWERED_OK), []
            if r < 0.15:  # financial collapse
                return CallOutcome.ANSWERED_CONCERN, [Concern.NO_FOOD]
        if state.away_until is not None and at < state.away_until:
            miss = 0.25 if state.away_kind == "travel" else 0.6
        elif state.phone_home is not None and state.phone_home[0] <= at < state.phone_home[1]:
            miss = 0.7
        elif state.phone_off_until is not None and at < state.phone_off_until:
            return CallOutcome.UNREACHABLE, []
        else:
            miss = 0.12
        if r < miss:
            return (CallOutcome.UNANSWERED if r < miss * 0.9 else CallOutcome.UNREACHABLE), []
        if r > 0.995:
            return CallOutcome.ANSWERED_CONCERN, [Concern.LONELY]
        return CallOutcome.ANSWERED_OK, []

    def _events_of_the_day(self, state: _Household, day: date, day_start: datetime) -> None:
        """SOS presses, human reports, registered mail: what happens on a given day."""
        cfg, rng = self.config, self._rng
        profile = state.profile
        hid = profile.household_id
        day_end = day_start + timedelta(days=1)
        crisis = state.crisis
        if crisis is not None:
            if crisis.sos_at is not None and day_start <= crisis.sos_at < day_end:
                self._sos(hid, crisis.sos_at, SosTrigger.FALL_DETECTOR)
            for report in crisis.reports:
                if day_start <= report.at < day_end:
                    self._report(hid, report.at, report.category, report.role)
        if profile.sos_device and rng.random() < cfg.false_sos_per_year / 365:
            self._sos(hid, day_start + timedelta(hours=rng.uniform(8, 22)), SosTrigger.BUTTON)
        if rng.random() < cfg.background_reports_per_year / 365:
            category = rng.choice(
                [
                    ReportCategory.NO_RESPONSE,
                    ReportCategory.HOARDING,
                    ReportCategory.FOOD_INSECURITY,
                    ReportCategory.MAIL_PILING_UP,
                    ReportCategory.OTHER,
                    ReportCategory.EVICTION_RISK,
                ]
            )
            role = rng.choice(
                [ReporterRole.NEIGHBOUR, ReporterRole.BLOCK_LEADER, ReporterRole.DELIVERY_WORKER]
            )
            self._report(hid, day_start + timedelta(hours=rng.uniform(9, 20)), category, role)
        # welfare registered mail (복지등기) on the 25th; uncollected mail reported after 7 days
        if day.day == 25 and profile.tier is not Tier.CLOSED:
            attempt = day_start + timedelta(hours=11)
            if self._nobody_home(state, attempt) and self._nobody_home(
                state, attempt + timedelta(days=7)
            ):
                state.mail_pending = attempt + timedelta(days=7, hours=5)
        if state.mail_pending is not None and day_start <= state.mail_pending < day_end:
            self._emit(
                SignalKind.MAIL_UNCOLLECTED,
                hid,
                Partner.POST,
                state.mail_pending,
                state.mail_pending + timedelta(hours=rng.uniform(1, 6)),
                {"days_uncollected": 7},
            )
            state.mail_pending = None

    @staticmethod
    def _nobody_home(state: _Household, at: datetime) -> bool:
        crisis = state.crisis
        gone = (CrisisKind.DEATH, CrisisKind.FALL, CrisisKind.DISAPPEARANCE)
        if crisis is not None and crisis.active(at) and crisis.kind in gone:
            return True
        return state.away_until is not None and at < state.away_until

    def _sos(self, hid: str, at: datetime, trigger: SosTrigger) -> None:
        self._emit(
            SignalKind.SOS,
            hid,
            Partner.SOS,
            at,
            at + timedelta(seconds=self._rng.uniform(2, 30)),
            {"device_id": f"sos-{hid[3:]}", "trigger": trigger},
        )

    def _report(self, hid: str, at: datetime, category: ReportCategory, role: ReporterRole) -> None:
        urgent = category in (ReportCategory.ODOUR, ReportCategory.NO_RESPONSE)
        self._emit(
            SignalKind.REPORT,
            hid,
            Partner.SAFETY_NET,
            at,
            at + timedelta(minutes=self._rng.uniform(1, 30)),
            {
                "reporter_role": role,
                "reporter_id": f"R-{self._rng.randrange(10**6):06d}",
                "category": category,
                "urgency": ReportUrgency.HIGH if urgent else ReportUrgency.NORMAL,
            },
        )

    # -- the partners' files ------------------------------------------------------------

    def _partner_files(self, states: list[_Household], day: date, day_start: datetime) -> None:
        if day.day == 5:
            self._arrears_files(states, day, day_start)
        if day.weekday() == 0:
            self._usage_drops(states, day_start)
        if day.day == 20 and day.month % 2 == 0:
            self._blind_spot_round(states, day, day_start)

    def _arrears_files(self, states: list[_Household], day: date, day_start: datetime) -> None:
        rng = self._rng
        at = day_start + timedelta(hours=9)
        as_of = day.replace(day=1)
        for state in states:
            profile = state.profile
            crisis = state.crisis
            for account in _accounts(profile):
                months = state.arrears.get(account, 0)
                collapsed = (
                    crisis is not None
                    and crisis.kind is CrisisKind.FINANCIAL_COLLAPSE
                    and crisis.onset <= at
                    and account in crisis.arrears_types
                )
                if collapsed and crisis is not None:
                    months = max(1, (at - crisis.onset).days // 30 + 1)
                else:
                    months = _habitual(months, profile, rng)
                state.arrears[account] = months
                if months < 1:
                    continue
                deliver = at + timedelta(minutes=rng.uniform(0, 240))
                self._emit(
                    SignalKind.ARREARS,
                    profile.household_id,
                    ARREARS_PARTNER[account],
                    at,
                    deliver,
                    {
                        "arrears_type": account,
                        "months_overdue": months,
                        "amount_krw": months * MONTHLY_BILL_KRW[account],
                        "as_of": as_of,
                    },
                )
                utility = _UTILITY_OF.get(account)
                if utility is None:
                    continue
                state_now: DisconnectionState | None = None
                if months == 2:
                    state_now = DisconnectionState.PENDING
                elif months >= 4 and utility not in state.cut:
                    state_now = DisconnectionState.CUT
                    state.cut.add(utility)
                if state_now is not None:
                    self._emit(
                        SignalKind.DISCONNECTION,
                        profile.household_id,
                        ARREARS_PARTNER[account],
                        at,
                        deliver,
                        {"utility": utility, "state": state_now},
                    )
                if months == 0:
                    state.cut.discard(utility)

    def _usage_drops(self, states: list[_Household], day_start: datetime) -> None:
        """The power company's weekly drop computation: 7 days against the 28 before."""
        rng = self._rng
        at = day_start + timedelta(hours=6)
        for state in states:
            usage = state.usage
            if len(usage) < 35:
                continue
            series = list(usage)
            base = sum(series[:28]) / 28
            recent = sum(series[28:]) / 7
            if base <= 0:
                continue
            ratio = max(0.0, 1 - recent / base)
            if ratio < 0.5:
                continue
            self._emit(
                SignalKind.USAGE_DROP,
                state.profile.household_id,
                Partner.KEPCO,
                at,
                at + timedelta(minutes=rng.uniform(0, 60)),
                {"utility": Utility.POWER, "drop_ratio": round(ratio, 3), "window_days": 7},
            )

    def _blind_spot_round(self, states: list[_Household], day: date, day_start: datetime) -> None:
        """The national list: households with 3+ months of arrears as of the last files."""
        rng = self._rng
        at = day_start + timedelta(hours=10)
        round_id = f"{day.year}-{day.month // 2}"
        due = day + timedelta(days=30)
        for state in states:
            reasons = sorted(
                f"{account.value}_arrears"
                for account, months in state.arrears.items()
                if months >= 3
            )
            if state.cut:
                reasons.append("disconnection")
            if not reasons and rng.random() < 0.002:
                reasons = ["health_insurance_loss"]
            if not reasons:
                continue
            self._emit(
                SignalKind.BLIND_SPOT,
                state.profile.household_id,
                Partner.SSIS,
                at,
                at + timedelta(minutes=rng.uniform(0, 120)),
                {"round_id": round_id, "reasons": reasons, "due_date": due},
            )


def _accounts(profile: HouseholdProfile) -> list[ArrearsType]:
    accounts = [
        ArrearsType.ELECTRICITY,
        ArrearsType.WATER,
        ArrearsType.GAS,
        ArrearsType.TELECOM,
        ArrearsType.HEALTH_INSURANCE,
    ]
    if profile.landlord_on_file:
        accounts.append(ArrearsType.RENT)
    return accounts


def _habitual(months: int, profile: HouseholdProfile, rng: random.Random) -> int:
    """A month of a household's usual paying: miss one more, catch up, or stay behind."""
    if rng.random() < profile.arrears_prone:
        return months + 1
    return 0 if rng.random() < 0.8 else months
