"""The console's pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anbu_console.domain.feeds import is_stale, stale_threshold
from anbu_console.domain.grid import alerts_per_thousand, heat
from anbu_console.domain.kpis import DEFAULT_TARGETS, Direction, achievement, kpi_table
from anbu_console.domain.scope import EVERYTHING, Scope, scope_for
from anbu_console.i18n import duration

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def test_achievement_is_actual_over_target_or_its_inverse_when_lower_is_better() -> None:
    assert achievement(50, 40, Direction.HIGHER_IS_BETTER) == 80.0
    assert achievement(60, 30, Direction.LOWER_IS_BETTER) == 200.0
    assert achievement(60, 0, Direction.LOWER_IS_BETTER) == 100.0
    assert achievement(50, None, Direction.HIGHER_IS_BETTER) is None


def test_every_catalogued_kpi_has_a_row_with_its_target() -> None:
    rows = kpi_table(DEFAULT_TARGETS, {"households_found": 25.0})
    assert rows[0].kpi_id == "households_found"
    assert rows[0].achievement == 50.0
    assert all(r.target is not None for r in rows)


def test_a_feed_silent_longer_than_its_threshold_is_stale() -> None:
    threshold = stale_threshold("heartbeat", 24, {"heartbeat": 2})
    assert threshold == timedelta(hours=2)
    assert is_stale(NOW - timedelta(hours=3), NOW, threshold)
    assert not is_stale(NOW - timedelta(hours=1), NOW, threshold)
    assert stale_threshold("arrears", 24, {}) == timedelta(hours=24)


def test_the_grid_rates_open_alerts_per_thousand_households() -> None:
    assert alerts_per_thousand(3, 600) == 5.0
    assert alerts_per_thousand(1, 0) is None
    assert [heat(r) for r in (None, 0, 1, 5, 25, 80)] == [0, 0, 1, 2, 3, 4]


def test_roles_decide_what_the_console_shows() -> None:
    assert scope_for("admin", frozenset(), frozenset()) is EVERYTHING
    assert scope_for("operator", frozenset(), frozenset()) is EVERYTHING
    assert scope_for("operator", frozenset(), frozenset({"11110"})) == Scope(
        district_codes=frozenset({"11110"})
    )
    official = scope_for("dong_official", frozenset({"1111051500"}), frozenset())
    assert official is not None and official.sees("1111051500")
    assert not official.sees("1111053000") and not official.sees(None)
    assert scope_for("field_worker", frozenset({"1111051500"}), frozenset()) is None


def test_durations_read_naturally_in_both_languages() -> None:
    assert duration(90061, "ko") == "1일 1시간"
    assert duration(-125, "en") == "2 min 5 s"
    assert duration(0, "ko") == "0초"
