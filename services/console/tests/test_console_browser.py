"""An operator at the console, for real: headless Chromium (Debian's) drives the pages while
every service runs as a process against a broker of this test's own.

The district hub's operator logs in through the registry and keeps the overview and the
escalation board open; an SOS button is pressed (a signal on ``signals.sos.v1``); the
detector opens a critical alert and starts the emergency protocol, and both pages show it
without a reload, and so does the district map, whose dong then leads to its alerts. Every
page, in Korean and English, on a desktop and a phone, is scanned with axe-core (bundled by
``axe-playwright-python``: no CDN) and must have no serious or critical violation and no
browser console error; its screenshot goes to ``docs/screenshots/``. Then the test drops the
read model, replays the topics and finds the same figures.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import httpx
import pytest
import yaml
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    ViewportSize,
    async_playwright,
)

from anbu_contracts import AlertEvent

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"


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
BROKER_PORT = 29692  # its KRaft controller listens on 29693
BASE = 19950
PORTS = {
    "console": BASE,
    "registry": BASE + 1,
    "gateway": BASE + 2,
    "detector": BASE + 3,
    "outreach": BASE + 4,
    "notifier": BASE + 5,
}
CONSOLE = f"http://127.0.0.1:{PORTS['console']}"
SERVICE = {"Authorization": f"Bearer {E2E.TOKEN}"}
HOUSEHOLD = "HH-DEMO000001"  # a seeded household of 청운효자동
DONG = "1111051500"  # 청운효자동
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
LIVE_WITHIN_S = 2.0
BLOCKING_IMPACTS = ("serious", "critical")
AXE = Axe()


def sos_signal(event_id: str) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "sos-e2e",
            "household_id": HOUSEHOLD,
            "partner_id": "sos-e2e",
            "partner_event_id": f"sos-{uuid4()}",
            "kind": "sos",
            "device_id": "button-1",
        }
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    var = tmp_path_factory.mktemp("console-var")
    seed = yaml.safe_load((ROOT / "deploy" / "seed" / "demo.yaml").read_text(encoding="utf-8"))
    (var / "seed.yaml").write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    with E2E.own_broker(BROKER_PORT, tmp_path_factory.mktemp("console-kafka")) as bootstrap:
        stack = E2E.started_stack(
            var,
            PORTS,
            {"ANBU_KAFKA_BOOTSTRAP": bootstrap, "ANBU_REGISTRY_SEED_FILE": str(var / "seed.yaml")},
        )
        try:
            yield {"stack": stack, "bootstrap": bootstrap}
        finally:
            stack.stop()


async def figures(api: httpx.AsyncClient) -> dict[str, Any]:
    """Everything the pages show, as JSON, in a stable order."""
    out = {}
    for name in ("overview", "alerts", "escalations", "kpis", "dongs", "partners"):
        response = await api.get(f"{CONSOLE}/api/{name}", headers=SERVICE)
        assert response.status_code == 200, response.text
        out[name] = response.json()
    out["alerts"] = sorted(out["alerts"], key=lambda a: a["alert_id"])
    out["escalations"] = sorted(out["escalations"], key=lambda e: e["escalation_id"])
    return out


async def settled(api: httpx.AsyncClient) -> dict[str, Any]:
    """The figures once nothing has changed for a second."""
    previous = await figures(api)
    for _ in range(30):
        await asyncio.sleep(1.0)
        current = await figures(api)
        if current == previous:
            return current
        previous = current
    raise AssertionError("the read model kept changing")


async def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


class Watch:
    """Browser console errors, uncaught page errors and axe violations, gathered per page."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.violations: list[str] = []

    def follow(self, context: BrowserContext) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.errors.append(f"{message.page.url if message.page else '?'}: {message.text}")

        def on_page_error(error: Error) -> None:
            self.errors.append(f"uncaught: {error}")

        context.on("console", on_console)
        context.on("weberror", lambda web_error: on_page_error(web_error.error))

    async def scan(self, page: Page, name: str) -> None:
        results = await AXE.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING_IMPACTS:
                targets = [", ".join(node["target"]) for node in violation["nodes"]]
                self.violations.append(
                    f"{name}: {violation['id']} ({violation['impact']}) {violation['help']} "
                    f"at {targets[:3]}"
                )

    def assert_clean(self) -> None:
        problems = [f"accessibility: {v}" for v in self.violations] + self.errors
        assert not problems, "\n".join(problems)


def pages_to_check(alert_id: str) -> list[tuple[str, str]]:
    """(screenshot name, path) of every page an operator reaches."""
    return [
        ("console-overview", "/"),
        ("console-escalations", "/escalations"),
        ("console-alerts", "/alerts"),
        ("console-alert", f"/alerts/{alert_id}"),
        ("console-household", f"/households/{HOUSEHOLD}"),
        ("console-partners", "/partners"),
        ("console-kpis", "/kpis"),
        ("console-dongs", "/dongs"),
        ("console-map", "/map"),
        ("console-map-overdue", "/map?measure=overdue_steps"),
        ("console-trends", "/trends"),
        ("console-escalations-filtered", "/escalations?protocol=emergency&dong=1111051500"),
        ("console-day-sheet", "/escalations/day-sheet"),
    ]


def with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


async def map_value(page: Page, dong: str) -> str | None:
    return await page.locator(f'#map a.dong[data-dong="{dong}"]').get_attribute("data-value")


async def test_an_sos_appears_live_on_the_open_console_and_a_rebuild_gives_the_same_figures(
    world: Any,
) -> None:
    bootstrap: str = world["bootstrap"]
    alerts = await E2E.TopicWatcher(bootstrap, "detector.alert.v1").start()
    try:
        async with httpx.AsyncClient(timeout=15) as api, async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            watch = Watch()
            context = await browser.new_context(viewport=DESKTOP, locale="ko-KR")
            watch.follow(context)
            overview = await context.new_page()
            await overview.goto(f"{CONSOLE}/")
            assert overview.url.startswith(f"{CONSOLE}/login")
            assert await overview.locator("html").get_attribute("lang") == "ko"
            await watch.scan(overview, "login")
            await shoot(overview, "console-login")
            await overview.goto(f"{CONSOLE}/login?lang=en")
            await watch.scan(overview, "login-en")
            await shoot(overview, "console-login-en")
            await overview.goto(f"{CONSOLE}/login?lang=ko")
            await overview.locator("#username").fill("jongno-hub")
            await overview.locator("#password").fill("anbu-demo-2026")
            await overview.locator("#login").click()
            await overview.wait_for_url(f"{CONSOLE}/")
            board = await context.new_page()
            await board.goto(f"{CONSOLE}/escalations")
            district = await context.new_page()
            await district.goto(f"{CONSOLE}/map")
            for page in (overview, board, district):
                await page.wait_for_selector("#live-state.on")  # the event stream is open
                await page.evaluate("window.__notReloaded = true")
            before_on_map = int(await map_value(district, DONG) or "0")

            produced = time.monotonic()
            E2E.kcat_produce(bootstrap, "signals.sos.v1", [(HOUSEHOLD, sos_signal(str(uuid4())))])
            opened: AlertEvent = await alerts.wait_for(
                lambda e: e.household_id == HOUSEHOLD and e.change == "opened",
                timeout=30,
                what="the SOS alert",
            )
            on_topic = time.monotonic()
            row = overview.locator(f'#alerts tr[data-alert-id="{opened.alert_id}"]')
            await row.wait_for(timeout=LIVE_WITHIN_S * 1000)
            shown = time.monotonic()
            print(
                f"alert on the page {shown - on_topic:.2f} s after it was published, "
                f"{shown - produced:.2f} s after the SOS signal"
            )
            assert shown - on_topic <= LIVE_WITHIN_S
            assert "심각" in await row.inner_text()
            assert await overview.evaluate("window.__notReloaded === true")  # no reload
            # The map recolours 청운효자동 live too.
            await district.wait_for_function(
                f"Number(document.querySelector('#map a.dong[data-dong=\"{DONG}\"]')"
                f"?.dataset.value) > {before_on_map}",
                timeout=LIVE_WITHIN_S * 1000,
            )
            on_map = time.monotonic()
            print(f"alert on the map {on_map - on_topic:.2f} s after it was published")
            assert on_map - on_topic <= LIVE_WITHIN_S + 0.5  # checked after the overview's row
            assert await district.evaluate("window.__notReloaded === true")

            step = board.locator(f'tr.escalation[data-household-id="{HOUSEHOLD}"]')
            await step.wait_for(timeout=10_000)
            await board.wait_for_function(
                "document.querySelector("
                f"'tr.escalation[data-household-id=\"{HOUSEHOLD}\"] .step')"
                "?.textContent.includes('119')",
                timeout=10_000,
            )
            assert await board.evaluate("window.__notReloaded === true")
            text = await step.inner_text()
            assert "즉시 — 119·112 통보 및 당직 출동" in text
            assert "follow-up" in text
            countdown = step.locator(".countdown")
            assert await countdown.get_attribute("data-due-ms")
            assert "시간" in await countdown.inner_text()  # about a day to the follow-up step

            await board.close()
            await overview.goto(f"{CONSOLE}/alerts/{opened.alert_id}")
            assert "sos.button" in await overview.locator("#rule-id").inner_text()
            evidence = await overview.locator("#evidence").inner_text()
            assert str(opened.evidence[0].event_id) in evidence
            await overview.goto(f"{CONSOLE}/households/{HOUSEHOLD}")
            assert "detector.escalation" in await overview.locator("#timeline").inner_text()
            await overview.goto(f"{CONSOLE}/partners")
            assert "sos-e2e" in await overview.locator("#feeds").inner_text()
            await overview.goto(f"{CONSOLE}/dongs")
            assert await overview.locator('.cell[data-dong="1111051500"]').count() == 1
            await overview.goto(f"{CONSOLE}/?lang=en")
            assert "Open alerts" in await overview.content()

            # The map's figures are the read model's, and a dong leads to its alerts.
            await district.reload()
            read_model = (await api.get(f"{CONSOLE}/api/map", headers=SERVICE)).json()
            for figure in read_model["dongs"]:
                cells = district.locator(f'#map-table tr[data-dong="{figure["dong_code"]}"] td')
                shown = [await cells.nth(i).inner_text() for i in range(1, 4)]
                expected = [figure[k] for k in ("open_alerts", "overdue_steps", "watched")]
                assert shown == [str(n) for n in expected], figure["dong_code"]
                if figure["on_map"]:
                    assert await map_value(district, figure["dong_code"]) == str(figure["value"])
            label = await district.locator(f'#map a.dong[data-dong="{DONG}"] text').bounding_box()
            assert label is not None
            await district.mouse.click(label["x"] + label["width"] / 2, label["y"] + 2)
            await district.wait_for_url(f"{CONSOLE}/alerts?dong={DONG}")
            await district.locator(f'#alerts tr[data-alert-id="{opened.alert_id}"]').wait_for()
            await district.close()

            # The trend charts' tables hold the read model's numbers.
            trends = (await api.get(f"{CONSOLE}/api/trends", headers=SERVICE)).json()
            await overview.goto(f"{CONSOLE}/trends?lang=ko")
            for day in trends["days"]:
                row = overview.locator(f'#table-severity tr[data-day="{day}"] td')
                counts = [await row.nth(i).text_content() for i in range(1, 5)]
                by_severity = trends["alerts_by_severity"][day]
                expected = [str(by_severity.get(s, 0)) for s in ("watch", "caution", "alert")]
                assert counts == [*expected, str(by_severity.get("critical", 0))], day
                overdue = overview.locator(f'#table-overdue tr[data-day="{day}"] td').nth(1)
                assert await overdue.text_content() == str(trends["overdue_tasks"][day])
            assert trends["alerts_by_severity"][trends["days"][-1]].get("critical", 0) >= 1
            assert await overview.locator("#chart-severity rect.series-critical").count() >= 1

            # Every page, Korean and English, desktop and phone: axe-clean and photographed.
            phone = await browser.new_context(viewport=PHONE, is_mobile=True, locale="ko-KR")
            watch.follow(phone)
            await phone.add_cookies(await context.cookies())
            mobile = await phone.new_page()
            for name, path in pages_to_check(str(opened.alert_id)):
                for lang in ("ko", "en"):
                    suffix = "" if lang == "ko" else "-en"
                    await overview.goto(f"{CONSOLE}{with_lang(path, lang)}")
                    await watch.scan(overview, f"{name}{suffix}")
                    await shoot(overview, f"{name}{suffix}")
                    await mobile.goto(f"{CONSOLE}{with_lang(path, lang)}")
                    await shoot(mobile, f"{name}{suffix}-phone")
                    width = await mobile.evaluate("document.documentElement.scrollWidth")
                    if width > PHONE["width"]:
                        watch.errors.append(f"{name}{suffix} scrolls sideways on a phone: {width}")
            # The day sheet prints without the menu.
            await overview.goto(f"{CONSOLE}/escalations/day-sheet?lang=ko")
            await overview.emulate_media(media="print")
            assert not await overview.locator("header").is_visible()
            await overview.pdf(path=str(SCREENSHOTS / "console-day-sheet.pdf"))
            await browser.close()
            watch.assert_clean()

            # Drop the read model, replay the topics from the beginning: the same figures.
            before = await settled(api)
            assert before["overview"]["open_alerts_by_severity"].get("critical", 0) >= 1
            started = await api.post(f"{CONSOLE}/api/rebuild", headers=SERVICE)
            assert started.status_code == 202, started.text
            for _ in range(120):
                state = (await api.get(f"{CONSOLE}/api/rebuild", headers=SERVICE)).json()
                if state["state"] != "running":
                    break
                await asyncio.sleep(0.5)
            assert state["state"] == "done", state
            assert state["records"] > 0
            assert await settled(api) == before

            # The same from the command line, as an operator would after an upgrade.
            stack = world["stack"]
            command = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "anbu_console", "rebuild"],
                env=stack.environment(),
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            assert "read model rebuilt" in command.stdout
            assert await settled(api) == before
    finally:
        await alerts.stop()
