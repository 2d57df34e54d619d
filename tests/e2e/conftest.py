"""End-to-end fixtures: every service as a process against the real broker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel

from anbu_contracts.topics import DLQ_PARTITIONS, TOPICS_BY_NAME
from anbu_runtime.processes import Stack

ROOT = Path(__file__).resolve().parents[2]
# Set ANBU_E2E_PORT_BASE to run two end-to-end sessions side by side.
_BASE = int(os.environ.get("ANBU_E2E_PORT_BASE", "18700"))
E2E_PORTS = {
    "console": _BASE,
    "registry": _BASE + 1,
    "gateway": _BASE + 2,
    "detector": _BASE + 3,
    "outreach": _BASE + 4,
    "notifier": _BASE + 5,
}
TOKEN = "e2e-service-token"


@contextmanager
def own_broker(port: int, directory: Path) -> Iterator[str]:
    """A broker of its own (empty topics, no other test's records), stopped afterwards.

    The broker listens on ``port`` and its KRaft controller on ``port + 1``. Ports in use by
    the suite: 29092 shared, 29192 e2e, 29196 protocols, 29292 field app, 29492 detector
    cluster, 29692 console browser, 29892 Prometheus scrape, 29992 API fuzzing (29592 and
    29792 are the benchmarks' and the simulator's).
    """
    env = dict(
        os.environ, ANBU_KAFKA_PORT=str(port), ANBU_KAFKA_DIR=str(directory), ANBU_KAFKA_HEAP="512m"
    )
    script = str(ROOT / "deploy" / "kafka.sh")
    subprocess.run([script, "start"], env=env, check=True)
    bootstrap = f"127.0.0.1:{port}"
    try:
        subprocess.run(
            [sys.executable, "-m", "anbu_runtime.topic_admin", "create", "--bootstrap", bootstrap],
            check=True,
        )
        yield bootstrap
    finally:
        subprocess.run([script, "stop"], env=env, check=False)


def started_stack(var_dir: Path, ports: dict[str, int], env: dict[str, str]) -> Stack:
    """Every service (or ANBU_E2E_SERVICES) as processes, ready."""
    stack = Stack(
        var_dir=var_dir, ports=ports, env={"ANBU_ENV": "dev", "ANBU_SERVICE_TOKEN": TOKEN, **env}
    )
    names = [n for n in os.environ.get("ANBU_E2E_SERVICES", ",".join(ports)).split(",") if n]
    stack.start(names)
    try:
        stack.wait_ready(names, timeout=120)
    except BaseException:
        stack.stop()
        raise
    return stack


@pytest.fixture(scope="session")
def e2e_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = int(os.environ.get("ANBU_E2E_KAFKA_PORT", "29192"))  # not the shared 29092
    with own_broker(port, tmp_path_factory.mktemp("e2e-kafka")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def kafka_bootstrap(e2e_kafka: str) -> str:
    """In the end-to-end scenarios every Kafka client uses their own broker."""
    return e2e_kafka


@pytest.fixture(scope="session")
def stack(e2e_kafka: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = started_stack(
        tmp_path_factory.mktemp("e2e-var"),
        E2E_PORTS,
        {
            "ANBU_KAFKA_BOOTSTRAP": e2e_kafka,
            "ANBU_REGISTRY_SEED_FILE": str(ROOT / "deploy" / "seed" / "demo.yaml"),
        },
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10.0
    ) as client:
        yield client


class TopicWatcher:
    """Reads a topic from the offsets it had when the watcher was created."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = TOPICS_BY_NAME.get(topic)
        self.name = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.seen: list[Any] = []

    async def start(self) -> TopicWatcher:
        await self.consumer.start()
        count = (
            DLQ_PARTITIONS if self.name.endswith(".dlq") else TOPICS_BY_NAME[self.name].partitions
        )
        tps = [TopicPartition(self.name, p) for p in range(count)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)  # pin the start before anything is produced
        return self

    async def wait_for(
        self, predicate: Callable[[Any], bool], timeout: float = 30.0, what: str = ""
    ) -> Any:
        for item in self.seen:
            if predicate(item):
                return item
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            batches = await self.consumer.getmany(timeout_ms=500)
            # Keep the whole batch before answering: records after the match belong to later
            # waits (returning mid-batch dropped them, and a later wait missed its event).
            fetched = [self._decode(r) for records in batches.values() for r in records]
            self.seen.extend(fetched)
            for item in fetched:
                if predicate(item):
                    return item
        raise AssertionError(f"nothing on {self.name} matched {what or predicate} in {timeout} s")

    def _decode(self, record: Any) -> Any:
        if self.topic is not None and record.value is not None:
            model: type[BaseModel] = self.topic.model
            return model.model_validate_json(record.value)
        return record

    async def stop(self) -> None:
        await self.consumer.stop()


@pytest.fixture
async def watch(kafka_bootstrap: str) -> AsyncIterator[Callable[[str], Any]]:
    watchers: list[TopicWatcher] = []

    async def make(topic: str) -> TopicWatcher:
        watcher = await TopicWatcher(kafka_bootstrap, topic).start()
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        await watcher.stop()


def kcat_produce(bootstrap: str, topic: str, lines: list[tuple[str, str]]) -> None:
    """Produce keyed records with kcat, as a partner would (key TAB value per line)."""
    payload = "".join(f"{key}\t{value}\n" for key, value in lines)
    subprocess.run(
        ["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-X", "acks=all"],
        input=payload.encode(),
        check=True,
        env=dict(os.environ),
        timeout=30,
    )
