"""The district map: every dong the viewer may see, drawn from the bundled boundaries and
coloured by the chosen measure; never a household."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from uuid import uuid4

from anbu_console.adapters.boundaries import dong_outlines
from anbu_console.domain.choropleth import frame_for, legend, step, svg_path
from anbu_console.places import DONG_NAMES

from .builders import DONG_A, DONG_B, T0, alert, escalation, household, story
from .conftest import TOKEN, Console

Login = Callable[[str], Console]
SERVICE = {"Authorization": f"Bearer {TOKEN}"}


def shape(page: str, dong: str) -> dict[str, str]:
    """The attributes of a dong's link on the map."""
    found = re.search(rf'<a class="dong" href="([^"]+)" data-dong="{dong}"([^>]*)>', page)
    assert found is not None, f"{dong} is not on the map"
    attributes = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', found.group(2)))
    return {"href": found.group(1), "data-dong": dong, **attributes}


def test_every_labelled_dong_has_an_outline_or_is_a_shared_legal_dong() -> None:
    outlines = dong_outlines()
    drawn = {code for code in DONG_NAMES if code in outlines}
    # 창신1·2·3동 and 숭인1·2동 share their legal dongs: drawn once, uncoloured.
    assert set(DONG_NAMES) - drawn == {
        "1111067000",
        "1111068000",
        "1111069000",
        "1111070000",
        "1111071000",
    }
    assert {"11110174", "11110175"} <= set(outlines)
    # The outlines lie in Jongno-gu (around 126.97 E, 37.58 N) and are simplified.
    lons = [lon for o in outlines.values() for p in o.outline for r in p for lon, _ in r]
    lats = [lat for o in outlines.values() for p in o.outline for r in p for _, lat in r]
    assert 126.9 < min(lons) < max(lons) < 127.05 and 37.55 < min(lats) < max(lats) < 37.64
    assert len(lons) < 3000


def test_the_projection_keeps_north_up_and_fits_the_width() -> None:
    square = [[[(127.0, 37.5), (127.1, 37.5), (127.1, 37.6), (127.0, 37.6), (127.0, 37.5)]]]
    frame = frame_for([square], width=400, margin=0)
    assert frame.project((127.0, 37.6)) == (0.0, 0.0)  # north-west corner at the origin
    x, y = frame.project((127.1, 37.5))
    assert round(x) == 400 and y > x  # a degree of longitude is shorter than one of latitude
    assert svg_path(square, frame).startswith("M0.0 ") and svg_path(square, frame).endswith("Z")


def test_the_colour_steps_and_their_legend_agree() -> None:
    assert [step("open_alerts", v) for v in (0, 1, 3, 7, 12)] == [0, 1, 2, 3, 4]
    assert step("per_thousand", None) == 0
    assert legend("open_alerts") == [(0, "0"), (1, "1"), (2, "2–5"), (3, "5–10"), (4, "≥10")]


def test_the_map_draws_each_dong_as_a_link_coloured_by_open_alerts(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    page = console.client.get("/map")
    assert page.status_code == 200
    text = page.text
    assert shape(text, DONG_B) == {
        "href": f"/alerts?dong={DONG_B}",
        "data-dong": DONG_B,
        "data-value": "1",
        "data-step": "1",
    }
    assert shape(text, DONG_A)["data-value"] == "1"  # HH-CON0002's SOS; the first resolved
    assert shape(text, "1111056000")["data-step"] == "0"  # 평창동: nothing open
    assert "<title>사직동: 진행 중 경보 1 · " in text
    # The dongs without an outline of their own are listed under the map.
    unmapped = text[text.index('id="unmapped"') :]
    assert "창신1동" in unmapped and "숭인2동" in unmapped
    assert "HH-CON" not in text  # never a household on the map
    assert "Dong map" in console.client.get("/map?lang=en").text


def test_the_measure_selector_recolours_the_map(logged_in: Login) -> None:
    console = logged_in("admin")
    late_alert = uuid4()
    console.feed(
        [
            household(1),
            household(2),
            household(3, dong=DONG_B),
            alert(late_alert, 1),
            escalation(uuid4(), late_alert, 1, next_due=T0 + timedelta(hours=1)),  # now: T0+6h
        ]
    )
    overdue = console.client.get("/map?measure=overdue_steps").text
    assert 'data-measure="overdue_steps"' in overdue
    assert shape(overdue, DONG_A)["data-value"] == "1"
    assert shape(overdue, DONG_B)["data-value"] == "0"
    watched = console.client.get("/map?measure=watched").text
    assert shape(watched, DONG_A)["data-value"] == "2"
    rate = console.client.get("/map?measure=per_thousand").text
    assert shape(rate, DONG_A)["data-value"] == "500"
    assert 'data-measure="open_alerts"' in console.client.get("/map?measure=bogus").text
    dongs = {
        d["dong_code"]: d
        for d in console.client.get("/api/map?measure=overdue_steps", headers=SERVICE).json()[
            "dongs"
        ]
    }
    assert dongs[DONG_A] == {
        "dong_code": DONG_A,
        "watched": 2,
        "open_alerts": 1,
        "overdue_steps": 1,
        "per_thousand": 500.0,
        "value": 1,
        "step": 1,
        "on_map": True,
    }


def test_a_dong_official_sees_only_their_dong_on_the_map(logged_in: Login) -> None:
    console = logged_in("official-530")
    console.feed(story())
    page = console.client.get("/map").text
    assert shape(page, DONG_B)["data-value"] == "1"
    assert f'data-dong="{DONG_A}"' not in page
    assert "창신1동" not in page  # not theirs, not even in the list


def test_an_opened_alert_recolours_its_dong(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed([household(1), household(2)])
    assert shape(console.client.get("/map").text, DONG_A)["data-step"] == "0"
    console.feed([alert(uuid4(), 1), alert(uuid4(), 2)])
    assert shape(console.client.get("/map").text, DONG_A) == {
        "href": f"/alerts?dong={DONG_A}",
        "data-dong": DONG_A,
        "data-value": "2",
        "data-step": "2",
    }
