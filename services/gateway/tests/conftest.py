"""Gateway test fixtures: a registry and a gateway as real processes, the real broker.

The registry runs without a reachable broker (only its HTTP API is needed: partner keys,
households, logins), so it never joins the shared test broker's consumer groups. The
gateway publishes to the real broker. Every run uses its own partners, keys, household ids
and partner event ids, because topics keep what earlier runs published.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_contracts.topics import TOPICS_BY_NAME
from anbu_runtime.processes import Stack

ROOT = Path(__file__).resolve().parents[3]
SEED = ROOT / "deploy" / "seed" / "demo.yaml"
TOKEN = "gateway-test-service-token"
SECRET = "gateway-test-auth-secret-0123456789abcdef0123"
PORTS = {"registry": 19801, "gateway": 19802, "gateway_kill": 19803}
REGISTRY = f"http://127.0.0.1:{PORTS['registry']}"
GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"
RUN = uuid.uuid4().hex[:8].upper()

_counter = 0


def unique(prefix: str = "") -> str:
    """A string no earlier run used (partner event ids, household id suffixes)."""
    global _counter
    _counter += 1
    return f"{prefix}{RUN}{_counter:05d}"


def household_id() -> str:
    return f"HH-T{unique()}"


async def eventually(read: Any, timeout: float = 15.0) -> Any:
    """``await read()`` until it returns something truthy (reports are sent after the answer)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await read()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


@dataclass(frozen=True)
class Partner:
    partner_id: str
    api_key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}


class Registry:
    """The registry's HTTP API as an administrator (the service token acts as admin)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        )

    def partner(self, kinds: list[str], rate_limit_per_minute: int = 100_000) -> Partner:
        partner_id = f"t-{unique().lower()}"
        created = self.client.post(
            "/v1/partners",
            json={
                "partner_id": partner_id,
                "organisation": "gateway test partner",
                "allowed_kinds": kinds,
                "rate_limit_per_minute": rate_limit_per_minute,
            },
        )
        assert created.status_code == 201, created.text
        issued = self.client.post(f"/v1/partners/{partner_id}/keys", json={"label": "test"})
        assert issued.status_code == 201, issued.text
        body = issued.json()
        return Partner(partner_id, body["api_key"], body["key_id"])

    def revoke(self, key_id: str) -> None:
        assert self.client.delete(f"/v1/partner-keys/{key_id}").status_code == 204

    def household(self, phone: str | None = None, dong: str = "1111051500") -> str:
        people = [{"relation": "resident", "name": "시험 거주자", "phone": phone}] if phone else []
        response = self.client.post(
            "/v1/households",
            json={
                "district_code": dong[:5],
                "dong_code": dong,
                "tier": "high_risk",
                "people": people,
            },
        )
        assert response.status_code == 201, response.text
        found: str = response.json()["id"]
        return found

    def login(self, username: str) -> dict[str, str]:
        response = httpx.post(
            f"{self.url}/v1/auth/login",
            json={"username": username, "password": "anbu-demo-2026"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def gateway_env(kafka_bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        "ANBU_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ANBU_SERVICE_TOKEN": TOKEN,
        "ANBU_AUTH_SECRET": SECRET,
        "ANBU_LOG_LEVEL": "INFO",
        **extra,
    }


@pytest.fixture(scope="session")
def registry(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    bootstrap = "127.0.0.1:9"  # see the module docstring
    stack = Stack(
        var_dir=tmp_path_factory.mktemp("registry-var"),
        ports={"registry": PORTS["registry"]},
        env={
            "ANBU_KAFKA_BOOTSTRAP": bootstrap,
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_AUTH_SECRET": SECRET,
            "ANBU_REGISTRY_SEED_FILE": str(SEED),
        },
    )
    stack.start()
    try:
        stack.wait_ready(timeout=90, path="/healthz")
        registry = Registry(REGISTRY)
        yield registry
        registry.client.close()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def gateway_stack(
    registry: Registry, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    stack = Stack(
        var_dir=tmp_path_factory.mktemp("gateway-var"),
        ports={"registry": PORTS["registry"], "gateway": PORTS["gateway"]},
        env=gateway_env(
            kafka_bootstrap,
            ANBU_GATEWAY_PUBLIC_URL=GATEWAY,
            ANBU_GATEWAY_FILE_CHUNK_ROWS="500",
            ANBU_GATEWAY_KEY_CACHE_SECONDS="1",
        ),
    )
    stack.start(["gateway"])
    try:
        stack.wait_ready(["gateway"], timeout=60)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def gateway(gateway_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=60) as client:
        yield client


class TopicTail:
    """Everything published on a topic after the moment it was opened."""

    def __init__(self, bootstrap: str, name: str) -> None:
        self.name = name
        self.partitions = TOPICS_BY_NAME[name].partitions
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.start: dict[TopicPartition, int] = {}

    async def open(self) -> TopicTail:
        await self.consumer.start()
        tps = [TopicPartition(self.name, p) for p in range(self.partitions)]
        self.consumer.assign(tps)
        self.start = await self.consumer.end_offsets(tps)
        return self

    async def read(self) -> list[Any]:
        """Every record from the opening offsets to the current end (deterministic: anything
        the gateway acknowledged before this call is included)."""
        ends = await self.consumer.end_offsets(list(self.start))
        records: list[Any] = []
        for tp, first in self.start.items():
            if ends[tp] <= first:
                continue
            self.consumer.seek(tp, first)
            while await self.consumer.position(tp) < ends[tp]:
                batch = await self.consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        records.append(record)
        return records

    async def signals(self, **match: str) -> list[Any]:
        model = TOPICS_BY_NAME[self.name].model
        decoded = [model.model_validate_json(r.value) for r in await self.read()]
        return [s for s in decoded if all(getattr(s, k) == v for k, v in match.items())]

    async def close(self) -> None:
        await self.consumer.stop()


@pytest.fixture
async def tail(kafka_bootstrap: str) -> AsyncIterator[Any]:
    opened: list[TopicTail] = []

    async def make(kind: SignalKind | str) -> TopicTail:
        name = SIGNAL_TOPICS[SignalKind(kind)].name if kind in set(SignalKind) else str(kind)
        t = await TopicTail(kafka_bootstrap, name).open()
        opened.append(t)
        return t

    yield make
    for t in opened:
        await t.close()
