"""A field worker on a phone, for real: headless Chromium (Debian's) drives the field app;
every service runs as a process against a broker of this test's own, on one accelerated
clock.

The official of 청운효자동 logs in on a 390×844 viewport; three unanswered safety calls
start the day-1/day-2 protocol; at 09:00 on day 2 the visit is offered to the official, a
life-support worker and the block leader; the official accepts it in the browser (the
address appears only then), the other two accept through the REST API with their own
credentials, the official taps "on my way" and records "contact confirmed" with the six
monitoring items, a need, a note and a follow-up request — and the detector closes the
escalation.

Why the timing below is careful: the registry issues login tokens stamped with the
*simulated* clock, while every service verifies them against the wall clock (see
docs/outreach.md, "Accelerated clocks"). So the test logs in while simulated time is a
little behind real time, with the registry's longest token lifetime, and only then lets
simulated time race through the night to day 2.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from playwright.async_api import Page, ViewportSize, async_playwright

from anbu_contracts import EscalationEvent, NotificationRequest, OutcomeEvent, TaskEvent

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[3]


def _e2e_support() -> ModuleType:
    """The end-to-end helpers (own broker, process stack, topic watcher), by path."""
    name = "anbu_e2e_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "e2e" / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


E2E = _e2e_support()
SPEED = 1200.0
SEOUL = ZoneInfo("Asia/Seoul")
BROKER_PORT = 29292
BASE = 19900
PORTS = {
    "console": BASE,
    "registry": BASE + 1,
    "gateway": BASE + 2,
    "detector": BASE + 3,
    "outreach": BASE + 4,
    "notifier": BASE + 5,
}
REGISTRY = f"http://127.0.0.1:{PORTS['registry']}"
OUTREACH = f"http://127.0.0.1:{PORTS['outreach']}"
SERVICE = {"Authorization": f"Bearer {E2E.TOKEN}"}
OFFICIAL, CARER, BLOCK_LEADER = "W-DEMO001", "W-DEMO002", "W-DEMO003"
DONG = "1111051500"
ADDRESS = "서울특별시 종로구 시험로 7길 3"
NOTE = "냉장고가 거의 비어 있었음"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 390, "height": 844}
# A login is usable while simulated time is behind real time by this much: the token's
# "issued at" must not be in the future, and it lives 24 h from there.
LOGIN_LAG = (timedelta(minutes=10), timedelta(hours=23, minutes=45))
LOGIN_AFTER = timedelta(seconds=40)  # real time; the stack is usually ready in ~25 s
LOGIN_AT = time(21, 30)  # local simulated time: day 2 at 09:00 is then 11.5 h (35 s) away


class SimClock:
    """The shared accelerated clock, planned so that the login happens ``LOGIN_AFTER`` the
    epoch, inside the token window, as late in the simulated evening as the window allows."""

    def __init__(self, epoch: datetime) -> None:
        self.epoch = epoch
        local = epoch.astimezone(SEOUL)
        wanted = datetime.combine(local.date(), LOGIN_AT, tzinfo=SEOUL)
        # Simulated time at login = real time at login - lag; take the largest lag (most
        # tolerance for a slow start) that still puts the login near LOGIN_AT.
        shift = (wanted - local - timedelta(minutes=15)) % timedelta(days=1)
        self.login_lag = LOGIN_LAG[1] - min(shift, timedelta(hours=14))
        login_real = epoch + LOGIN_AFTER
        self.start = login_real - self.login_lag - LOGIN_AFTER * SPEED

    def now(self) -> datetime:
        return self.start + (datetime.now(UTC) - self.epoch) * SPEED

    def lag(self) -> timedelta:
        return datetime.now(UTC) - self.now()


async def wait_for_login_moment(clock: SimClock) -> None:
    """Log in at the planned moment (or at once, if the stack came up late)."""
    await asyncio.sleep(max((clock.lag() - clock.login_lag).total_seconds() / (SPEED - 1), 0))
    if clock.lag() < LOGIN_LAG[0]:
        raise AssertionError(f"the stack came up too late for the clock plan ({clock.lag()})")


def unanswered_call(household: str, at: datetime) -> str:
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": at.isoformat(),
            "source": "ai-call-e2e",
            "household_id": household,
            "partner_id": "ai-call-e2e",
            "partner_event_id": f"call-{uuid4()}",
            "kind": "safety_call",
            "outcome": "unanswered",
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var = tmp_path_factory.mktemp("field-app-var")
    seed = yaml.safe_load((ROOT / "deploy" / "seed" / "demo.yaml").read_text(encoding="utf-8"))
    seed["households"] = []
    (var / "seed.yaml").write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    with E2E.own_broker(BROKER_PORT, tmp_path_factory.mktemp("field-app-kafka")) as bootstrap:
        clock = SimClock(datetime.now(UTC))
        stack = E2E.started_stack(
            var,
            PORTS,
            {
                "ANBU_KAFKA_BOOTSTRAP": bootstrap,
                "ANBU_REGISTRY_SEED_FILE": str(var / "seed.yaml"),
                "ANBU_CLOCK_SPEED": str(SPEED),
                "ANBU_CLOCK_START": clock.start.isoformat(),
                "ANBU_CLOCK_EPOCH": clock.epoch.isoformat(),
                "ANBU_AUTH_TOKEN_MINUTES": "1440",
                # People answer in real seconds, not simulated ones.
                "ANBU_OUTREACH_OFFER_MIN_REAL_SECONDS": "600",
                "ANBU_OUTREACH_TASK_EXPIRY_GRACE": "P7D",
            },
        )
        try:
            yield {"stack": stack, "bootstrap": bootstrap, "clock": clock}
        finally:
            stack.stop()


async def login_token(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post(
        f"{REGISTRY}/v1/auth/login", json={"username": username, "password": "anbu-demo-2026"}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def fits_the_phone(page: Page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


async def test_a_field_worker_accepts_the_day2_visit_on_a_phone_and_the_escalation_closes(
    world: Any,
) -> None:
    clock: SimClock = world["clock"]
    bootstrap: str = world["bootstrap"]
    watchers = {
        name: await E2E.TopicWatcher(bootstrap, name).start()
        for name in (
            "detector.escalation.v1",
            "outreach.task.v1",
            "outreach.outcome.v1",
            "notify.request.v1",
        )
    }
    requested: list[str] = []
    try:
        async with httpx.AsyncClient(timeout=15) as api, async_playwright() as p:
            enrolled = await api.post(
                f"{REGISTRY}/v1/households",
                headers=SERVICE,
                json={
                    "district_code": DONG[:5],
                    "dong_code": DONG,
                    "tier": "high_risk",
                    "responsible_worker_id": OFFICIAL,
                    "address": ADDRESS,
                    "people": [
                        {"relation": "resident", "name": "화면시험", "phone": "010-0000-3100"}
                    ],
                },
            )
            assert enrolled.status_code == 201, enrolled.text
            household: str = enrolled.json()["id"]

            await wait_for_login_moment(clock)
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = await browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, locale="ko-KR"
            )
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(f"{OUTREACH}/app/tasks")
            assert page.url.startswith(f"{OUTREACH}/app/login")  # not logged in yet
            assert await page.locator("html").get_attribute("lang") == "ko"
            await page.locator("#username").fill("official-515")
            await page.locator("#password").fill("anbu-demo-2026")
            await page.locator("#login").tap()
            await page.wait_for_url(f"{OUTREACH}/app/tasks")
            await fits_the_phone(page)
            carer_token = await login_token(api, "carer-515")  # inside the same token window

            # Three unanswered calls, observed in simulated time: the protocol starts.
            now = clock.now()
            E2E.kcat_produce(
                bootstrap,
                "signals.safety-call.v1",
                [
                    (household, unanswered_call(household, now - timedelta(hours=h)))
                    for h in (3, 2, 1)
                ],
            )
            tasks = watchers["outreach.task.v1"]
            offered: TaskEvent = await tasks.wait_for(
                lambda e: (
                    e.household_id == household
                    and e.step_id == "day2.visit"
                    and e.status == "offered"
                ),
                timeout=120,
                what="the day-2 visit offered",
            )
            assert offered.assignees == [OFFICIAL, CARER, BLOCK_LEADER]
            requests = watchers["notify.request.v1"]
            note: NotificationRequest = await requests.wait_for(
                lambda r: (
                    r.template == "task.offered"
                    and r.recipient.ref == OFFICIAL
                    and r.variables.get("task_id") == str(offered.task_id)
                ),
                timeout=30,
                what="the offer notification",
            )
            assert note.variables["link"] == f"{OUTREACH}/app/tasks/{offered.task_id}"

            # The official opens the task from the inbox, on the phone.
            await page.goto(f"{OUTREACH}/app/tasks")
            card = page.locator(f'a.task[data-task-id="{offered.task_id}"]')
            await card.wait_for()
            assert "가정 방문" in await card.inner_text()
            await card.tap()
            await page.wait_for_url(f"{OUTREACH}/app/tasks/{offered.task_id}")
            assert ADDRESS not in await page.content()
            assert "수락한 뒤에 표시됩니다" in await page.locator("#address-note").inner_text()
            await page.locator("#accept").tap()
            await page.wait_for_selector("#notice")
            assert "수락했습니다" in await page.locator("#notice").inner_text()
            assert await page.locator("#address").inner_text() == ADDRESS  # audited by the registry
            await fits_the_phone(page)

            # The life-support worker accepts with their own token; the block leader (no
            # login in the demo seed) through the service token, as operations would.
            carer = await api.post(
                f"{OUTREACH}/v1/tasks/{offered.task_id}/accept",
                json={},
                headers={"Authorization": f"Bearer {carer_token}"},
            )
            assert carer.status_code == 200, carer.text
            leader = await api.post(
                f"{OUTREACH}/v1/tasks/{offered.task_id}/accept",
                json={"worker_id": BLOCK_LEADER},
                headers=SERVICE,
            )
            assert leader.status_code == 200 and leader.json()["status"] == "accepted"

            await page.reload()
            await page.locator("#start").tap()
            await page.wait_for_selector("#notice")
            assert await page.locator("#task").get_attribute("data-status") == "started"
            await page.locator("#outcome").tap()
            await page.wait_for_url(f"{OUTREACH}/app/tasks/{offered.task_id}/outcome")
            await fits_the_phone(page)
            await page.get_by_role("radio", name="안부 확인").check()
            await page.locator('input[name="item_safety_environment"][value="ok"]').check()
            await page.locator('input[name="item_health"][value="concern"]').check()
            await page.locator('input[name="item_social_relations"][value="ok"]').check()
            await page.get_by_role("checkbox", name="식품").check()
            await page.locator("#note").fill(NOTE)
            await page.locator("#follow-up").check()
            await page.locator("#save").tap()
            await page.wait_for_url(re.compile(r".*/app/tasks\?notice=done_outcome$"))
            assert "결과를 기록했습니다" in await page.locator("#notice").inner_text()
            await browser.close()

        outcome: OutcomeEvent = await watchers["outreach.outcome.v1"].wait_for(
            lambda o: o.task_id == offered.task_id, timeout=30, what="the outcome"
        )
        assert outcome.result == "contact_confirmed" and outcome.recorded_by == OFFICIAL
        assert outcome.step_id == "day2.visit" and outcome.follow_up
        assert outcome.monitoring.health == "concern" and outcome.needs == ["food"]
        assert outcome.note_ref is not None and NOTE not in outcome.model_dump_json()

        escalations = watchers["detector.escalation.v1"]
        closed: EscalationEvent = await escalations.wait_for(
            lambda e: e.escalation_id == offered.escalation_id and e.change == "closed",
            timeout=60,
            what="the escalation closed",
        )
        assert closed.closure == "contact_confirmed"
        done: TaskEvent = await tasks.wait_for(
            lambda e: e.task_id == offered.task_id and e.status == "completed", timeout=10
        )
        assert done.assignees == [OFFICIAL, CARER, BLOCK_LEADER]
    finally:
        for watcher in watchers.values():
            await watcher.stop()
    assert requested and all(url.startswith(OUTREACH) for url in requested)  # no outside assets
