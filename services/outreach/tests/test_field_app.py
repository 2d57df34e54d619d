"""The field app over HTTP: login through the registry into a strict cookie, CSRF on every
form, Korean by default, the address only after acceptance, the outcome form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from anbu_contracts import ItemState, Need, OutcomeResult, Role, TaskType
from anbu_runtime.auth import UserRole

from .conftest import ADDRESS, World, step_executed, task_action
from .roster_builders import DONG, T0, household, worker

HTTPS = "https://field.example"


@pytest.fixture
async def world(make_world: Any) -> World:
    world: World = make_world()
    world.enrol(
        worker("W-OFF01", Role.OFFICIAL),
        worker("W-LSW01", Role.LIFE_SUPPORT_WORKER),
        household(responsible="W-OFF01"),
    )
    world.registry.add_user("carer", "secret-pw", "W-LSW01", dong_codes=frozenset({DONG}))
    world.registry.add_user("hub", "secret-pw", None, role=UserRole.OPERATOR)
    world.registry.addresses["HH-AAAAAA01"] = ADDRESS
    visit = task_action(
        "team-visit",
        TaskType.HOME_VISIT,
        [Role.OFFICIAL, Role.LIFE_SUPPORT_WORKER],
        T0 + timedelta(hours=3),
    )
    world.deliver(step_executed("HH-AAAAAA01", "day2.visit", [visit]))
    return world


async def client_for(world: World, base_url: str = HTTPS) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=world.app), base_url=base_url)


@pytest.fixture
async def browser(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(world) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the form has no CSRF token"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await client.get("/app/login")
    return await client.post(
        "/app/login",
        data={"username": username, "password": password, "csrf": csrf_of(page.text)},
    )


async def test_the_app_speaks_korean_by_default_and_english_on_request(
    browser: httpx.AsyncClient,
) -> None:
    korean = await browser.get("/app/login")
    assert '<html lang="ko">' in korean.text and "로그인" in korean.text
    english = await browser.get("/app/login?lang=en")
    assert '<html lang="en">' in english.text and "Log in" in english.text
    assert "http://" not in english.text.replace("https://", "")  # no outside assets
    again = await browser.get("/app/login")  # the choice is remembered
    assert '<html lang="en">' in again.text


async def test_logging_in_keeps_the_registry_token_in_a_strict_http_only_secure_cookie(
    browser: httpx.AsyncClient,
) -> None:
    response = await log_in(browser, "carer", "secret-pw")
    assert response.status_code == 303 and response.headers["location"] == "/app/tasks"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("anbu_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    inbox = await browser.get("/app/tasks")
    assert inbox.status_code == 200
    assert "가정 방문" in inbox.text and "W-LSW01" in inbox.text


async def test_on_localhost_the_cookie_is_not_marked_secure(world: World) -> None:
    async with await client_for(world, "http://127.0.0.1:8704") as client:
        response = await log_in(client, "carer", "secret-pw")
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("anbu_session=")
    )
    assert "Secure" not in cookie


async def test_a_wrong_password_or_a_missing_registry_is_said_plainly(
    world: World, browser: httpx.AsyncClient
) -> None:
    refused = await log_in(browser, "carer", "wrong")
    assert refused.status_code == 401 and "올바르지 않습니다" in refused.text
    assert "anbu_session" not in browser.cookies
    world.registry.down = True
    down = await log_in(browser, "carer", "secret-pw")
    assert down.status_code == 503


async def test_a_login_post_without_its_form_nonce_is_a_bad_request_not_an_outage(
    browser: httpx.AsyncClient,
) -> None:
    """Like the console's: 400 (the client's mistake), not 503 (which says "retry later")."""
    forged = await browser.post(
        "/app/login", data={"username": "carer", "password": "secret-pw", "csrf": "x"}
    )
    assert forged.status_code == 400 and "anbu_session" not in browser.cookies
    bare = await browser.post("/app/login", data={"username": "carer", "password": "secret-pw"})
    assert bare.status_code == 400


async def test_every_page_sends_a_visitor_without_a_session_to_the_login_page(
    world: World, browser: httpx.AsyncClient
) -> None:
    task_id = world.tasks()[0].task_id
    browser.cookies.set("anbu_session", "expired-or-forged", domain="field.example")
    for method, path in [
        ("GET", "/app"),
        ("GET", "/app/"),
        ("GET", "/app/tasks"),
        ("GET", f"/app/tasks/{task_id}"),
        ("POST", f"/app/tasks/{task_id}/accept"),
        ("POST", f"/app/tasks/{task_id}/no-such-action"),
    ]:
        answer = await browser.request(method, path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/app/login"), path


async def test_a_form_post_without_the_sessions_csrf_token_changes_nothing(
    world: World, browser: httpx.AsyncClient
) -> None:
    await log_in(browser, "carer", "secret-pw")
    task_id = world.tasks()[0].task_id
    forged = await browser.post(f"/app/tasks/{task_id}/accept", data={"csrf": "forged"})
    assert forged.status_code == 303 and "notice=csrf" in forged.headers["location"]
    assert world.last_task_event(task_id).assignees == ["W-OFF01", "W-LSW01"]
    assert len(world.tasks()) == 1  # no change was published


async def test_the_address_is_shown_only_after_acceptance_fetched_with_the_workers_token(
    world: World, browser: httpx.AsyncClient
) -> None:
    await log_in(browser, "carer", "secret-pw")
    task_id = world.tasks()[0].task_id
    before = await browser.get(f"/app/tasks/{task_id}")
    assert ADDRESS not in before.text and "수락한 뒤에 표시됩니다" in before.text
    assert world.registry.address_reads == []  # not even asked

    accepted = await browser.post(
        f"/app/tasks/{task_id}/accept", data={"csrf": csrf_of(before.text)}
    )
    assert accepted.status_code == 303
    after = await browser.get(accepted.headers["location"])
    assert ADDRESS in after.text and "수락했습니다" in after.text
    assert after.headers["cache-control"] == "no-store"
    [(household_id, shown_to, purpose)] = world.registry.address_reads
    assert (household_id, shown_to) == ("HH-AAAAAA01", "W-LSW01")
    assert str(task_id) in purpose

    world.registry.refuse_address_to.add("W-LSW01")  # the registry decides, not outreach
    refused = await browser.get(f"/app/tasks/{task_id}")
    assert ADDRESS not in refused.text and "팀 전원이 수락하면" in refused.text


async def test_an_account_without_a_worker_profile_is_told_so(
    world: World, browser: httpx.AsyncClient
) -> None:
    await log_in(browser, "hub", "secret-pw")
    page = await browser.get("/app/tasks")
    assert page.status_code == 403 and "현장 근무자 정보가 없습니다" in page.text


async def test_the_outcome_form_records_the_six_items_needs_notes_and_follow_up(
    world: World, browser: httpx.AsyncClient
) -> None:
    await log_in(browser, "carer", "secret-pw")
    task_id = world.tasks()[0].task_id
    page = await browser.get(f"/app/tasks/{task_id}")
    await browser.post(f"/app/tasks/{task_id}/accept", data={"csrf": csrf_of(page.text)})
    form = await browser.get(f"/app/tasks/{task_id}/outcome")
    for item in (
        "안전 및 주거환경",
        "신체·정신 건강",
        "돌봄 체계",
        "사회적 관계",
        "서비스 진단",
        "서비스 연계",
    ):
        assert item in form.text
    note = "냉장고가 비어 있음"
    saved = await browser.post(
        f"/app/tasks/{task_id}/outcome",
        data={
            "csrf": csrf_of(form.text),
            "result": "contact_confirmed",
            "contact_mode": "visit",
            "item_health": "concern",
            "item_safety_environment": "ok",
            "needs": ["food", "care"],
            "note": note,
            "follow_up": "1",
        },
    )
    assert saved.status_code == 303 and "done_outcome" in saved.headers["location"]
    [outcome] = world.published("outreach.outcome.v1")
    assert outcome.result is OutcomeResult.CONTACT_CONFIRMED
    assert outcome.monitoring.health is ItemState.CONCERN
    assert outcome.monitoring.safety_environment is ItemState.OK
    assert outcome.monitoring.care_system is ItemState.NOT_CHECKED
    assert outcome.needs == [Need.FOOD, Need.CARE] and outcome.follow_up
    assert outcome.note_ref is not None
    assert note.encode() not in world.outbox_bytes()
    inbox = await browser.get("/app/tasks?notice=done_outcome")
    assert "결과를 기록했습니다" in inbox.text and "배정된 업무가 없습니다" in inbox.text


async def test_a_declined_task_leaves_the_inbox_and_goes_to_someone_else(
    world: World, browser: httpx.AsyncClient
) -> None:
    world.enrol(worker("W-LSW02", Role.LIFE_SUPPORT_WORKER))
    await log_in(browser, "carer", "secret-pw")
    task_id = world.tasks()[0].task_id
    page = await browser.get(f"/app/tasks/{task_id}?lang=en")
    assert "Decline" in page.text and "Busy with other work" in page.text
    declined = await browser.post(
        f"/app/tasks/{task_id}/decline",
        data={"csrf": csrf_of(page.text), "reason": "busy", "note": "병원 동행 중"},
    )
    assert declined.headers["location"] == "/app/tasks?notice=done_declined"
    assert world.last_task_event(task_id).assignees == ["W-OFF01", "W-LSW02"]
    inbox = await browser.get("/app/tasks")
    assert str(task_id) not in inbox.text
