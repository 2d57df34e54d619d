"""Trends: alerts per day by severity and reason, first signal to first contact per week,
tasks past their deadline per day; SVG bars with the same numbers in a table."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from anbu_console.domain.trends import bar_chart, nice_top, week_of

from .builders import T0, heartbeat, story
from .conftest import TOKEN, Console

Login = Callable[[str], Console]
SERVICE = {"Authorization": f"Bearer {TOKEN}"}
TODAY = "2026-11-25"  # the fixture's now is 15:00 in Seoul that day


def test_the_scale_tops_are_round_and_bars_stack_in_order() -> None:
    assert [nice_top(v) for v in (0, 1, 3, 7, 12, 49)] == [1, 1, 5, 10, 20, 50]
    assert week_of(date(2026, 11, 25)) == date(2026, 11, 23)  # a Wednesday's Monday
    chart = bar_chart([("a", {"x": 2, "y": 3}), ("b", {})], ["x", "y"], width=100, height=120)
    assert chart.top == 5
    lower, upper = chart.bars
    assert (lower.key, upper.key) == ("x", "y")
    assert lower.y + lower.height == 100  # on the axis (the height less the labels' room)
    assert upper.y + upper.height == lower.y  # stacked on top
    assert upper.height == 60  # 3 of a scale of 5 over 100 units


def test_the_trends_count_what_the_read_model_holds(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    data = console.client.get("/api/trends", headers=SERVICE).json()
    assert len(data["days"]) == 14 and data["days"][-1] == TODAY
    assert data["alerts_by_severity"][TODAY] == {"alert": 1, "critical": 1, "caution": 1}
    assert data["alerts_by_severity"][data["days"][0]] == {}
    assert data["alerts_by_reason"][TODAY] == {"safety_not_confirmed": 2, "sos": 1}
    # HH-CON0001: first evidence 2 h before the alert, visited 2 h after: 4 h; HH-CON0002:
    # 3 h; HH-CON0004 not contacted yet.
    assert data["first_contact_hours"]["2026-11-23"] == 3.5
    assert data["first_contact_hours"]["2026-11-16"] is None
    # The unassigned and the offered task are past their deadline; the completed one was on time.
    assert data["overdue_tasks"][TODAY] == 2


def test_the_trends_page_draws_bars_and_tables_in_korean_and_english(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    page = console.client.get("/trends").text
    assert 'id="chart-severity"' in page and 'class="series-critical"' in page
    assert (
        f'<tr data-day="{TODAY}"><td>{TODAY}</td><td>0</td><td>1</td><td>1</td><td>1</td>' in page
    )
    assert '<tr data-week="2026-11-23"><td>2026-11-23</td><td>3.5</td>' in page
    assert f'<tr data-day="{TODAY}"><td>{TODAY}</td><td>2</td></tr>' in page
    assert "일별 신규 경보" in page
    assert "Alerts opened per day" in console.client.get("/trends?lang=en").text


def test_a_dong_official_sees_only_their_dongs_trends(logged_in: Login) -> None:
    console = logged_in("official-530")
    console.feed(story())
    page = console.client.get("/trends").text
    # 사직동 holds HH-CON0004 only: one caution alert, its offered task overdue.
    assert (
        f'<tr data-day="{TODAY}"><td>{TODAY}</td><td>0</td><td>1</td><td>0</td><td>0</td>' in page
    )


def test_signals_per_partner_per_hour_carry_the_stale_threshold(logged_in: Login) -> None:
    console = logged_in("official-530")  # partners are not area-scoped: a dong official too
    beats = [heartbeat(1, T0 + timedelta(minutes=m)) for m in (60, 90)]
    console.feed([*story(), *beats, beats[0]])  # one heartbeat redelivered
    data = console.client.get("/api/trends", headers=SERVICE).json()
    hours = data["signal_hours"]
    assert len(hours) == 48 and hours[-1] == "2026-11-25T06:00:00+00:00"  # now is 06:00 UTC
    feeds = {(f["partner_id"], f["kind"]): f for f in data["partner_signals"]}
    plug = feeds[("plug-co", "heartbeat")]
    assert plug["counts"][hours.index("2026-11-25T01:00:00+00:00")] == 2
    assert sum(plug["counts"]) == 2
    assert (plug["stale_after_hours"], plug["stale"]) == (2.0, True)  # silent 4.5 h
    sos = feeds[("sos-button-co", "sos")]
    assert sos["counts"][hours.index("2026-11-24T23:00:00+00:00")] == 1
    assert (sum(sos["counts"]), sos["stale_after_hours"], sos["stale"]) == (2, 720.0, False)


def test_the_trends_page_draws_each_feed_with_its_stale_line(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed([*story(), heartbeat(1, T0 + timedelta(hours=1))])
    page = console.client.get("/trends").text
    assert "연계기관별 시간당 신호 수" in page
    # The heartbeat feed may be silent 2 h: the line sits at 04:00 UTC, the 46th of 48
    # hourly columns of 640/48 units each.
    assert '<line class="threshold" x1="600.0"' in page
    assert "수신 중단 기준 2시간" in page
    assert "◀ 수신 중단 기준 30일" in page  # the SOS feed's 720 h lie before the chart
    assert (
        '<tr data-hour="2026-11-25T01:00:00+00:00"><td>11-25 10:00</td><td>1</td><td>0</td>' in page
    )
    english = console.client.get("/trends?lang=en").text
    assert "Signals per partner per hour" in english and "Stale after 2 h" in english
