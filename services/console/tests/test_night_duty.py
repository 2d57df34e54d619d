"""The night duty's board: filters by dong and protocol, and the printable day-2 sheet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

from .builders import DONG_A, DONG_B, T0, alert, escalation, household, task
from .conftest import Console

Login = Callable[[str], Console]


def two_dongs(console: Console) -> tuple[str, str]:
    """Two running protocols, one per dong; 사직동's next step (day 2) is due today."""
    a, b = uuid4(), uuid4()
    e_a, e_b = uuid4(), uuid4()
    console.feed(
        [
            household(1),
            household(4, dong=DONG_B),
            alert(a, 1),
            escalation(e_a, a, 1, next_due=T0 + timedelta(hours=30)),  # tomorrow
            alert(b, 4),
            escalation(e_b, b, 4, next_due=T0 + timedelta(hours=10)),  # today, 19:00
        ]
    )
    return str(e_a), str(e_b)


def test_the_board_filters_by_dong_and_by_protocol(logged_in: Login) -> None:
    console = logged_in("admin")
    in_a, in_b = two_dongs(console)
    everything = console.client.get("/escalations").text
    assert in_a in everything and in_b in everything
    assert everything.index(in_b) < everything.index(in_a)  # the nearest next step first
    only_b = console.client.get(f"/escalations?dong={DONG_B}").text
    assert in_b in only_b and in_a not in only_b
    assert f'<option value="{DONG_B}" selected>사직동</option>' in only_b
    other = console.client.get("/escalations?protocol=emergency").text
    assert in_a not in other and in_b not in other
    same = console.client.get("/escalations?protocol=safety-not-confirmed").text
    assert in_a in same and in_b in same
    assert in_a in console.client.get("/escalations?dong=nonsense").text  # ignored


def test_the_day_sheet_lists_todays_day_two_work_per_dong_team(logged_in: Login) -> None:
    console = logged_in("admin")
    two_dongs(console)
    visit = task(uuid4(), 1, "offered", T0 + timedelta(hours=1), deadline=T0 + timedelta(hours=3))
    console.feed([visit.model_copy(update={"step_id": "day2.visit"})])
    sheet = console.client.get("/escalations/day-sheet").text
    assert "2026-11-25" in sheet
    # 청운효자동: the day-2 visit task, due 12:00 local; 사직동: the next step at 19:00.
    team_a = sheet[sheet.index(f'data-dong="{DONG_A}"') : sheet.index(f'data-dong="{DONG_B}"')]
    assert 'data-household-id="HH-CON0001" data-step="day2.visit"' in team_a
    assert "12:00" in team_a and "W-DEMO001" in team_a
    team_b = sheet[sheet.index(f'data-dong="{DONG_B}"') :]
    assert 'data-household-id="HH-CON0004" data-step="day2.visit"' in team_b
    assert "19:00" in team_b and "예정" in team_b
    assert "HH-CON0001" not in team_b  # tomorrow's step is not on today's sheet


def test_a_dong_official_prints_only_their_team(logged_in: Login) -> None:
    console = logged_in("official-530")
    two_dongs(console)
    sheet = console.client.get("/escalations/day-sheet").text
    assert f'data-dong="{DONG_B}"' in sheet and f'data-dong="{DONG_A}"' not in sheet
