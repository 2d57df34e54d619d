"""Two detector instances in one consumer group, on a broker of the test's own and PostgreSQL.

The instances split the partitions; one is killed outright; the other takes its households
over, rebuilding their inactivity deadlines from durable state. Every household ends with
exactly one alert: none lost, none twice. A withdrawn consent stops detection at once. SOS
signals go through the priority lane, which follows the group's assignment: one before the
kill and one after it still make exactly one SOS alert per household.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy import create_engine, text

from anbu_contracts import AlertEvent, HouseholdSnapshot
from anbu_contracts.topics import DETECTOR_ALERT, REGISTRY_HOUSEHOLD, SIGNAL_TOPICS, SignalKind
from anbu_runtime.processes import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PORT = 29492
WINDOW_SECONDS = 30


@pytest.fixture(scope="module")
def cluster_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.e2e.conftest import own_broker

    with own_broker(PORT, tmp_path_factory.mktemp("cluster-kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def cluster_db(postgres_url: str) -> str:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS detector_cluster CASCADE"))
        conn.execute(text("CREATE SCHEMA detector_cluster"))
    engine.dispose()
    return f"{postgres_url}?options=-csearch_path%3Ddetector_cluster"


@pytest.fixture(scope="module")
def detectors(
    cluster_kafka: str, cluster_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(
        var_dir=tmp_path_factory.mktemp("cluster-var"),
        ports={"detector-1": 18911, "detector-2": 18912},
        instances={"detector-1": "detector", "detector-2": "detector"},
        env_for={
            "detector-1": {"ANBU_INSTANCE_ID": "detector-1"},
            "detector-2": {"ANBU_INSTANCE_ID": "detector-2"},
        },
        env={"ANBU_KAFKA_BOOTSTRAP": cluster_kafka, "ANBU_DETECTOR_DATABASE_URL": cluster_db},
    )
    stack.start()
    try:
        stack.wait_ready(timeout=90)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def producer(cluster_kafka: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=cluster_kafka, acks="all")
    await p.start()
    yield p
    await p.stop()


def snapshot(household: str, revision: int, channels: list[str]) -> HouseholdSnapshot:
    return HouseholdSnapshot(
        occurred_at=datetime.now(UTC),
        source="registry",
        household_id=household,
        revision=revision,
        district_code="11110",
        dong_code="1111051500",
        tier="high_risk",  # type: ignore[arg-type]
        channels=[{"channel": c, "consent": True} for c in channels],  # type: ignore[misc]
        quiet_hours={"start": "00:00", "end": "00:00"},  # type: ignore[arg-type]
        # a short fixed window (learned rhythms off: they never judge before 8 h)
        rule_overrides={
            "absence.windows_hours.phone": WINDOW_SECONDS / 3600,
            "absence.rhythm.enabled": 0.0,
        },
    )


def heartbeat(household: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": now,
            "source": "telco",
            "household_id": household,
            "partner_id": "telco",
            "partner_event_id": str(uuid4()),
            "kind": "heartbeat",
            "channel": "phone",
            "device_id": "d-1",
            "last_active_at": now,
        }
    ).encode()


def signal(household: str, kind: str, partner: str, **fields: str) -> bytes:
    return json.dumps(
        {
            "event_id": str(uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "source": partner,
            "household_id": household,
            "partner_id": partner,
            "partner_event_id": str(uuid4()),
            "kind": kind,
            **fields,
        }
    ).encode()


def sos(household: str) -> bytes:
    return signal(household, "sos", "button-co", device_id="btn-1")


def call(household: str) -> bytes:
    return signal(household, "safety_call", "ai", outcome="unanswered")


async def alerts_opened(bootstrap: str, expected: set[str], seconds: float) -> list[AlertEvent]:
    """Opened alerts until every expected household has one (then 5 s more, for doubles)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    tps = [TopicPartition(DETECTOR_ALERT.name, p) for p in range(DETECTOR_ALERT.partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    found: list[AlertEvent] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            found += [AlertEvent.model_validate_json(r.value) for r in records]
        if expected <= {a.household_id for a in found if a.change == "opened"}:
            deadline = min(deadline, loop.time() + 5)
    await consumer.stop()
    return [a for a in found if a.change == "opened"]


async def test_a_killed_instance_loses_no_household_and_no_alert_is_doubled(
    detectors: Stack, producer: AIOKafkaProducer, cluster_kafka: str
) -> None:
    tag = uuid4().hex[:6].upper()
    watched = [f"HH-W{tag}{n:03d}" for n in range(48)]
    withdrawn = watched[:6]  # these withdraw phone consent before their window ends
    called = [f"HH-C{tag}{n:03d}" for n in range(24)]
    pressed = [f"HH-S{tag}{n:03d}" for n in range(24)]  # an SOS before the kill and after
    for household in watched + called + pressed:
        channels = [] if household in pressed else ["phone"]  # no absence alert for these
        await producer.send(
            REGISTRY_HOUSEHOLD.name,
            snapshot(household, 1, channels).model_dump_json().encode(),
            key=household.encode(),
        )
    for household in watched:
        await producer.send(
            SIGNAL_TOPICS[SignalKind.HEARTBEAT].name, heartbeat(household), key=household.encode()
        )
    await producer.flush()
    await asyncio.sleep(3)
    for household in pressed:
        await producer.send(
            SIGNAL_TOPICS[SignalKind.SOS].name, sos(household), key=household.encode()
        )
    for household in withdrawn:
        await producer.send(
            REGISTRY_HOUSEHOLD.name,
            snapshot(household, 2, []).model_dump_json().encode(),
            key=household.encode(),
        )
    await producer.flush()

    detectors.stop(["detector-1"], kill=True)  # no goodbye: the group notices by timeout

    for household in called:  # signals keep arriving while the group rebalances
        for _ in range(3):
            await producer.send(
                SIGNAL_TOPICS[SignalKind.SAFETY_CALL].name, call(household), key=household.encode()
            )
            await asyncio.sleep(0.01)
    for household in pressed:
        await producer.send(
            SIGNAL_TOPICS[SignalKind.SOS].name, sos(household), key=household.encode()
        )
    await producer.flush()

    expected = set(watched) - set(withdrawn) | set(called)
    opened = await alerts_opened(cluster_kafka, expected | set(pressed), WINDOW_SECONDS + 60)
    by_household = Counter(a.household_id for a in opened if a.reason == "safety_not_confirmed")
    missing, unexpected = expected - set(by_household), set(by_household) - expected
    assert not missing and not unexpected, (
        f"missing {sorted(missing)}, unexpected {sorted(unexpected)}"
    )
    assert max(by_household.values()) == 1, [h for h, n in by_household.items() if n > 1]
    by_sos = Counter(a.household_id for a in opened if a.reason == "sos")
    assert set(by_sos) == set(pressed), f"missing {sorted(set(pressed) - set(by_sos))}"
    assert max(by_sos.values()) == 1, [h for h, n in by_sos.items() if n > 1]
    log = (detectors.var_dir / "log" / "detector-2.log").read_text()
    assert (
        "partitions loaded" in log and '"partitions": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]' in log
    )
