"""One household's day: its rhythm, its episodes (away, hospital, phone left at home,
device faults), crisis traces, AI safety calls, SOS presses, reports and registered mail.

Pure functions over a :class:`HouseholdState`; every record goes out through the shared
:class:`~.observations.Emitter`, in the order the draws were always made.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from anbu_contracts import (
    ArrearsType,
    CallOutcome,
    Concern,
    DeviceState,
    MonitoringChannel,
    ReportCategory,
    ReporterRole,
    ReportUrgency,
    SignalKind,
    Tier,
    Utility,
)
from anbu_contracts.signals import SosTrigger

from .crises import Crisis, CrisisKind
from .observations import SEOUL, Emitter
from .partners import HEARTBEAT_ACTIVITY, HEARTBEAT_PARTNER, Partner
from .population import CallCadence, HouseholdProfile
from .rhythms import is_day_off


@dataclass
class HouseholdState:
    """Mutable per-household state while simulating (episodes, accounts, usage history)."""

    profile: HouseholdProfile
    crisis: Crisis | None
    away_until: datetime | None = None
    away_kind: str = ""  # travel | hospital
    # out for the day with the phone left at home: (left, back)
    phone_home: tuple[datetime, datetime] | None = None
    phone_off_until: datetime | None = None
    faults: dict[MonitoringChannel, datetime] = field(default_factory=dict)
    # The episodes their partners have announced offline (``_device_notices``)
    phone_off_noticed: datetime | None = None
    faults_noticed: dict[MonitoringChannel, datetime] = field(default_factory=dict)
    arrears: dict[ArrearsType, int] = field(default_factory=dict)
    cut: set[Utility] = field(default_factory=set)
    usage: deque[float] = field(default_factory=lambda: deque(maxlen=35))
    base_load: float = 0.2
    mail_pending: datetime | None = None
    # hourly activity probabilities per channel: [working day, day off]
    rhythm: dict[MonitoringChannel, tuple[tuple[float, ...], tuple[float, ...]]] = field(
        default_factory=dict
    )


def live_one_day(out: Emitter, state: HouseholdState, day: date, day_start: datetime) -> None:
    cfg, rng = out.config, out.rng
    profile = state.profile
    hid = profile.household_id
    _start_episodes(out, state, day, day_start)
    _device_notices(out, state, day_start)
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
    hours = _hour_starts(day_start)  # the same instants as day_start + timedelta(hours=h)
    for channel in profile.channels:
        probs = state.rhythm[channel][day_off]
        fault_until = state.faults.get(channel)
        partner = HEARTBEAT_PARTNER[channel]
        device_id = f"{channel.value}-{hid[3:]}"
        activity = HEARTBEAT_ACTIVITY[channel]
        for block_start in range(0, 24, block):
            last_active: datetime | None = None
            for hour in range(block_start + block - 1, block_start - 1, -1):
                if plain:
                    if random_() < probs[hour]:
                        last_active = hours[hour] + timedelta(0, 0, 0, 0, 60 * random_())
                        break
                    continue
                at = hours[hour]
                factor = _factor(state, channel, at, day)
                limit = 60.0
                if in_crisis_today and crisis is not None:
                    factor, limit = _crisis_factor(crisis, channel, at, factor)
                if factor > 0 and random_() < probs[hour] * factor:
                    last_active = at + timedelta(0, 0, 0, 0, random_() * limit)
                    break
            if last_active is None:
                continue
            # The device reports its latest activity of the block a few minutes later.
            # (``timedelta`` with positional minutes/seconds: the same value as the keyword
            # form at a third of its cost — three per heartbeat.)
            report_at = last_active + timedelta(0, 0, 0, 0, 1 + 19 * random_())
            if fault_until is not None and report_at < fault_until:
                continue  # the device is offline: nothing reaches the vendor
            if (
                channel is _PHONE
                and state.phone_off_until is not None
                and report_at < state.phone_off_until
            ):
                continue
            out.emit(
                _HEARTBEAT,
                hid,
                partner,
                report_at,
                report_at + timedelta(0, 5 + 120 * random_()),
                {
                    "channel": channel,
                    "device_id": device_id,
                    "last_active_at": last_active,
                    "activity": activity,
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
    _safety_calls(out, state, day, day_start, day_off)
    _events_of_the_day(out, state, day, day_start)


# Enum members looked up once: through their class each lookup is a property call, and
# these two are looked up per heartbeat.
_PHONE = MonitoringChannel.PHONE
_HEARTBEAT = SignalKind.HEARTBEAT


@lru_cache(maxsize=2)
def _hour_starts(day_start: datetime) -> tuple[datetime, ...]:
    """The day's 24 hour instants, made once a day for every household (not per draw).
    ``day_start + timedelta(hours=h) + timedelta(minutes=m)`` is exactly
    ``day_start + timedelta(hours=h, minutes=m)``: whole hours add no rounding."""
    return tuple(day_start + timedelta(hours=hour) for hour in range(24))


# How far a ward's planned discharge is from the real one, in days (plans slip more often
# than they are beaten); the discharge notice the day before gives the real date.
PLAN_SLIP_DAYS = (-1, 0, 0, 0, 1, 1, 2, 3)


def _admission_notice(
    out: Emitter, profile: HouseholdProfile, day_start: datetime, discharge: datetime
) -> None:
    """A partner hospital's admission notice, from its ward's records a few hours after
    admission, with the discharge it plans (the stay starts at ``day_start``)."""
    later = out.later_rng
    admitted = day_start + timedelta(hours=later.uniform(1, 10))
    planned = discharge.astimezone(SEOUL).date() + timedelta(days=later.choice(PLAN_SLIP_DAYS))
    admitted_on = admitted.astimezone(SEOUL).date()
    out.emit(
        SignalKind.HOSPITAL_ADMISSION,
        profile.household_id,
        Partner.HOSPITAL,
        admitted,
        admitted + timedelta(hours=later.uniform(0.5, 6)),
        {"admitted_on": admitted_on, "expected_discharge": max(planned, admitted_on)},
        rng=later,
    )


# Minutes until a partner's network notices a device gone or back (the carrier's detach,
# a vendor's missed keep-alives), and until its notice reaches anbu.
NOTICE_AFTER_MINUTES = (5.0, 30.0)
NOTICE_DELIVERY_MINUTES = (1.0, 20.0)
# Standby hours of a phone nobody charges (a fall, a death): the carrier then sees it gone.
BATTERY_HOURS = (24.0, 72.0)


def _device_notice(
    out: Emitter, hid: str, channel: MonitoringChannel, state: DeviceState, at: datetime
) -> None:
    """The carrier's or the vendor's notice that a device went offline or came back."""
    rng = out.status_rng
    seen = at + timedelta(minutes=rng.uniform(*NOTICE_AFTER_MINUTES))
    out.emit(
        SignalKind.DEVICE_STATUS,
        hid,
        HEARTBEAT_PARTNER[channel],
        seen,
        seen + timedelta(minutes=rng.uniform(*NOTICE_DELIVERY_MINUTES)),
        {
            "channel": channel,
            "device_id": f"{channel.value}-{hid[3:]}",
            "status": state,
            "since": at,
        },
        rng=rng,
    )


def _device_notices(out: Emitter, state: HouseholdState, day_start: datetime) -> None:
    """Offline and online notices for today's device episodes (after ``_start_episodes``).

    A phone switched off (a dead battery), a device that lost its connection, a phone a
    disappearing resident switches off, and the phone of a resident who fell or died, whose
    battery runs out after a day or three: the partner's network sees each of them gone.
    Episodes begin at the start of a day; a notice that the device is back goes out on the
    day the episode ends (extended episodes are known by then). Drawn from ``status_rng``.
    """
    profile = state.profile
    hid = profile.household_id
    day_end = day_start + timedelta(days=1)
    phone = MonitoringChannel.PHONE in profile.channels
    off = state.phone_off_until
    if phone and off is not None:
        if state.phone_off_noticed != off and off > day_start:
            if state.phone_off_noticed is None or state.phone_off_noticed <= day_start:
                _device_notice(out, hid, MonitoringChannel.PHONE, DeviceState.OFFLINE, day_start)
            state.phone_off_noticed = off
        if day_start <= off < day_end:
            _device_notice(out, hid, MonitoringChannel.PHONE, DeviceState.ONLINE, off)
    for channel, until in state.faults.items():
        if state.faults_noticed.get(channel) != until:
            state.faults_noticed[channel] = until
            _device_notice(out, hid, channel, DeviceState.OFFLINE, day_start)
        if day_start <= until < day_end:
            _device_notice(out, hid, channel, DeviceState.ONLINE, until)
    crisis = state.crisis
    if not phone or crisis is None or not day_start <= crisis.onset < day_end:
        return
    gone: datetime | None = None
    if crisis.kind is CrisisKind.DISAPPEARANCE and not crisis.phone_taken:
        gone = crisis.onset  # switched off
    elif crisis.kind in (CrisisKind.FALL, CrisisKind.DEATH):
        gone = crisis.onset + timedelta(hours=out.status_rng.uniform(*BATTERY_HOURS))
    if gone is not None and (crisis.ends is None or gone < crisis.ends):
        _device_notice(out, hid, MonitoringChannel.PHONE, DeviceState.OFFLINE, gone)


def _factor(state: HouseholdState, channel: MonitoringChannel, at: datetime, day: date) -> float:
    """The household's own episodes: away, hospital, phone left at home."""
    if state.away_until is not None and at < state.away_until:
        if channel is MonitoringChannel.PHONE:
            return 0.8 if state.away_kind == "travel" else 0.3
        return 0.0
    home = state.phone_home
    if channel is MonitoringChannel.PHONE and home is not None and home[0] <= at < home[1]:
        return 0.0
    return 1.0


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


def _start_episodes(out: Emitter, state: HouseholdState, day: date, day_start: datetime) -> None:
    rng = out.rng
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
            discharge = day_start + timedelta(hours=rng.uniform(8, 16) + 24 * rng.randint(3, 14))
            state.away_until = discharge
            state.away_kind = "hospital"
            if rng.random() < 0.5:  # a partner hospital: it reports admission and discharge
                _admission_notice(out, profile, day_start, discharge)
                notice = discharge - timedelta(hours=20)
                out.emit(
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
    out: Emitter, state: HouseholdState, day: date, day_start: datetime, day_off: bool
) -> None:
    profile = state.profile
    rng = out.rng
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
        outcome, concerns = _call_outcome(out, state, at)
        out.emit(
            SignalKind.SAFETY_CALL,
            profile.household_id,
            Partner.AI_CALL,
            at,
            at + timedelta(minutes=rng.uniform(5, 120)),
            {"outcome": outcome, "concerns": concerns},
        )


def _call_outcome(
    out: Emitter, state: HouseholdState, at: datetime
) -> tuple[CallOutcome, list[Concern]]:
    rng = out.rng
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


def _events_of_the_day(out: Emitter, state: HouseholdState, day: date, day_start: datetime) -> None:
    """SOS presses, human reports, registered mail: what happens on a given day."""
    cfg, rng = out.config, out.rng
    profile = state.profile
    hid = profile.household_id
    day_end = day_start + timedelta(days=1)
    crisis = state.crisis
    if crisis is not None:
        if crisis.sos_at is not None and day_start <= crisis.sos_at < day_end:
            _sos(out, hid, crisis.sos_at, SosTrigger.FALL_DETECTOR)
        for report in crisis.reports:
            if day_start <= report.at < day_end:
                _report(out, hid, report.at, report.category, report.role)
    if profile.sos_device and rng.random() < cfg.false_sos_per_year / 365:
        _sos(out, hid, day_start + timedelta(hours=rng.uniform(8, 22)), SosTrigger.BUTTON)
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
        _report(out, hid, day_start + timedelta(hours=rng.uniform(9, 20)), category, role)
    # welfare registered mail (복지등기) on the 25th; uncollected mail reported after 7 days
    if day.day == 25 and profile.tier is not Tier.CLOSED:
        attempt = day_start + timedelta(hours=11)
        if _nobody_home(state, attempt) and _nobody_home(state, attempt + timedelta(days=7)):
            state.mail_pending = attempt + timedelta(days=7, hours=5)
    if state.mail_pending is not None and day_start <= state.mail_pending < day_end:
        out.emit(
            SignalKind.MAIL_UNCOLLECTED,
            hid,
            Partner.POST,
            state.mail_pending,
            state.mail_pending + timedelta(hours=rng.uniform(1, 6)),
            {"days_uncollected": 7},
        )
        state.mail_pending = None


def _nobody_home(state: HouseholdState, at: datetime) -> bool:
    crisis = state.crisis
    gone = (CrisisKind.DEATH, CrisisKind.FALL, CrisisKind.DISAPPEARANCE)
    if crisis is not None and crisis.active(at) and crisis.kind in gone:
        return True
    return state.away_until is not None and at < state.away_until


def _sos(out: Emitter, hid: str, at: datetime, trigger: SosTrigger) -> None:
    out.emit(
        SignalKind.SOS,
        hid,
        Partner.SOS,
        at,
        at + timedelta(seconds=out.rng.uniform(2, 30)),
        {"device_id": f"sos-{hid[3:]}", "trigger": trigger},
    )


def _report(
    out: Emitter, hid: str, at: datetime, category: ReportCategory, role: ReporterRole
) -> None:
    urgent = category in (ReportCategory.ODOUR, ReportCategory.NO_RESPONSE)
    out.emit(
        SignalKind.REPORT,
        hid,
        Partner.SAFETY_NET,
        at,
        at + timedelta(minutes=out.rng.uniform(1, 30)),
        {
            "reporter_role": role,
            "reporter_id": f"R-{out.rng.randrange(10**6):06d}",
            "category": category,
            "urgency": ReportUrgency.HIGH if urgent else ReportUrgency.NORMAL,
        },
    )


# -- the partners' files ------------------------------------------------------------
