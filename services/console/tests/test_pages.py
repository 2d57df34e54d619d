"""The operators' pages: logins through the registry, scope by role, Korean by default."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4
from zoneinfo import ZoneInfo

import jwt

from anbu_console.domain.changes import Change
from anbu_console.entrypoints.live import Hub
from anbu_contracts import JobKind
from anbu_runtime.auth import ISSUER, Principal, UserRole, issue_token

from .builders import DONG_B, T0, alert, escalation, household, job, sos, story
from .conftest import SECRET, TOKEN, Console

Login = Callable[[str], Console]


def test_a_visitor_is_sent_to_the_login_page_in_korean(console: Console) -> None:
    response = console.client.get("/escalations", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/escalations"
    page = console.client.get("/login")
    assert '<html lang="ko">' in page.text and "비밀번호" in page.text
    assert "Password" in console.client.get("/login?lang=en").text


def test_a_wrong_password_is_refused_and_a_form_without_its_token_too(console: Console) -> None:
    assert console.login("jongno-hub", "wrong").status_code == 401
    forged = console.client.post(
        "/login", data={"username": "jongno-hub", "password": "anbu-demo-2026", "csrf": "x"}
    )
    assert forged.status_code == 400


def test_a_locked_login_says_so_instead_of_blaming_the_registry(console: Console) -> None:
    from .conftest import LOCKED_USER

    locked = console.login(LOCKED_USER)
    assert locked.status_code == 429
    assert "로그인 실패가 많아 잠시 잠겼습니다" in locked.text
    assert "지금은 로그인할 수 없습니다" not in locked.text  # not "the registry is down"


def test_an_operator_sees_the_overview_with_every_figure(logged_in: Login) -> None:
    console = logged_in("jongno-hub")
    console.feed(story())
    page = console.client.get("/")
    assert page.status_code == 200
    assert 'id="open-alerts">2<' in page.text
    assert 'id="unassigned">1<' in page.text and 'id="failed">1<' in page.text
    assert "위기 확인" in page.text and "심각" in page.text
    assert "Open alerts" in console.client.get("/?lang=en").text
    assert "Open alerts" in console.client.get("/").text  # the language is remembered


def test_a_dong_official_sees_only_their_dong(logged_in: Login) -> None:
    console = logged_in("official-530")
    console.feed(story())
    alerts = console.client.get("/alerts").text
    assert "HH-CON0004" in alerts and "HH-CON0002" not in alerts
    [other] = [
        a["alert_id"]
        for a in console.client.get(
            "/api/alerts", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        if a["household_id"] == "HH-CON0002"
    ]
    assert console.client.get(f"/alerts/{other}").status_code == 404
    assert console.client.get("/households/HH-CON0002").status_code == 404
    assert DONG_B in console.client.get("/dongs").text
    assert "1111051500" not in console.client.get("/dongs").text


def test_field_staff_are_sent_to_the_field_app(logged_in: Login) -> None:
    console = logged_in("carer-515")
    page = console.client.get("/")
    assert page.status_code == 403 and "현장 앱" in page.text


def test_the_escalation_board_shows_the_step_the_countdown_and_what_is_overdue(
    logged_in: Login,
) -> None:
    console = logged_in("admin")
    alert_id, escalation_id = uuid4(), uuid4()
    late_alert, late_escalation = uuid4(), uuid4()
    console.feed(
        [
            household(1),
            household(2),
            alert(alert_id, 1),
            escalation(escalation_id, alert_id, 1, next_due=T0 + timedelta(hours=30)),
            alert(late_alert, 2),
            escalation(late_escalation, late_alert, 2, next_due=T0 + timedelta(hours=5)),
        ]
    )
    page = console.client.get("/escalations").text
    assert "1일차 — 문자 발송" in page
    assert "6시간" in page  # since the trigger (now is T0 + 6 h)
    assert "1일" in page  # to day 2: 24 h left
    assert f'class="escalation overdue" data-escalation-id="{late_escalation}"' in page
    assert f'class="escalation" data-escalation-id="{escalation_id}"' in page
    assert page.index(str(late_escalation)) < page.index(str(escalation_id))  # most urgent first


def test_the_alert_page_explains_the_decision(logged_in: Login) -> None:
    console = logged_in("admin")
    alert_id, escalation_id = uuid4(), uuid4()
    opened = alert(alert_id, 1)
    console.feed([household(1), opened, escalation(escalation_id, alert_id, 1)])
    page = console.client.get(f"/alerts/{alert_id}").text
    assert "safety-call.unanswered-streak" in page and 'id="rule-version">3<' in page
    assert "streak = 3" in page
    assert all(str(e.event_id) in page for e in opened.evidence)
    assert "day1.contact" in page


def test_the_household_timeline_lists_what_happened(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    page = console.client.get("/households/HH-CON0001").text
    for topic in ("detector.alert", "detector.escalation", "outreach.task", "outreach.outcome"):
        assert topic in page
    assert "위험가구" in page


def test_the_household_timeline_shows_case_events_in_korean_and_english(
    logged_in: Login,
) -> None:
    console = logged_in("admin")
    console.feed(story())

    def text(path: str) -> str:  # the page's words, without the markup
        return re.sub(r"<[^>]+>", "", console.client.get(path).text)

    opened = text("/households/HH-CON0002")
    assert "registry.case" in opened
    for words in ("사례 발굴", "사례 개입 · 고난도 사례", "서비스 연계 · 주거 보증금 지원"):
        assert words in opened
    moved = text("/households/HH-CON0004")
    assert "사례 이관 청운효자동 → 사직동" in moved and "사례 종결 · 개입 불필요" in moved
    english = text("/households/HH-CON0004?lang=en")
    assert "Case transferred" in english and "Case closed · no need" in english


def test_the_overview_funnel_counts_case_openings(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    page = console.client.get("/").text
    funnel = page[page.index('id="funnel"') : page.index("</ol>", page.index('id="funnel"'))]
    assert "<span>사례 개입</span> <b>1</b>" in funnel
    assert "<span>서비스 연계</span> <b>2</b>" in funnel
    assert "아직 이벤트 없음" not in funnel


def test_partner_feeds_are_flagged_stale_past_the_threshold(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed([sos(1, T0), sos(1, T0, partner="ai-speaker-co")])
    page = console.client.get("/partners").text
    assert page.count('class="fresh"') == 2  # SOS feeds may be silent for 30 days
    strict = console.client.get("/partners?stale_hours=2").text
    assert strict.count('class="stale"') == 2 and "수신 중단" in strict


def test_the_partners_page_shows_file_and_import_progress_to_every_role(
    logged_in: Login,
) -> None:
    console = logged_in("official-530")
    running = job("SUB-RUNNING", 850_000, T0 + timedelta(seconds=34))
    imported = job(
        "IMP-DONE",
        1_000_000,
        T0 + timedelta(minutes=1),
        finished=True,
        kind=JobKind.HOUSEHOLD_IMPORT,
    )
    console.feed([running, imported])
    page = console.client.get("/partners").text
    assert "파일 처리 현황" in page and "연계기관 파일" in page and "가구 일괄 등록" in page
    assert '<progress max="100" value="42.5" aria-label="진행률 SUB-RUNNING">' in page
    assert "850,000 (거부 3)" in page
    assert '<progress max="100" value="100.0"' in page
    assert page.index("SUB-RUNNING") < page.index("IMP-DONE")  # running jobs first
    english = console.client.get("/partners?lang=en").text
    assert "Files and imports" in english and "25,000 rows/s" in english


def test_the_kpi_table_shows_target_actual_and_achievement(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    page = console.client.get("/kpis").text
    assert "달성률" in page and "발굴 가구 수" in page
    rows = {
        r["kpi_id"]: r
        for r in console.client.get(
            "/api/kpis", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
    }
    assert rows["households_found"]["actual"] == 3.0
    assert rows["households_found"]["achievement"] == 6.0  # 3 of the default 50
    assert rows["tasks_on_time"]["actual"] == 100.0


def test_the_dong_grid_colours_open_alerts_per_thousand_households(logged_in: Login) -> None:
    console = logged_in("admin")
    console.feed(story())
    cells = {
        c["dong_code"]: c
        for c in console.client.get(
            "/api/dongs", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
    }
    assert cells[DONG_B] == {
        "dong_code": DONG_B,
        "monitored": 1,
        "open_alerts": 1,
        "rate": 1000.0,
        "heat": 4,
    }
    assert 'class="cell heat-4"' in console.client.get("/dongs").text
    assert "사직동" in console.client.get("/dongs").text  # real dong names
    only_b = console.client.get(f"/alerts?dong={DONG_B}").text
    assert "HH-CON0004" in only_b and "HH-CON0002" not in only_b


def test_the_json_twins_need_a_caller(console: Console) -> None:
    assert console.client.get("/api/alerts").status_code == 401
    assert (
        console.client.get("/api/overview", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert (
        console.client.get(
            "/api/overview", headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 200
    )


def test_unsigned_expired_and_empty_tokens_are_refused_as_header_and_as_cookie(
    console: Console,
) -> None:
    admin = Principal("U-ADMIN", UserRole.ADMIN)
    now = datetime.now(UTC)
    expired = issue_token(SECRET, admin, timedelta(minutes=30), now - timedelta(hours=2))
    unsigned = jwt.encode(
        {
            "iss": ISSUER,
            "sub": "U-ADMIN",
            "role": "admin",
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(hours=1)).timestamp()),
        },
        key=None,
        algorithm="none",
    )
    for token in (expired, unsigned):
        header = {"Authorization": f"Bearer {token}"}
        assert console.client.get("/api/overview", headers=header).status_code == 401
        cookie = {"Cookie": f"anbu_console_session={token}"}
        page = console.client.get("/", headers=cookie, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    # a deployment without ANBU_SERVICE_TOKEN: an empty bearer is still nobody
    console.runtime.common.service_token = ""
    assert (
        console.client.get("/api/overview", headers={"Authorization": "Bearer "}).status_code == 401
    )


def test_only_an_administrator_may_rebuild(logged_in: Login) -> None:
    console = logged_in("jongno-hub")
    assert console.client.post("/api/rebuild").status_code == 403


async def test_the_hub_fans_changes_out_to_every_open_page() -> None:
    hub = Hub()
    change = Change("alert", "HH-CON0001", DONG_B, "a", "opened: sos (critical)")
    async with hub.subscribe() as first, hub.subscribe() as second:
        hub.publish([change])
        assert await first.get() == change and await second.get() == change
    assert hub.listeners == 0


def test_the_page_header_shows_the_service_time_and_the_clock_is_public(
    logged_in: Login,
) -> None:
    console = logged_in("jongno-hub")
    page = console.client.get("/")
    now = console.clock.now()
    shown = now.astimezone(ZoneInfo("Asia/Seoul")).strftime("%m-%d %H:%M")
    assert f'<time id="clock-now" datetime="{now.isoformat()}">{shown}</time>' in page.text
    console.client.cookies.clear()  # no session: /v1/clock needs none, like /healthz
    body = console.client.get("/v1/clock").json()
    assert datetime.fromisoformat(body["now"]) == now
    assert body["speed"] == 1.0 and body["accelerated"] is False
