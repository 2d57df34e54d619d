"""Learned rhythms: a silence judged against the household's own week, explained, with floors."""

from __future__ import annotations

from array import array
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

from anbu_contracts import (
    AlertReason,
    MailUncollectedSignal,
    MonitoringChannel,
    Severity,
)
from anbu_detector.adapters.config_files import load_catalog
from anbu_detector.adapters.orm import rhythm_columns, rhythm_of
from anbu_detector.domain import signal_rules
from anbu_detector.domain.absence import QuietHours, explain, fuse, rhythm_params
from anbu_detector.domain.monitor import Monitor
from anbu_detector.domain.rhythm import BLOCKS_PER_WEEK, ChannelRhythm, block_of_week
from anbu_detector.domain.rules import AbsenceRule, RhythmRule
from anbu_detector.domain.watch import WatchConfig

SEOUL = ZoneInfo("Asia/Seoul")
PHONE, PLUG = MonitoringChannel.PHONE, MonitoringChannel.SMART_PLUG
RULE = AbsenceRule(rhythm=RhythmRule(enabled=True))
START = datetime(2026, 11, 2, 0, tzinfo=SEOUL)  # a Monday


def watched(*channels: MonitoringChannel) -> tuple[Monitor, WatchConfig]:
    config = WatchConfig(
        windows={c: timedelta(hours=24) for c in channels},
        quiet=QuietHours(time(23), time(7)),
        tz=SEOUL,
        rhythm=rhythm_params(RULE),
    )
    monitor = Monitor()
    monitor.configure("HH-A", 0, config, START)
    return monitor, config


def live(monitor: Monitor, weeks: int, hours: tuple[int, ...], channel=PHONE) -> datetime:
    """Activity at the given local hours every day for ``weeks``; returns the last instant."""
    last = START
    for day in range(7 * weeks):
        for hour in hours:
            last = START + timedelta(days=day, hours=hour, minutes=10)
            monitor.heartbeat("HH-A", 0, channel, last, uuid4(), "p")
    return last


def silent_after(monitor: Monitor, channel=PHONE) -> timedelta:
    watch = monitor.households["HH-A"]
    deadline = monitor.deadline_of("HH-A", channel)
    assert deadline is not None
    return deadline - datetime.fromtimestamp(watch.channels[channel].last_active, tz=UTC)


def test_blocks_of_the_week_are_local_and_monday_first() -> None:
    monday = START.timestamp() + START.utcoffset().total_seconds()  # type: ignore[union-attr]
    assert block_of_week(monday) == 0
    assert block_of_week(monday + 6 * 86400 + 23 * 3600) == BLOCKS_PER_WEEK - 1


def test_a_busy_household_falls_silent_sooner_than_a_quiet_one() -> None:
    busy, _ = watched(PHONE)
    live(busy, 4, (1, 5, 9, 13, 17, 21))  # every block of every day
    quiet, _ = watched(PHONE)
    live(quiet, 4, (13,))  # one block a day
    assert silent_after(busy) < timedelta(hours=20)
    assert silent_after(quiet) > silent_after(busy) + timedelta(hours=12)


def test_the_floor_always_holds_and_the_minimum_too() -> None:
    never, _ = watched(PHONE)
    live(never, 4, (13,))
    # a channel that reports once a day still falls silent by the floor (48 h)
    assert silent_after(never) <= timedelta(hours=RULE.rhythm.max_hours)
    busy, _ = watched(PHONE)
    live(busy, 4, (1, 5, 9, 13, 17, 21))
    assert silent_after(busy) >= timedelta(hours=RULE.rhythm.min_hours)


def test_a_channel_that_drops_out_counts_for_less() -> None:
    steady, _ = watched(PHONE)
    last = live(steady, 3, (9, 13, 17))
    flaky, _ = watched(PHONE)
    live(flaky, 3, (9, 13, 17))
    for _ in range(4):  # four outages that ended by themselves
        now = last + timedelta(days=3)
        for household_id, channel in flaky.due(now):
            flaky.expire(household_id, channel, now)
        last = now + timedelta(hours=1)
        flaky.heartbeat("HH-A", 0, PHONE, last, uuid4(), "p")
        steady.heartbeat("HH-A", 0, PHONE, last, uuid4(), "p")
    assert silent_after(flaky) > silent_after(steady)


def test_every_channel_silent_is_explained_with_factors_weights_and_baseline() -> None:
    monitor, _ = watched(PHONE, PLUG)
    last = live(monitor, 3, (9, 13, 17))
    live(monitor, 3, (10, 14, 18), channel=PLUG)
    now = last + timedelta(hours=RULE.rhythm.max_hours + 2)
    for household_id, channel in monitor.due(now):
        monitor.expire(household_id, channel, now)
    score = monitor.explain("HH-A", now)
    assert score is not None and {c.channel for c in score.channels} == {PHONE, PLUG}
    found = fuse({PHONE, PLUG}, {PHONE, PLUG}, RULE, score)
    assert found is not None and found.reason is AlertReason.SAFETY_NOT_CONFIRMED
    assert score.at_floor and found.severity is Severity.ALERT  # the floor: a person at once
    factors = explain(score, RULE)
    assert factors["model"] == "rhythm-1" and factors["score_nats"] == round(score.score, 2)
    assert factors["phone.baseline_blocks_per_week"] > 15  # three active blocks a day, learned
    assert 0 < factors["phone.reliability"] <= 1


def test_a_low_score_below_the_person_threshold_gets_a_check_and_the_floor_a_person() -> None:
    monitor, _ = watched(PHONE)
    last = live(monitor, 3, (13,))
    at_floor = last + timedelta(hours=RULE.rhythm.max_hours, minutes=5)
    for household_id, channel in monitor.due(at_floor):
        monitor.expire(household_id, channel, at_floor)
    score = monitor.explain("HH-A", at_floor)
    assert score is not None and score.at_floor
    found = fuse({PHONE}, {PHONE}, RULE, score)
    assert found is not None and found.severity is Severity.ALERT  # the floor: a person
    weak = AbsenceRule(rhythm=RhythmRule(enabled=True, person_at_nats=50))
    not_floor = monitor.explain("HH-A", at_floor - timedelta(hours=12))
    assert not_floor is not None and not not_floor.at_floor
    check = fuse({PHONE}, {PHONE}, weak, not_floor)
    assert check is not None and check.severity is Severity.CAUTION
    catalog = load_catalog().default
    assert catalog.protocol_for(AlertReason.SAFETY_NOT_CONFIRMED, Severity.CAUTION) == (
        "safety-check-first"
    )
    assert catalog.protocol_for(AlertReason.SAFETY_NOT_CONFIRMED, Severity.ALERT) == (
        "safety-not-confirmed"
    )
    assert catalog.protocol_for(AlertReason.SAFETY_NOT_CONFIRMED, Severity.WATCH) is None


def test_without_rhythms_the_fixed_windows_and_severities_stay() -> None:
    assert rhythm_params(AbsenceRule()) is None
    found = fuse({PHONE}, {PHONE}, AbsenceRule())
    assert found is not None and found.severity is Severity.ALERT


T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_uncollected_mail_while_a_device_is_active_is_no_alert() -> None:
    rules = load_catalog().default
    mail = MailUncollectedSignal(
        occurred_at=T0,
        source="post",
        household_id="HH-AAAAAA",
        partner_id="post",
        partner_event_id=str(uuid4()),
        days_uncollected=9,
    )
    assert signal_rules.mail_uncollected(mail, rules, T0 - timedelta(hours=3)) is None
    assert signal_rules.mail_uncollected(mail, rules, T0 - timedelta(days=3)) is not None
    assert signal_rules.mail_uncollected(mail, rules) is not None


def test_a_learned_week_is_stored_as_its_counters_bytes_and_read_back() -> None:
    rhythm = ChannelRhythm(1_700_000_000.0)
    rhythm.hits = array("H", [n * 7 % 13 for n in range(BLOCKS_PER_WEEK)])
    rhythm.hits[5] = 1234
    rhythm.last_block, rhythm.outages = 99, 2
    columns = rhythm_columns(rhythm)
    week = columns[3]
    assert week is not None and len(week) == 2 * BLOCKS_PER_WEEK  # 84 bytes, not ~100 of text
    assert [int.from_bytes(week[i : i + 2], "little") for i in range(0, 84, 2)] == list(rhythm.hits)
    back = rhythm_of(*columns)
    assert back is not None and back.hits == rhythm.hits
    assert (back.since, back.last_block, back.outages) == (rhythm.since, 99, 2)


# -- a device its partner reports offline is blind, not silent (issue 14) ----------------------


def offline(config: WatchConfig, since: datetime, *channels: MonitoringChannel) -> WatchConfig:
    return replace(config, offline={c: since.timestamp() for c in channels})


def test_an_offline_channel_falls_silent_only_at_the_floor() -> None:
    monitor, config = watched(PHONE)
    last = live(monitor, 3, (9, 13, 17))
    learned = silent_after(monitor)
    assert learned < timedelta(hours=RULE.rhythm.max_hours - 8)  # unusual well before the floor
    monitor.configure("HH-A", 0, offline(config, last + timedelta(hours=1), PHONE), last)
    assert silent_after(monitor) == timedelta(hours=RULE.rhythm.max_hours)
    monitor.heartbeat("HH-A", 0, PHONE, last + timedelta(hours=2), uuid4(), "p")
    # heard after the notice: its rhythm counts again
    assert silent_after(monitor) < timedelta(hours=RULE.rhythm.max_hours - 8)


def test_an_offline_channel_stands_with_the_silent_ones_but_adds_nothing_to_the_score() -> None:
    monitor, config = watched(PHONE, PLUG)
    last = live(monitor, 3, (9, 13, 17))
    live(monitor, 3, (10, 14, 18), channel=PLUG)
    monitor.configure("HH-A", 0, offline(config, last, PHONE), last)
    now = monitor.deadline_of("HH-A", PLUG)  # the plug's silence is unusual; the phone is dark
    assert now is not None and now < last + timedelta(hours=RULE.rhythm.max_hours)
    [(household_id, channel)] = monitor.due(now)
    assert channel is PLUG
    expiry = monitor.expire(household_id, channel, now)
    assert expiry is not None and expiry.silent == {PHONE, PLUG} == expiry.enrolled
    score = monitor.explain("HH-A", now)
    assert score is not None and [c.channel for c in score.channels] == [PLUG]
    found = fuse(set(expiry.silent), set(expiry.enrolled), RULE, score)
    assert found is not None and found.reason is AlertReason.SAFETY_NOT_CONFIRMED


def test_back_online_a_channel_counts_its_silence_from_the_return() -> None:
    monitor, config = watched(PHONE)
    last = live(monitor, 3, (9, 13, 17))
    learned = silent_after(monitor)
    monitor.configure("HH-A", 0, offline(config, last + timedelta(hours=1), PHONE), last)
    back = last + timedelta(hours=40)  # past its learned deadline, short of the floor
    assert last + learned < back
    monitor.configure("HH-A", 0, config, back)
    monitor.came_online("HH-A", PHONE, back)
    deadline = monitor.deadline_of("HH-A", PHONE)
    assert deadline is not None and back < deadline < back + timedelta(hours=40)
    assert all(monitor.expire(h, c, back) is None for h, c in monitor.due(back))
