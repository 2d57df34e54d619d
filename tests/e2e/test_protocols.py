"""The day-1/day-2 protocol and the emergency protocol, end to end, on an accelerated clock.

Every service runs as a process against a broker of this module's own, all sharing one
clock that runs 1,200 times faster than real time (a day passes in 72 seconds). The
scenarios start together and are checked as the simulated day 2 passes:

(a) the person is confirmed on the day-1 call: no day-2 step runs;
(b) the person is confirmed at the day-2 morning visit: no police step runs;
(c) nobody is found: the missing-person report runs at 14:00 local on day 2;
(d) the detector is killed after day 1 and restarted after day 2 09:00: day 2 happens once;
(e) an SOS produces the 119 notification within 2 seconds of the signal.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml

from anbu_contracts import EscalationEvent, NotificationRequest, TaskEvent
from anbu_runtime.processes import Stack

from .conftest import ROOT, TOKEN, TopicWatcher, kcat_produce, own_broker, started_stack

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SPEED = 1200.0
SEOUL = ZoneInfo("Asia/Seoul")
BASE = 18800
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
OFFICIAL = "W-DEMO001"  # 청운효자동
DONG = "1111051500"


@pytest.fixture(scope="module")
def protocol_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with own_broker(29196, tmp_path_factory.mktemp("protocol-kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def kafka_bootstrap(protocol_kafka: str) -> str:
    return protocol_kafka


@pytest.fixture(scope="module")
def clock_start() -> datetime:
    return datetime(2026, 11, 25, 9, 0, tzinfo=SEOUL).astimezone(UTC)


@pytest.fixture(scope="module")
def world(
    protocol_kafka: str, clock_start: datetime, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("protocol-var")
    seed = yaml.safe_load((ROOT / "deploy" / "seed" / "demo.yaml").read_text(encoding="utf-8"))
    seed["households"] = []  # the scenarios enrol their own (without device channels)
    (var / "seed.yaml").write_text(yaml.safe_dump(seed, allow_unicode=True), encoding="utf-8")
    stack = started_stack(
        var,
        PORTS,
        {
            "ANBU_KAFKA_BOOTSTRAP": protocol_kafka,
            "ANBU_REGISTRY_SEED_FILE": str(var / "seed.yaml"),
            "ANBU_CLOCK_SPEED": str(SPEED),
            "ANBU_CLOCK_START": clock_start.isoformat(),
            "ANBU_CLOCK_EPOCH": datetime.now(UTC).isoformat(),
        },
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def epoch(world: Stack) -> datetime:
    env = world.env
    return datetime.fromisoformat(env["ANBU_CLOCK_EPOCH"])


def sim_now(clock_start: datetime, epoch: datetime) -> datetime:
    return clock_start + (datetime.now(UTC) - epoch) * SPEED


async def until_sim(instant: datetime, clock_start: datetime, epoch: datetime) -> None:
    """Sleep until the shared clock reads ``instant``."""
    ahead = (instant - sim_now(clock_start, epoch)).total_seconds() / SPEED
    await asyncio.sleep(max(ahead, 0.0))


@pytest.fixture(scope="module")
async def scenarios(world: Stack, protocol_kafka: str) -> AsyncIterator[dict[str, Any]]:
    """Enrol the households and trigger their protocols together; watch the topics."""
    watchers = {
        name: await TopicWatcher(protocol_kafka, name).start()
        for name in ("detector.escalation.v1", "outreach.task.v1", "notify.request.v1")
    }
    households = {}
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as api:
        for name in ("a", "b", "c", "d"):
            response = await api.post(
                f"{REGISTRY}/v1/households",
                json={
                    "district_code": DONG[:5],
                    "dong_code": DONG,
                    "tier": "high_risk",
                    "responsible_worker_id": OFFICIAL,
                    "people": [
                        {
                            "relation": "resident",
                            "name": f"시나리오{name}",
                            "phone": "010-0000-3000",
                        },
                        {"relation": "landlord", "name": "집주인", "phone": "010-0000-3001"},
                    ],
                },
            )
            assert response.status_code == 201, response.text
            households[name] = response.json()["id"]
    await asyncio.sleep(1.0)  # the snapshots reach the detector and outreach first
    for household in households.values():
        kcat_produce(
            protocol_kafka,
            "signals.safety-call.v1",
            [(household, _call(household)) for _ in range(3)],
        )
    yield {"households": households, **watchers}
    for watcher in watchers.values():
        await watcher.stop()


HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def _call(household: str) -> str:
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "ai-call-e2e",
            "household_id": household,
            "partner_id": "ai-call-e2e",
            "partner_event_id": f"call-{uuid4()}",
            "kind": "safety_call",
            "outcome": "unanswered",
        }
    )


def steps_of(scenarios: dict[str, Any], household: str) -> list[EscalationEvent]:
    watcher: TopicWatcher = scenarios["detector.escalation.v1"]
    return [
        e for e in watcher.seen if isinstance(e, EscalationEvent) and e.household_id == household
    ]


async def escalation_step(
    scenarios: dict[str, Any],
    household: str,
    step_id: str,
    change: str = "step_executed",
    timeout: float = 120,
) -> EscalationEvent:
    watcher: TopicWatcher = scenarios["detector.escalation.v1"]
    event: EscalationEvent = await watcher.wait_for(
        lambda e: (
            e.household_id == household
            and e.change == change
            and e.step is not None
            and e.step.step_id == step_id
        ),
        timeout=timeout,
        what=f"{step_id} {change} for {household}",
    )
    return event


async def confirm(scenarios: dict[str, Any], household: str, step_id: str, worker: str) -> None:
    """The worker accepts the step's task and records "contact confirmed"."""
    tasks: TopicWatcher = scenarios["outreach.task.v1"]
    task: TaskEvent = await tasks.wait_for(
        lambda e: (
            e.household_id == household
            and e.step_id == step_id
            and e.status == "offered"
            and worker in e.assignees
        ),
        timeout=60,
        what=f"{step_id} task offered to {worker}",
    )
    async with httpx.AsyncClient(headers=HEADERS, timeout=10) as api:
        accepted = await api.post(
            f"{OUTREACH}/v1/tasks/{task.task_id}/accept", json={"worker_id": worker}
        )
        assert accepted.status_code == 200, accepted.text
        done = await api.post(
            f"{OUTREACH}/v1/tasks/{task.task_id}/outcome",
            json={"worker_id": worker, "result": "contact_confirmed", "contact_mode": "visit"},
        )
        assert done.status_code == 201, done.text


async def test_a_confirmed_on_the_day1_call_closes_before_day2(scenarios: dict[str, Any]) -> None:
    household = scenarios["households"]["a"]
    await escalation_step(scenarios, household, "day1.contact")
    await confirm(scenarios, household, "day1.contact", OFFICIAL)
    watcher: TopicWatcher = scenarios["detector.escalation.v1"]
    closed = await watcher.wait_for(
        lambda e: e.household_id == household and e.change == "closed",
        timeout=60,
        what="scenario a closed",
    )
    assert closed.closure == "contact_confirmed"


async def test_d_the_detector_is_killed_after_day1(
    world: Stack, scenarios: dict[str, Any], clock_start: datetime, epoch: datetime
) -> None:
    household = scenarios["households"]["d"]
    day1 = await escalation_step(scenarios, household, "day1.contact")
    assert day1.next_step_id == "day2.visit"
    assert sim_now(clock_start, epoch) < day1.next_step_due_at  # still before day 2
    world.stop(["detector"], kill=True)
    # day 2, 09:00 passes while the detector is down
    await until_sim(day1.next_step_due_at + timedelta(minutes=30), clock_start, epoch)
    assert not [
        e for e in steps_of(scenarios, household) if e.step and e.step.step_id == "day2.visit"
    ]


async def test_d_restarted_the_detector_runs_day2_exactly_once(
    world: Stack, scenarios: dict[str, Any]
) -> None:
    household = scenarios["households"]["d"]
    world.start(["detector"])
    world.wait_ready(["detector"])
    visit = await escalation_step(scenarios, household, "day2.visit", timeout=60)
    assert visit.step.due_at.astimezone(SEOUL).hour == 9
    await asyncio.sleep(5)  # time for a duplicate to show, if there were one
    visits = [
        e
        for e in steps_of(scenarios, household)
        if e.change == "step_executed" and e.step and e.step.step_id == "day2.visit"
    ]
    assert len(visits) == 1


async def test_b_confirmed_at_the_day2_morning_visit_no_police_step(
    scenarios: dict[str, Any], clock_start: datetime, epoch: datetime
) -> None:
    household = scenarios["households"]["b"]
    visit = await escalation_step(scenarios, household, "day2.visit", timeout=90)
    tasks: TopicWatcher = scenarios["outreach.task.v1"]
    team = await tasks.wait_for(
        lambda e: (
            e.household_id == household and e.step_id == "day2.visit" and e.status == "offered"
        ),
        timeout=60,
        what="day-2 team task",
    )
    assert len(team.assignees) == 3  # official, life-support worker, block leader
    await confirm(scenarios, household, "day2.visit", OFFICIAL)
    watcher: TopicWatcher = scenarios["detector.escalation.v1"]
    await watcher.wait_for(
        lambda e: e.household_id == household and e.change == "closed",
        timeout=60,
        what="scenario b closed",
    )
    # past 14:00 on day 2: neither the door nor the missing-person report ran
    afternoon = visit.step.due_at.astimezone(SEOUL).replace(hour=14, minute=30)
    await until_sim(afternoon, clock_start, epoch)
    executed = {
        e.step.step_id
        for e in steps_of(scenarios, household)
        if e.change == "step_executed" and e.step
    }
    assert "day2.missing" not in executed and "day2.door" not in executed


async def test_c_nobody_found_the_missing_person_report_runs_at_1400_local(
    scenarios: dict[str, Any],
) -> None:
    household = scenarios["households"]["c"]
    missing = await escalation_step(scenarios, household, "day2.missing", timeout=120)
    due = missing.step.due_at.astimezone(SEOUL)
    assert (due.hour, due.minute) == (14, 0)
    lateness = missing.step.executed_at - missing.step.due_at
    assert timedelta(0) <= lateness < timedelta(minutes=40)  # 2 real seconds at 1,200×
    kinds = {a.recipient.kind.value for a in missing.step.actions if a.action == "notify"}
    assert "police_liaison" in kinds
    tasks: TopicWatcher = scenarios["outreach.task.v1"]
    report = await tasks.wait_for(
        lambda e: e.household_id == household and e.step_id == "day2.missing",
        timeout=30,
        what="missing-person report task",
    )
    assert report.task_type == "missing_person_report"


async def test_e_an_sos_produces_the_119_notification_within_two_seconds(
    scenarios: dict[str, Any], protocol_kafka: str
) -> None:
    household = scenarios["households"]["a"]
    requests: TopicWatcher = scenarios["notify.request.v1"]
    sos = json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": "button-co",
            "household_id": household,
            "partner_id": "button-co",
            "partner_event_id": f"sos-{uuid4()}",
            "kind": "sos",
            "device_id": "btn-1",
        }
    )
    started = time.perf_counter()
    kcat_produce(protocol_kafka, "signals.sos.v1", [(household, sos)])
    request: NotificationRequest = await requests.wait_for(
        lambda e: e.household_id == household and e.recipient.kind == "fire_liaison",
        timeout=10,
        what="119 notification request",
    )
    elapsed = time.perf_counter() - started
    assert request.urgency == "critical" and request.template == "emergency.liaison_119"
    assert elapsed < 2.0, f"119 notification after {elapsed:.2f} s"
