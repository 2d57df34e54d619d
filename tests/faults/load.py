"""A steady load of crisis signals, and the end-to-end count of what it caused.

Each household of a cohort is registered through the registry, then gets three unanswered
safety calls, half through the gateway as a partner posts them (over HTTP, alternating
instances, retrying on the other one with the same ``partner_event_id`` when a connection
fails: the partner contract's idempotency) and half straight to the signal topic as a
partner's Kafka producer would. Three unanswered calls open exactly one alert, whose
"safety not confirmed" protocol runs its day-1 step exactly once: one follow-up task and
one text to the resident, among the notifications.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import yaml
from aiokafka import AIOKafkaProducer

from anbu_contracts import AlertEvent, EscalationEvent, NotificationRequest, TaskEvent
from anbu_contracts.notify import NotificationStatusEvent
from anbu_contracts.topics import (
    DETECTOR_ALERT,
    DETECTOR_ESCALATION,
    NOTIFY_REQUEST,
    NOTIFY_STATUS,
    OUTREACH_TASK,
    SIGNAL_TOPICS,
    SignalKind,
)

from .city import INSTANCES, ROOT, TOKEN, City, consumer_lag, read_topic

DONG = "1111051500"  # the seed has an official, a life-support worker and volunteers here
OFFICIAL = "W-DEMO001"
PARTNER = "faults-ai-call"
DAY1 = "day1.contact"


def unanswered_call(household: str, hours_ago: float) -> dict[str, str]:
    return {
        "kind": "safety_call",
        "household_id": household,
        "partner_event_id": f"call-{uuid4()}",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=hours_ago)).isoformat(),
        "outcome": "unanswered",
    }


@dataclass
class Load:
    """Signals into the city: households, a partner key, a Kafka producer."""

    city: City
    api_key: str = ""
    producer: AIOKafkaProducer | None = None
    signals_sent: int = 0
    gateway_retries: int = 0
    registered: list[str] = field(default_factory=list)

    async def start(self) -> Load:
        async with self._service_client() as api:
            created = await api.post(
                "/v1/partners",
                json={
                    "partner_id": PARTNER,
                    "organisation": "AI 안부전화 (fault tests)",
                    "allowed_kinds": ["safety_call"],
                    "rate_limit_per_minute": 60000,
                },
            )
            assert created.status_code in (201, 409), created.text
            issued = await api.post(f"/v1/partners/{PARTNER}/keys", json={"label": "faults"})
            assert issued.status_code == 201, issued.text
            self.api_key = issued.json()["api_key"]
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.city.kafka.bootstrap, acks="all", enable_idempotence=True
        )
        await self.producer.start()
        return self

    async def stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    def _service_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.city.front_url("registry"),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=15.0,
        )

    async def households(self, count: int) -> list[str]:
        """Register ``count`` households (before the fault: a retried POST would register a
        second household, so the cohort is created while the registry is healthy)."""
        async with self._service_client() as api:

            async def one(n: int) -> str:
                response = await api.post(
                    "/v1/households",
                    json={
                        "district_code": "11110",
                        "dong_code": DONG,
                        "tier": "high_risk",
                        "responsible_worker_id": OFFICIAL,
                        "channels": [{"channel": "phone", "consent": True}],
                        "people": [
                            {"relation": "resident", "name": "시험가구", "phone": "010-0000-4242"}
                        ],
                    },
                )
                assert response.status_code == 201, response.text
                return str(response.json()["id"])

            households = list(await asyncio.gather(*(one(n) for n in range(count))))
        self.registered += households
        return households

    async def stream(self, households: list[str], seconds: float) -> None:
        """Three unanswered calls per household, spread evenly over ``seconds``."""
        gap = seconds / max(1, len(households))
        async with httpx.AsyncClient(timeout=10.0) as http:
            pending = []
            for n, household in enumerate(households):
                calls = [unanswered_call(household, h) for h in (3, 2, 1)]
                if n % 2:
                    pending.append(asyncio.create_task(self._via_gateway(http, n, calls)))
                else:
                    await self._via_kafka(household, calls)
                await asyncio.sleep(gap)
            await asyncio.gather(*pending)
        assert self.producer is not None
        await self.producer.flush()

    async def _via_kafka(self, household: str, calls: list[dict[str, str]]) -> None:
        assert self.producer is not None
        topic = SIGNAL_TOPICS[SignalKind.SAFETY_CALL].name
        for call in calls:
            event = {
                **call,
                "event_id": str(uuid4()),
                "source": PARTNER,
                "partner_id": PARTNER,
            }
            await self.producer.send(topic, json.dumps(event).encode(), key=household.encode())
            self.signals_sent += 1

    async def _via_gateway(
        self, http: httpx.AsyncClient, n: int, calls: list[dict[str, str]]
    ) -> None:
        for call in calls:  # in order: the detector's streak needs all three
            give_up_at = time.monotonic() + 120  # a partner retries for minutes, with backoff
            for attempt in itertools.count():
                if time.monotonic() > give_up_at:
                    raise AssertionError(f"the gateway never took {call['partner_event_id']}")
                number = INSTANCES[(n // 2 + attempt) % len(INSTANCES)]  # n is odd here
                try:
                    response = await http.post(
                        f"{self.city.url('gateway', number)}/v1/signals",
                        json=call,
                        headers={"X-Api-Key": self.api_key},
                    )
                except httpx.TransportError:
                    # The instance is down (or died mid-request): the partner tries the
                    # other one with the same partner_event_id, which the gateway dedups.
                    self.gateway_retries += 1
                    await asyncio.sleep(0.2)
                    continue
                if response.status_code >= 500:
                    self.gateway_retries += 1
                    await asyncio.sleep(0.2)
                    continue
                assert response.status_code in (200, 202), response.text
                assert response.json()["outcome"] in ("accepted", "duplicate"), response.text
                self.signals_sent += 1
                break


@dataclass
class Count:
    """One kind of record: how many were due, found, lost and found twice."""

    kind: str
    produced: int
    processed: int
    lost: int
    duplicated: int


@dataclass
class Figures:
    case: str
    signals: int
    counts: list[Count] = field(default_factory=list)
    recovery_s: float = 0.0
    # What was still not ready or lagging when the wait ended (empty when recovered).
    unrecovered: str = ""

    @property
    def lost(self) -> int:
        return sum(c.lost for c in self.counts)

    @property
    def duplicated(self) -> int:
        return sum(c.duplicated for c in self.counts)

    def rows(self) -> list[str]:
        return [
            f"{self.case:<28} {c.kind:<16} {c.produced:>8} {c.processed:>9} {c.lost:>5}"
            f" {c.duplicated:>10} {self.recovery_s:>10.1f}"
            for c in self.counts
        ]


HEADER = (
    f"{'case':<28} {'record':<16} {'produced':>8} {'processed':>9} {'lost':>5}"
    f" {'duplicated':>10} {'recovery s':>10}"
)


def _count(kind: str, due: Iterable[str], found: dict[str, set[str]]) -> Count:
    """``found`` maps each due key to the distinct records (ids) that carried it out."""
    due = list(due)
    processed = sum(1 for key in due if found.get(key))
    extra = sum(len(found[key]) - 1 for key in due if len(found.get(key, ())) > 1)
    return Count(kind, len(due), processed, len(due) - processed, extra)


async def tally(city: City, households: list[str]) -> list[Count]:
    """Alerts, day-1 steps, tasks and messages of ``households``, read off the topics and
    the notifier's sink (what residents received)."""
    bootstrap = city.kafka.bootstrap
    wanted = set(households)
    alerts: dict[str, set[str]] = defaultdict(set)
    for raw in await read_topic(bootstrap, DETECTOR_ALERT.name, DETECTOR_ALERT.partitions):
        alert = AlertEvent.model_validate_json(raw)
        if (
            alert.household_id in wanted
            and alert.change == "opened"
            and alert.reason == "safety_not_confirmed"
        ):
            # Two alert ids, or one alert opened by two distinct events, is a double.
            alerts[alert.household_id].add(f"{alert.alert_id}/{alert.event_id}")
    steps: dict[str, set[str]] = defaultdict(set)
    escalations: dict[str, str] = {}
    for raw in await read_topic(
        bootstrap, DETECTOR_ESCALATION.name, DETECTOR_ESCALATION.partitions
    ):
        event = EscalationEvent.model_validate_json(raw)
        if event.household_id not in wanted:
            continue
        escalations[str(event.escalation_id)] = event.household_id
        if event.change == "step_executed" and event.step and event.step.step_id == DAY1:
            steps[event.household_id].add(f"{event.escalation_id}/{event.event_id}")
    tasks: dict[str, set[str]] = defaultdict(set)
    for raw in await read_topic(bootstrap, OUTREACH_TASK.name, OUTREACH_TASK.partitions):
        task = TaskEvent.model_validate_json(raw)
        if task.household_id in wanted and task.step_id == DAY1:
            tasks[task.household_id].add(str(task.task_id))
    requested: set[str] = set()
    for raw in await read_topic(bootstrap, NOTIFY_REQUEST.name, NOTIFY_REQUEST.partitions):
        request = NotificationRequest.model_validate_json(raw)
        if request.household_id in wanted or request.request_key.split(":")[0] in escalations:
            requested.add(request.request_key)
    # Every text due to a resident of the cohort was requested (one per escalation).
    due_texts = {f"{esc}:{DAY1}:text-resident" for esc in escalations}
    statuses: dict[str, set[str]] = defaultdict(set)
    for raw in await read_topic(bootstrap, NOTIFY_STATUS.name, NOTIFY_STATUS.partitions):
        status = NotificationStatusEvent.model_validate_json(raw)
        if status.request_key in requested | due_texts and status.status == "delivered":
            statuses[status.request_key].add(str(status.event_id))
    sent: dict[str, set[str]] = defaultdict(set)
    sink = city.var_dir / "notifier" / "sink.jsonl"
    lines = sink.read_text(encoding="utf-8").splitlines() if sink.exists() else []
    for number, line in enumerate(lines):
        key = json.loads(line).get("request_key", "")
        if key in requested | due_texts:
            sent[key].add(str(number))  # each line is one message a person received
    messages = sorted(requested | due_texts)
    # The services' own records, read from their databases.
    listed = ",".join(f"'{h}'" for h in households)  # ids the registry generated: HH-…
    db_alerts = city.postgres.grouped(
        "detector",
        "SELECT household_id, alert_id FROM alert"
        f" WHERE household_id IN ({listed}) AND reason = 'safety_not_confirmed'",
    )
    db_tasks = city.postgres.grouped(
        "outreach",
        "SELECT household_id, task_id FROM outreach_task"
        f" WHERE household_id IN ({listed}) AND step_id = '{DAY1}'",
    )
    db_deliveries = city.postgres.grouped(
        "notifier", "SELECT request_key, channel_index FROM delivery WHERE state = 'delivered'"
    )
    return [
        _count("alerts", households, alerts),
        _count("escalation steps", households, steps),
        _count("tasks", households, tasks),
        _count("messages sent", messages, sent),
        _count("delivery reports", messages, statuses),
        _count("alerts (db)", households, db_alerts),
        _count("tasks (db)", households, db_tasks),
        _count("deliveries (db)", messages, db_deliveries),
    ]


async def settle(city: City, households: list[str], fault_at: float, timeout: float) -> Figures:
    """Wait until every service is ready, the lag is 0 and nothing is missing, then count.

    Recovery time is from the fault to the first moment every instance answered /readyz
    and every consumer group had consumed the topics to their end.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    recovered_at: float | None = None
    unrecovered = ""
    while loop.time() < deadline:
        if recovered_at is None:
            unready = await asyncio.to_thread(city.unready)
            try:
                lags = await consumer_lag(city.kafka.bootstrap) if not unready else {}
            except Exception as exc:  # a broker still coming back: not recovered yet
                lags = {type(exc).__name__: 1}
            unrecovered = f"unready {sorted(unready)}, lag {lags}"
            if not unready and not any(lags.values()):
                recovered_at = time.monotonic()
                unrecovered = ""
        if recovered_at is not None:
            counts = await tally(city, households)
            if not any(c.lost for c in counts):
                break
        await asyncio.sleep(1.0)
    # Late doubles (a redelivered batch) land after the first complete count: look again.
    await asyncio.sleep(3.0)
    counts = await tally(city, households)
    return Figures(
        "",
        0,
        counts,
        (recovered_at - fault_at) if recovered_at is not None else float("inf"),
        unrecovered,
    )


PROTOCOL = ROOT / "services/detector/src/anbu_detector/config/protocols/safety-not-confirmed.yaml"
DECIDED = ("step_executed", "step_skipped", "step_awaiting_approval")


@dataclass
class Steps:
    """The protocol steps decided for the escalations of some households, in topic order."""

    sequence: dict[str, list[tuple[str, str]]]  # escalation → [(step id, event id)]
    next_due: dict[str, datetime]  # escalation → when its next step is due (latest event)


async def protocol_steps(city: City, households: list[str]) -> Steps:
    wanted = set(households)
    sequence: dict[str, list[tuple[str, str]]] = defaultdict(list)
    next_due: dict[str, datetime] = {}
    for raw in await read_topic(
        city.kafka.bootstrap, DETECTOR_ESCALATION.name, DETECTOR_ESCALATION.partitions
    ):
        event = EscalationEvent.model_validate_json(raw)
        if event.household_id not in wanted:
            continue
        escalation = str(event.escalation_id)
        if event.change in DECIDED and event.step is not None:
            entry = (event.step.step_id, str(event.event_id))
            if entry not in sequence[escalation]:  # a redelivered event is the same decision
                sequence[escalation].append(entry)
        if event.next_step_due_at is not None:
            next_due[escalation] = event.next_step_due_at
    return Steps(dict(sequence), next_due)


def day2_counts(steps: Steps, tasks: dict[str, set[str]]) -> list[Count]:
    """Every day-2 step decided once per escalation, and its tasks created once."""
    order = [s["id"] for s in yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))["steps"]]
    day2 = [step for step in order if step.startswith("day2.")]
    found: dict[str, set[str]] = defaultdict(set)
    for escalation, entries in steps.sequence.items():
        for step, event_id in entries:
            found[f"{escalation}/{step}"].add(event_id)
    due = [f"{esc}/{step}" for esc in steps.sequence for step in day2]
    due_tasks = [
        f"{esc}/{step}" for esc in steps.sequence for step in ("day2.visit", "day2.missing")
    ]
    return [_count("day-2 steps", due, found), _count("day-2 tasks", due_tasks, tasks)]


def out_of_order(steps: Steps) -> dict[str, list[str]]:
    """Escalations whose decided steps are not in the protocol's order."""
    order = [s["id"] for s in yaml.safe_load(PROTOCOL.read_text(encoding="utf-8"))["steps"]]
    wrong = {}
    for escalation, entries in steps.sequence.items():
        ids = [step for step, _ in entries]
        if ids != sorted(ids, key=order.index):
            wrong[escalation] = ids
    return wrong


async def day2_tasks(city: City, households: list[str]) -> dict[str, set[str]]:
    """Tasks of day-2 steps, by escalation/step."""
    wanted = set(households)
    tasks: dict[str, set[str]] = defaultdict(set)
    for raw in await read_topic(city.kafka.bootstrap, OUTREACH_TASK.name, OUTREACH_TASK.partitions):
        task = TaskEvent.model_validate_json(raw)
        if task.household_id in wanted and (task.step_id or "").startswith("day2."):
            tasks[f"{task.escalation_id}/{task.step_id}"].add(str(task.task_id))
    return tasks
