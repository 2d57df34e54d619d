"""Fault test: a flaky gateway and a killed notifier, and still every message exactly once.

Real processes and a real broker: the registry (resolving recipients, audited) and the
notifier run as ``python -m anbu_<name>``; requests go through ``notify.request.v1`` on the
test broker; the SMS gateway is a local HTTP server that is down for the first seconds,
fails 5 % of calls at random, and posts signed delivery receipts back to the notifier.
The notifier is killed (SIGKILL) in the middle of the batch and started again while more
requests arrive.

The registry is started without a reachable broker on purpose: this test needs its HTTP
API only, and its consumer group must not join the shared test broker's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from notifier_fakes.kafka import produce, resident_request, start_group_at_the_end
from notifier_fakes.provider import FakeProvider

from anbu_contracts import (
    NotificationRequest,
    NotificationStatusEvent,
)
from anbu_contracts.topics import DLQ_PARTITIONS, NOTIFY_REQUEST, NOTIFY_STATUS
from anbu_runtime.processes import Stack

pytestmark = pytest.mark.integration

PORTS = {"registry": 19711, "outreach": 19714, "notifier": 19715}  # outreach: not started
TOKEN = "fault-test-token"
REGISTRY = f"http://127.0.0.1:{PORTS['registry']}"
NOTIFIER = f"http://127.0.0.1:{PORTS['notifier']}"
RECEIPT_SECRET = "fault-receipt-secret"
FIRST_WAVE = 40
SECOND_WAVE = 20


@dataclass
class Fixture:
    bootstrap: str
    registry: Stack
    notifier: Stack
    provider: FakeProvider
    group: str


class Topic:
    """Reads one topic from the end offsets it had when it was opened."""

    def __init__(self, bootstrap: str, name: str, partitions: int) -> None:
        self.name = name
        self.partitions = partitions
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.records: list[Any] = []

    async def open(self) -> Topic:
        await self.consumer.start()
        tps = [TopicPartition(self.name, p) for p in range(self.partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        return self

    async def poll(self) -> None:
        for records in (await self.consumer.getmany(timeout_ms=200)).values():
            self.records.extend(records)

    def statuses(self) -> list[NotificationStatusEvent]:
        return [NotificationStatusEvent.model_validate_json(r.value) for r in self.records]

    async def close(self) -> None:
        await self.consumer.stop()


def wait_healthy(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=2.0) as client:
        while True:
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not come up")
            time.sleep(0.2)


@pytest.fixture(scope="module")
def fault(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    var_dir = tmp_path_factory.mktemp("notifier-fault")
    run = uuid4().hex[:8]
    group = f"notifier-fault-{run}"
    asyncio.run(start_group_at_the_end(kafka_bootstrap, group))
    provider = FakeProvider("fault-key").start()
    provider.state.receipt_url = f"{NOTIFIER}/v1/receipts/sms"
    provider.state.receipt_secret = RECEIPT_SECRET
    common = {"ANBU_SERVICE_TOKEN": TOKEN, "ANBU_LOG_LEVEL": "INFO"}
    registry = Stack(
        var_dir=var_dir, ports=PORTS, env={**common, "ANBU_KAFKA_BOOTSTRAP": "127.0.0.1:9"}
    )
    notifier = Stack(
        var_dir=var_dir,
        ports=PORTS,
        env={
            **common,
            "ANBU_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "ANBU_INSTANCE_ID": f"notifier-fault-{run}",  # stable across the restart
            "ANBU_NOTIFIER_CONSUMER_GROUP": group,
            "ANBU_NOTIFIER_ENABLED_CHANNELS": '["sms"]',
            "ANBU_NOTIFIER_DEFAULT_CHANNEL": "sms",
            "ANBU_NOTIFIER_SMS__BASE_URL": provider.url,
            "ANBU_NOTIFIER_SMS__API_KEY": "fault-key",
            "ANBU_NOTIFIER_SMS__SENDER": "0212345678",
            "ANBU_NOTIFIER_SMS__RECEIPT_SECRET": RECEIPT_SECRET,
            "ANBU_NOTIFIER_SMS__TIMEOUT_S": "1",
            "ANBU_NOTIFIER_SMS__RATE_PER_SECOND": "25",  # so a kill lands mid-batch
            "ANBU_NOTIFIER_SMS__BURST": "5",
            "ANBU_NOTIFIER_RETRY_ATTEMPTS": "12",
            "ANBU_NOTIFIER_RETRY_BASE_S": "0.1",
            "ANBU_NOTIFIER_RETRY_MAX_S": "1",
            "ANBU_NOTIFIER_POLL_S": "0.2",
        },
    )
    try:
        registry.start(["registry"])
        wait_healthy(REGISTRY)
        notifier.start(["notifier"])
        notifier.wait_ready(["notifier"], timeout=60)
        yield Fixture(kafka_bootstrap, registry, notifier, provider, group)
    finally:
        notifier.stop()
        registry.stop()
        provider.stop()


async def register_households(count: int) -> list[tuple[str, str]]:
    """Households with one resident each; returns (household id, phone number)."""
    made: list[tuple[str, str]] = []
    async with httpx.AsyncClient(
        base_url=REGISTRY, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10.0
    ) as client:
        for _ in range(count):
            household = "HH-FT" + uuid4().hex[:10].upper()
            digits = f"{uuid4().int % 10**8:08d}"
            phone = f"010-{digits[:4]}-{digits[4:]}"
            response = await client.post(
                "/v1/households",
                json={
                    "household_id": household,
                    "district_code": "11110",
                    "dong_code": "1111051500",
                    "tier": "high_risk",
                    "people": [{"relation": "resident", "name": "시험가구", "phone": phone}],
                },
            )
            assert response.status_code == 201, response.text
            made.append((household, phone))
    return made


def request_for(household: str, *, template: str = "safety_check.day1_text") -> NotificationRequest:
    key = f"fault:{household}:{uuid4().hex[:6]}"
    return resident_request(household, key, source="fault-test", template=template)


async def until(
    condition: Callable[[], object], seconds: float, what: str, topic: Topic | None = None
) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if topic is not None:
            await topic.poll()
        else:
            await asyncio.sleep(0.01)


@pytest.fixture
async def statuses(fault: Fixture) -> AsyncIterator[Topic]:
    topic = await Topic(fault.bootstrap, NOTIFY_STATUS.name, NOTIFY_STATUS.partitions).open()
    yield topic
    await topic.close()


async def test_a_flaky_gateway_and_a_killed_notifier_still_deliver_every_message_once(
    fault: Fixture, statuses: Topic
) -> None:
    households = await register_households(FIRST_WAVE + SECOND_WAVE)
    first = [request_for(h) for h, _ in households[:FIRST_WAVE]]
    second = [request_for(h) for h, _ in households[FIRST_WAVE:]]
    keys = {r.request_key for r in first + second}
    state = fault.provider.state
    state.failure_rate = 0.05
    state.down_until = time.monotonic() + 2.0  # the gateway is down for the first 2 s

    await produce(fault.bootstrap, first)
    await until(lambda: len(state.accepted()) >= 10, 60, "the first messages")
    fault.notifier.stop(["notifier"], kill=True)  # SIGKILL in the middle of the batch
    killed_at = len(state.accepted())
    await produce(fault.bootstrap, second)  # arrives while the notifier is dead
    fault.notifier.start(["notifier"])
    fault.notifier.wait_ready(["notifier"], timeout=60)

    def delivered() -> set[str]:
        return {e.request_key for e in statuses.statuses() if e.status.value == "delivered"}

    await until(lambda: keys <= delivered(), 120, "every request delivered", statuses)

    stats = state.stats()
    ours = [e for e in statuses.statuses() if e.request_key in keys]
    print(
        f"\nkilled after {killed_at} of {FIRST_WAVE}; gateway: {stats}; "
        f"statuses: {len(ours)} for {len(keys)} requests"
    )
    assert 0 < killed_at < FIRST_WAVE, "the kill must land in the middle of the batch"
    assert stats["accepted"] == len(keys)  # every message once ...
    assert stats["duplicates"] == 0  # ... and never the same text to the same phone twice
    assert sorted(m.to for m in state.accepted()) == sorted(
        p.replace("-", "") for _, p in households
    )
    assert stats["injected_failures"] > 0 or any(s != 202 for _, _, s in state.calls)
    assert not [e for e in ours if e.status.value == "failed"]
    # Personal data never reached the notifier's log.
    log = (fault.notifier.var_dir / "log" / "notifier.log").read_text(encoding="utf-8")
    assert "request accepted" in log
    assert not [p for _, p in households if p in log or p.replace("-", "") in log]


async def test_a_request_that_violates_the_contract_goes_to_the_dead_letter_topic(
    fault: Fixture, statuses: Topic
) -> None:
    dead = await Topic(fault.bootstrap, f"{NOTIFY_REQUEST.name}.dlq", DLQ_PARTITIONS).open()
    try:
        [(household, phone)] = await register_households(1)
        broken = request_for(household, template="no.such.template")
        await produce(fault.bootstrap, [broken])

        def dead_lettered() -> list[Any]:
            return [r for r in dead.records if r.key == broken.request_key.encode()]

        await until(lambda: dead_lettered(), 60, "the dead letter", dead)
        [record] = dead_lettered()
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dlq.service"] == "notifier"
        assert headers["dlq.reason"] == "contract"
        assert "no.such.template" in headers["dlq.error"]

        def reported() -> list[NotificationStatusEvent]:
            return [e for e in statuses.statuses() if e.request_key == broken.request_key]

        await until(lambda: reported(), 30, "the failed status", statuses)
        assert [e.status.value for e in reported()] == ["failed"]
        assert phone.replace("-", "") not in {m.to for m in fault.provider.state.accepted()}
    finally:
        await dead.close()
