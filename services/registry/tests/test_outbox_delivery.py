"""The outbox on a real broker: a crash delays a snapshot, never loses it; case events flow."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from anbu_contracts import CaseChange, CaseEvent, HouseholdSnapshot
from anbu_contracts.topics import REGISTRY_CASE, REGISTRY_HOUSEHOLD
from anbu_registry.bootstrap import RegistrySettings, create
from anbu_runtime.settings import CommonSettings

from .conftest import SECRET, SERVICE_TOKEN

pytestmark = pytest.mark.integration


def settings(tmp_path: Path, bootstrap: str) -> tuple[CommonSettings, RegistrySettings]:
    common = CommonSettings(
        kafka_bootstrap=bootstrap, var_dir=tmp_path, service_token=SERVICE_TOKEN, auth_secret=SECRET
    )
    return common, RegistrySettings(database_url=f"sqlite:///{tmp_path / 'registry.db'}")


async def test_a_snapshot_committed_while_the_broker_was_unreachable_is_published_after_restart(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    # 1. The household is committed, but the broker cannot be reached: the process ends
    #    (as in a crash) with the snapshot still in its outbox.
    runtime, app = create(*settings(tmp_path, "127.0.0.1:9"))
    with TestClient(app) as client:
        response = client.post(
            "/v1/households",
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            json={"district_code": "11110", "dong_code": "1111051500", "tier": "watch"},
        )
        assert response.status_code == 201
        household_id = response.json()["id"]
    outbox = runtime.tables.outbox
    with runtime.db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 1

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [
        TopicPartition(REGISTRY_HOUSEHOLD.name, p) for p in range(REGISTRY_HOUSEHOLD.partitions)
    ]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)

    # 2. The registry restarts with the broker reachable: the relay publishes the row.
    restarted, app = create(*settings(tmp_path, kafka_bootstrap))
    found: list[HouseholdSnapshot] = []
    try:
        with TestClient(app):
            deadline = time.monotonic() + 30
            while not found and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found += [
                        s
                        for s in (HouseholdSnapshot.model_validate_json(r.value) for r in records)
                        if s.household_id == household_id
                    ]
                await asyncio.sleep(0)
            with restarted.db.engine.connect() as conn:
                for _ in range(50):
                    if conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 0:
                        break
                    await asyncio.sleep(0.1)
                remaining = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    finally:
        await consumer.stop()
    assert [s.household_id for s in found] == [household_id]
    assert remaining == 0


async def test_an_opened_case_reaches_the_case_topic(tmp_path: Path, kafka_bootstrap: str) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(REGISTRY_CASE.name, p) for p in range(REGISTRY_CASE.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)

    _, app = create(*settings(tmp_path, kafka_bootstrap))
    found: list[tuple[bytes, CaseEvent]] = []
    service = {"Authorization": f"Bearer {SERVICE_TOKEN}"}
    try:
        with TestClient(app) as client:
            household_id = client.post(
                "/v1/households",
                headers=service,
                json={"district_code": "11110", "dong_code": "1111051500", "tier": "watch"},
            ).json()["id"]
            case_id = client.post(
                "/v1/cases", headers=service, json={"household_id": household_id}
            ).json()["id"]
            for step in ({"to": "counselling"}, {"to": "crisis_confirmed"}):
                assert client.post(
                    f"/v1/cases/{case_id}/transitions", headers=service, json=step
                ).is_success
            opened = client.post(
                f"/v1/cases/{case_id}/transitions",
                headers=service,
                json={"to": "opened", "level": "joint"},
            )
            assert opened.status_code == 200, opened.text
            deadline = time.monotonic() + 30
            while not any(e.change is CaseChange.OPENED for _, e in found):
                assert time.monotonic() < deadline, f"no opened event; saw {found}"
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found += [
                        (r.key, e)
                        for r, e in ((r, CaseEvent.model_validate_json(r.value)) for r in records)
                        if e.case_id == case_id
                    ]
    finally:
        await consumer.stop()
    assert [e.change.value for _, e in found] == [
        "discovered",
        "progressed",
        "progressed",
        "opened",
    ]
    assert {key for key, _ in found} == {household_id.encode()}
    assert found[-1][1].level is not None and found[-1][1].level.value == "joint"
