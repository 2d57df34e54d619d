"""One thread end to end, for real: real broker, every service a process, real HTTP.

Three unanswered safety calls produced with kcat → the detector opens an alert and runs the
day-1 step → outreach creates a task and offers it to a staff member → the notifier texts
the resident through its sink and reports delivery → a "contact confirmed" outcome recorded
through outreach's HTTP API closes the escalation and resolves the alert.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from anbu_contracts import (
    AlertEvent,
    EscalationEvent,
    NotificationStatusEvent,
    TaskEvent,
)
from anbu_runtime.processes import Stack

from .conftest import E2E_PORTS, kcat_produce

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

REGISTRY = f"http://127.0.0.1:{E2E_PORTS['registry']}"
OUTREACH = f"http://127.0.0.1:{E2E_PORTS['outreach']}"
GATEWAY = f"http://127.0.0.1:{E2E_PORTS['gateway']}"
CONSOLE = f"http://127.0.0.1:{E2E_PORTS['console']}"
DONG = "1111051500"  # 청운효자동: the seed has an official, a life-support worker, volunteers
OFFICIAL = "W-DEMO001"


def unanswered_call(household_id: str, hours_ago: float) -> str:
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
            "source": "ai-call-e2e",
            "household_id": household_id,
            "partner_id": "ai-call-e2e",
            "partner_event_id": f"call-{uuid4()}",
            "kind": "safety_call",
            "outcome": "unanswered",
        }
    )


async def new_household(api: httpx.AsyncClient) -> str:
    response = await api.post(
        f"{REGISTRY}/v1/households",
        json={
            "district_code": "11110",
            "dong_code": DONG,
            "tier": "high_risk",
            "responsible_worker_id": OFFICIAL,
            "channels": [{"channel": "phone", "consent": True}],
            "people": [{"relation": "resident", "name": "시험가구", "phone": "010-0000-4242"}],
        },
    )
    assert response.status_code == 201, response.text
    household_id: str = response.json()["id"]
    return household_id


async def new_partner(
    api: httpx.AsyncClient, prefix: str, organisation: str, kinds: list[str]
) -> tuple[str, str]:
    """A partner registered in the registry with one key: (partner id, API key)."""
    partner_id = f"{prefix}-{uuid4().hex[:8]}"
    created = await api.post(
        f"{REGISTRY}/v1/partners",
        json={
            "partner_id": partner_id,
            "organisation": organisation,
            "allowed_kinds": kinds,
            "rate_limit_per_minute": 600,
        },
    )
    assert created.status_code == 201, created.text
    issued = await api.post(f"{REGISTRY}/v1/partners/{partner_id}/keys", json={"label": "e2e"})
    assert issued.status_code == 201, issued.text
    return partner_id, issued.json()["api_key"]


async def test_three_unanswered_calls_flow_to_a_task_a_text_and_a_closed_escalation(
    stack: Stack, api: httpx.AsyncClient, watch: Any, kafka_bootstrap: str
) -> None:
    alerts = await watch("detector.alert.v1")
    escalations = await watch("detector.escalation.v1")
    tasks = await watch("outreach.task.v1")
    statuses = await watch("notify.status.v1")
    household = await new_household(api)

    kcat_produce(
        kafka_bootstrap,
        "signals.safety-call.v1",
        [(household, unanswered_call(household, h)) for h in (3, 2, 1)],
    )

    opened: AlertEvent = await alerts.wait_for(
        lambda e: e.household_id == household and e.change == "opened", what="alert opened"
    )
    assert opened.reason == "safety_not_confirmed"
    assert opened.rule.rule_id == "safety-call.unanswered-streak"
    assert len(opened.evidence) == 3

    step: EscalationEvent = await escalations.wait_for(
        lambda e: e.household_id == household and e.change == "step_executed",
        what="day-1 step",
    )
    assert step.alert_id == opened.alert_id
    assert step.step is not None and step.step.step_id == "day1.contact"
    assert step.correlation_id == opened.correlation_id

    offered: TaskEvent = await tasks.wait_for(
        lambda e: e.household_id == household and e.status == "offered", what="task offered"
    )
    assert offered.assignees == [OFFICIAL]  # the household's own official
    assert offered.escalation_id == step.escalation_id
    assert offered.dong_code == DONG

    text_key = f"{step.escalation_id}:day1.contact:text-resident"
    delivered: NotificationStatusEvent = await statuses.wait_for(
        lambda e: e.request_key == text_key and e.status == "delivered", what="text delivered"
    )
    assert delivered.channel == "console"
    sink = (stack.var_dir / "notifier" / "sink.jsonl").read_text(encoding="utf-8")
    [line] = [json.loads(x) for x in sink.splitlines() if text_key in x]
    assert line["to"] == "010-****-4242"
    # Rendered with the resident's name, resolved at send time; the sink keeps it masked.
    assert "시**구님" in line["text"] and "시험가구" not in sink
    assert "010-0000-4242" not in sink  # the sink never holds a full number

    accepted = await api.post(
        f"{OUTREACH}/v1/tasks/{offered.task_id}/accept", json={"worker_id": OFFICIAL}
    )
    assert accepted.status_code == 200, accepted.text
    recorded = await api.post(
        f"{OUTREACH}/v1/tasks/{offered.task_id}/outcome",
        json={"worker_id": OFFICIAL, "result": "contact_confirmed", "contact_mode": "phone"},
    )
    assert recorded.status_code == 201, recorded.text

    closed: EscalationEvent = await escalations.wait_for(
        lambda e: e.escalation_id == step.escalation_id and e.change == "closed",
        what="escalation closed",
    )
    assert closed.closure == "contact_confirmed"
    resolved: AlertEvent = await alerts.wait_for(
        lambda e: e.alert_id == opened.alert_id and e.change == "resolved", what="alert resolved"
    )
    assert resolved.resolution == "outcome"

    # The console's read model followed the whole thread.
    async with httpx.AsyncClient(timeout=5.0, headers=api.headers) as client:
        for _ in range(50):
            open_alerts = (await client.get(f"{CONSOLE}/api/alerts")).json()
            if all(a["alert_id"] != str(opened.alert_id) for a in open_alerts):
                break
            await asyncio.sleep(0.2)
        assert all(a["alert_id"] != str(opened.alert_id) for a in open_alerts)

    # Every PII read the notifier made was audited by the registry.
    audit = (await api.get(f"{REGISTRY}/v1/audit", params={"subject": household})).json()
    assert any(a["action"] == "recipient.resolve" and a["actor"] == "service" for a in audit)


async def test_a_malformed_signal_is_dead_lettered_and_the_next_valid_one_is_processed(
    stack: Stack, api: httpx.AsyncClient, watch: Any, kafka_bootstrap: str
) -> None:
    dead_letters = await watch("signals.safety-call.v1.dlq")
    alerts = await watch("detector.alert.v1")
    household = await new_household(api)
    broken = '{"kind": "safety_call", "household_id": "' + household + '", "outcome": "maybe"'
    kcat_produce(
        kafka_bootstrap,
        "signals.safety-call.v1",
        [(household, broken)] + [(household, unanswered_call(household, h)) for h in (3, 2, 1)],
    )
    dead = await dead_letters.wait_for(
        lambda r: r.key == household.encode() and dict(r.headers).get("dlq.service") == b"detector",
        what="dead letter from the detector",
    )
    headers = {k: v.decode() for k, v in dead.headers}
    assert dead.value == broken.encode()
    assert headers["dlq.topic"] == "signals.safety-call.v1"
    assert headers["dlq.reason"] == "contract"
    assert "json" in headers["dlq.error"].lower()
    opened = await alerts.wait_for(
        lambda e: e.household_id == household and e.change == "opened", what="alert after DLQ"
    )
    assert len(opened.evidence) == 3


async def test_a_stopped_notifier_delivers_once_when_it_comes_back(
    stack: Stack, api: httpx.AsyncClient, watch: Any, kafka_bootstrap: str
) -> None:
    """Nothing is lost while a service is down, and nothing is sent twice after it returns."""
    escalations = await watch("detector.escalation.v1")
    statuses = await watch("notify.status.v1")
    stack.stop(["notifier"])  # SIGTERM: a graceful shutdown
    log = stack.processes["notifier"].log_path.read_text(encoding="utf-8")
    assert "Application shutdown complete" in log
    assert "Finished server process" in log.splitlines()[-1]
    try:
        household = await new_household(api)
        kcat_produce(
            kafka_bootstrap,
            "signals.safety-call.v1",
            [(household, unanswered_call(household, h)) for h in (3, 2, 1)],
        )
        step: EscalationEvent = await escalations.wait_for(
            lambda e: e.household_id == household and e.change == "step_executed"
        )
        text_key = f"{step.escalation_id}:day1.contact:text-resident"
        with pytest.raises(AssertionError):
            await statuses.wait_for(lambda e: e.request_key == text_key, timeout=3)
    finally:
        stack.start(["notifier"])
        stack.wait_ready(["notifier"])
    await statuses.wait_for(
        lambda e: e.request_key == text_key and e.status == "delivered", timeout=60
    )
    sink = (stack.var_dir / "notifier" / "sink.jsonl").read_text(encoding="utf-8")
    assert sum(text_key in line for line in sink.splitlines()) == 1


async def test_a_partner_key_from_the_registry_carries_a_report_through_the_gateway_to_an_alert(
    stack: Stack, api: httpx.AsyncClient, watch: Any
) -> None:
    """The partner edge for real: the registry registers a partner and issues its key, the
    gateway checks the key against the registry, publishes the report, and the detector's
    report rule opens an alert; a second post of the same report is a duplicate."""
    alerts = await watch("detector.alert.v1")
    household = await new_household(api)
    partner_id, key = await new_partner(api, "e2e-post", "우체국 종로지점 (e2e)", ["report"])
    report = {
        "kind": "report",
        "household_id": household,
        "partner_event_id": f"round-{uuid4()}",
        "occurred_at": datetime.now(UTC).isoformat(),
        "reporter_role": "postal_carrier",
        "reporter_id": "carrier-07",
        "category": "mail_piling_up",
        "urgency": "high",
    }
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10.0) as partner:
        refused = await partner.post("/v1/signals", json=report, headers={"X-Api-Key": "anbu_x"})
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        accepted = await partner.post("/v1/signals", json=report, headers={"X-Api-Key": key})
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["outcome"] == "accepted"
        again = await partner.post("/v1/signals", json=report, headers={"X-Api-Key": key})
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    opened = await alerts.wait_for(
        lambda e: e.household_id == household and e.change == "opened", what="report alert"
    )
    assert opened.reason == "human_report"
    assert [e.partner_id for e in opened.evidence] == [partner_id]


async def test_a_reporter_on_a_phone_submits_the_form_and_the_detector_opens_an_alert(
    stack: Stack, api: httpx.AsyncClient, watch: Any
) -> None:
    """The human safety net for real: an operator invites a meter reader, headless Chromium
    on a phone-sized viewport fills in the reporter form (Korean), and the detector's report
    rule opens an alert for the household with the report as evidence."""
    from playwright.async_api import async_playwright

    alerts = await watch("detector.alert.v1")
    household = await new_household(api)
    invited = await api.post(
        f"{GATEWAY}/v1/invitations",
        json={"reporter_role": "meter_reader", "dong_codes": [DONG]},
    )
    assert invited.status_code == 201, invited.text
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            context = await browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
            )
            page = await context.new_page()
            await page.goto(invited.json()["link"])
            await page.get_by_role("radio", name="가구번호", exact=True).check()
            await page.locator("#lookup_value").fill(household)
            await page.get_by_role("radio", name="악취", exact=True).check()
            await page.get_by_role("radio", name="높음 (오늘 안에)").check()
            await page.locator("#submit").tap()
            await page.wait_for_selector("#reference")
            reference = (await page.locator("#reference").inner_text()).strip()
        finally:
            await browser.close()
    opened = await alerts.wait_for(
        lambda e: e.household_id == household and e.change == "opened", what="report alert"
    )
    assert opened.reason == "human_report"
    assert reference.startswith("RPT-")


async def test_a_carriers_offline_notice_through_the_gateway_makes_the_phone_blind(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """A carrier registered in the registry posts a heartbeat and then a device-status notice
    through the gateway; the detector, over the real broker, judges the phone at the floor
    (48 h after its last activity) and says so on the household's channels."""
    household = await new_household(api)
    _, api_key = await new_partner(
        api, "e2e-telecom", "통신사 (e2e)", ["heartbeat", "device_status"]
    )
    key = {"X-Api-Key": api_key}
    detector = f"http://127.0.0.1:{E2E_PORTS['detector']}/v1/households/{household}/channels"

    async def phone_now(done: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for _ in range(150):  # through the broker: the registry's snapshot, the signals
            answer = await api.get(detector)
            if answer.status_code == 200:
                found = answer.json()[0]
                if done(found):
                    break
            await asyncio.sleep(0.2)
        return found

    enrolled = datetime.fromisoformat((await phone_now(bool))["last_active_at"])
    await asyncio.sleep(1.0)  # activity after the enrolment (its window starts then)
    used = datetime.now(UTC)
    common = {"household_id": household, "channel": "phone", "device_id": "phone-e2e"}
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=10.0) as partner:
        beat = {
            **common,
            "kind": "heartbeat",
            "partner_event_id": f"hb-{uuid4()}",
            "occurred_at": used.isoformat(),
            "last_active_at": used.isoformat(),
        }
        assert (await partner.post("/v1/signals", json=beat, headers=key)).status_code == 202
        await asyncio.sleep(1.0)
        gone = datetime.now(UTC)  # switched off after its last use
        notice = {
            **common,
            "kind": "device_status",
            "partner_event_id": f"ds-{uuid4()}",
            "occurred_at": gone.isoformat(),
            "status": "offline",
            "since": gone.isoformat(),
        }
        accepted = await partner.post("/v1/signals", json=notice, headers=key)
        assert accepted.status_code == 202, accepted.text
    phone = await phone_now(lambda p: p["offline_since"] is not None)
    assert phone.get("offline_since") is not None, phone
    assert datetime.fromisoformat(phone["offline_since"]) == gone
    assert enrolled < datetime.fromisoformat(phone["last_active_at"]) == used
    assert datetime.fromisoformat(phone["silent_after"]) == used + timedelta(hours=48)
