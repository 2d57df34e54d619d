"""Inactivity windows, quiet hours, fusion, and the in-memory deadline index."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from anbu_contracts import AlertReason, HeartbeatSignal, MonitoringChannel, Severity
from anbu_detector.domain.absence import QuietHours, fuse, window_end
from anbu_detector.domain.monitor import Monitor
from anbu_detector.domain.rules import AbsenceRule
from anbu_detector.domain.watch import WatchConfig, utc_seconds, window_end_seconds

SEOUL = ZoneInfo("Asia/Seoul")
QUIET = QuietHours(time(23, 0), time(7, 0))
PHONE, PLUG = MonitoringChannel.PHONE, MonitoringChannel.SMART_PLUG


def kst(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SEOUL)


def test_a_window_ending_in_daytime_is_not_moved() -> None:
    assert window_end(kst(25, 10), timedelta(hours=24), QUIET, SEOUL) == kst(26, 10)


def test_a_window_ending_inside_quiet_hours_is_extended_to_their_end() -> None:
    assert window_end(kst(25, 1), timedelta(hours=24), QUIET, SEOUL) == kst(26, 7)
    assert window_end(kst(25, 23, 30), timedelta(hours=24), QUIET, SEOUL) == kst(27, 7)


def test_quiet_hours_boundaries_start_inclusive_end_exclusive() -> None:
    assert window_end(kst(25, 23), timedelta(hours=24), QUIET, SEOUL) == kst(27, 7)
    assert window_end(kst(25, 7), timedelta(hours=24), QUIET, SEOUL) == kst(26, 7)
    assert window_end(kst(25, 22, 59), timedelta(hours=24), QUIET, SEOUL) == kst(26, 22, 59)


def test_quiet_hours_never_shorten_a_window() -> None:
    for hour in range(24):
        start = kst(25, hour)
        assert window_end(start, timedelta(hours=6), QUIET, SEOUL) >= start + timedelta(hours=6)


def test_one_silent_channel_while_another_is_active_is_watch() -> None:
    rule = AbsenceRule()
    found = fuse({PHONE}, {PHONE, PLUG}, rule)
    assert found is not None and found.reason is AlertReason.CHANNEL_SILENT
    assert found.severity is Severity.WATCH


def test_every_enrolled_channel_silent_is_safety_not_confirmed() -> None:
    found = fuse({PHONE, PLUG}, {PHONE, PLUG}, AbsenceRule())
    assert found is not None and found.reason is AlertReason.SAFETY_NOT_CONFIRMED
    assert fuse({PHONE}, {PLUG}, AbsenceRule()) is None  # a channel not enrolled says nothing


def config(**windows: float) -> WatchConfig:
    return WatchConfig(
        windows={MonitoringChannel(c): timedelta(hours=h) for c, h in windows.items()},
        quiet=QuietHours(time(0, 0), time(0, 0)),  # no quiet hours: plain arithmetic
        tz=SEOUL,
    )


T0 = datetime(2026, 11, 25, 3, tzinfo=UTC)


def test_a_heartbeat_resets_the_window_and_an_older_one_changes_nothing() -> None:
    monitor = Monitor()
    monitor.configure("HH-A", 0, config(phone=24), T0)
    monitor.heartbeat("HH-A", 0, PHONE, T0 + timedelta(hours=10))
    monitor.heartbeat("HH-A", 0, PHONE, T0 + timedelta(hours=5))  # out of order: ignored
    assert monitor.deadline_of("HH-A", PHONE) == T0 + timedelta(hours=34)


def test_a_channel_falls_silent_exactly_at_the_end_of_its_window() -> None:
    monitor = Monitor()
    monitor.configure("HH-A", 0, config(phone=24, smart_plug=36), T0)
    end = T0 + timedelta(hours=24)
    assert monitor.due(end - timedelta(seconds=1)) == []
    [(household, channel)] = monitor.due(end)
    expiry = monitor.expire(household, channel, end)
    assert expiry is not None and expiry.silent == {PHONE} and expiry.enrolled == {PHONE, PLUG}
    [(_, plug)] = monitor.due(T0 + timedelta(hours=36))
    both = monitor.expire("HH-A", plug, T0 + timedelta(hours=36))
    assert both is not None and both.silent == {PHONE, PLUG}


def test_activity_on_a_silent_channel_is_a_recovery() -> None:
    monitor = Monitor()
    monitor.configure("HH-A", 0, config(phone=24), T0)
    for household, channel in monitor.due(T0 + timedelta(hours=25)):
        monitor.expire(household, channel, T0 + timedelta(hours=25))
    recovery = monitor.heartbeat("HH-A", 0, PHONE, T0 + timedelta(hours=26), uuid4(), "telco")
    assert recovery is not None and recovery.still_silent == frozenset()
    assert monitor.deadline_of("HH-A", PHONE) == T0 + timedelta(hours=50)


def test_withdrawing_consent_stops_the_channel_at_once() -> None:
    monitor = Monitor()
    monitor.configure("HH-A", 0, config(phone=24, smart_plug=36), T0)
    dropped = monitor.configure("HH-A", 0, config(smart_plug=36), T0 + timedelta(hours=1))
    assert dropped == [PHONE]
    assert monitor.heartbeat("HH-A", 0, PHONE, T0 + timedelta(hours=2)) is None
    assert monitor.due(T0 + timedelta(hours=30)) == []  # the phone deadline is gone


def resting_until(back: datetime) -> WatchConfig:
    """A phone-only household resting (suspended, in hospital) until ``back``."""
    return WatchConfig(
        windows={PHONE: timedelta(hours=24)},
        quiet=QuietHours(time(0), time(0)),
        tz=SEOUL,
        suspended_until=back,
    )


def test_a_suspended_household_is_not_expired_and_restarts_when_the_suspension_ends() -> None:
    back = T0 + timedelta(days=5)
    monitor = Monitor()
    monitor.configure("HH-A", 0, resting_until(back), T0)
    [(h, c)] = monitor.due(T0 + timedelta(hours=24))
    assert monitor.expire(h, c, T0 + timedelta(hours=24)) is None
    assert monitor.deadline_of("HH-A", PHONE) == back + timedelta(hours=24)


def test_a_window_that_ended_in_a_rest_counts_from_the_return_even_if_looked_at_later() -> None:
    """The deadline fell inside the rest, but is only looked at after it (a late sweep, a
    restart): the silence counts from the return, not from before the rest."""
    back = T0 + timedelta(days=2)
    monitor = Monitor()
    monitor.configure("HH-A", 0, resting_until(back), T0)
    late = back + timedelta(hours=3)
    [(h, c)] = monitor.due(late)
    assert monitor.expire(h, c, late) is None
    assert monitor.deadline_of("HH-A", PHONE) == back + timedelta(hours=24)
    [(h, c)] = monitor.due(back + timedelta(hours=24))
    assert monitor.expire(h, c, back + timedelta(hours=24)) is not None


def test_partitions_are_forgotten_whole() -> None:
    monitor = Monitor()
    monitor.configure("HH-A", 0, config(phone=24), T0)
    monitor.configure("HH-B", 1, config(phone=24), T0)
    monitor.forget_partitions({0})
    assert set(monitor.households) == {"HH-B"}
    assert [h for h, _ in monitor.due(T0 + timedelta(days=2))] == ["HH-B"]


@settings(max_examples=500, deadline=None)
@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 400),
    window_hours=st.floats(min_value=0.1, max_value=80),
    quiet_start=st.integers(min_value=0, max_value=23),
    quiet_end=st.integers(min_value=0, max_value=23),
)
def test_the_heartbeat_path_computes_the_same_deadline_as_the_rule(
    minutes: int, window_hours: float, quiet_start: int, quiet_end: int
) -> None:
    quiet = QuietHours(time(quiet_start), time(quiet_end))
    last = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    window = timedelta(hours=window_hours)
    config = WatchConfig(windows={PHONE: window}, quiet=quiet, tz=SEOUL)
    expected = window_end(last, window, quiet, SEOUL)
    fast = window_end_seconds(last.timestamp(), window.total_seconds(), config)
    assert abs(fast - expected.timestamp()) < 1e-3


@given(
    st.datetimes(
        min_value=datetime(1971, 1, 1),  # noqa: DTZ001  (hypothesis wants naive bounds)
        max_value=datetime(2200, 1, 1),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, SEOUL, None]),
    ),
    st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_the_heartbeat_paths_epoch_seconds_are_timestamp_to_the_bit(
    at: datetime, from_json: bool
) -> None:
    if from_json and at.tzinfo is not None:  # pydantic's own zone, as a contract parses it
        at = HeartbeatSignal.model_validate_json(beat_json(at)).last_active_at
    assert utc_seconds(at) == at.timestamp()


def beat_json(at: datetime) -> bytes:
    return (
        HeartbeatSignal(
            occurred_at=at,
            source="telco",
            household_id="HH-AAAAAA",
            partner_id="telco",
            partner_event_id="e-1",
            channel=PHONE,
            device_id="d-1",
            last_active_at=at,
        )
        .model_dump_json()
        .encode()
    )
