"""A reporter on a phone: headless Chromium submits the form, and the signal reaches the
detector's input topic with every field. The same form submitted with every service running
(the detector opening the alert) is ``tests/e2e/test_first_thread.py::
test_a_reporter_on_a_phone_submits_the_form_and_the_detector_opens_an_alert``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import ViewportSize, async_playwright

from anbu_contracts import ReportSignal, SignalKind
from anbu_runtime.processes import Stack

from .conftest import (
    GATEWAY,
    TOKEN,
    Registry,
    eventually,
)

pytestmark = pytest.mark.integration

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


async def test_a_reporter_submits_the_form_on_a_phone_and_the_signal_reaches_the_report_topic(
    gateway_stack: Stack,
    registry: Registry,
    tail: Any,
) -> None:
    reports = await tail(SignalKind.REPORT)
    household = registry.household()
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=30) as client:
        invited = await client.post(
            "/v1/invitations",
            json={"reporter_role": "meter_reader", "dong_codes": ["1111051500"]},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert invited.status_code == 201, invited.text
    link = invited.json()["link"]

    requested: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(
                viewport=PHONE, is_mobile=True, has_touch=True, locale="ko-KR"
            )
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            await page.goto(link)
            assert await page.locator("html").get_attribute("lang") == "ko"
            # The page fits the phone: nothing wider than the viewport.
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            await page.get_by_role("radio", name="가구번호", exact=True).check()
            await page.locator("#lookup_value").fill(household)
            assert await page.locator("#check").count() == 0  # nothing says who is enrolled

            await page.get_by_role("radio", name="악취", exact=True).check()
            await page.get_by_role("radio", name="높음 (오늘 안에)").check()
            await page.locator("#note").fill("며칠째 현관 앞에서 냄새가 나고 불이 꺼져 있습니다")
            await page.locator("#submit").tap()
            await page.wait_for_selector("#reference")
            reference = (await page.locator("#reference").inner_text()).strip()
            assert reference.startswith("RPT-")
            assert "제보가 접수되었습니다" in await page.content()
        finally:
            await browser.close()
    assert requested and all(url.startswith(GATEWAY) for url in requested)  # no outside assets

    [signal] = await eventually(lambda: reports.signals(household_id=household))
    assert isinstance(signal, ReportSignal)
    assert (signal.note_ref, signal.category, signal.urgency) == (reference, "odour", "high")
    assert signal.reporter_role == "meter_reader"
