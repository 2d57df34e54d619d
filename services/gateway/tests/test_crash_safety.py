"""Nothing lost, nothing published twice: a gateway killed in the middle of a file, and the
moments a crash can leave a record in doubt (sent but not marked, reserved but not sent)."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData

from anbu_contracts import ReporterRole, SignalKind
from anbu_gateway.adapters import submission_log as log_repo
from anbu_gateway.adapters.orm import metadata
from anbu_gateway.adapters.registry_client import RegistryClient
from anbu_gateway.adapters.repository import Uow
from anbu_gateway.adapters.submission_log import NewEntry
from anbu_gateway.domain.envelope import content_digest, to_signal
from anbu_gateway.domain.prepared import Prepared, prepare
from anbu_gateway.domain.records import Candidate
from anbu_gateway.domain.reports import ReportState, check_form
from anbu_gateway.domain.rewards import RewardPolicy
from anbu_gateway.handlers.publishing import ChunkResult, Publisher
from anbu_gateway.handlers.report_access import ReportSettings
from anbu_gateway.handlers.reports import SafetyNet
from anbu_runtime.auth import SERVICE
from anbu_runtime.processes import Stack
from anbu_runtime.sealing import FieldSealer
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

from .conftest import PORTS, REGISTRY, TOKEN, Registry, gateway_env, household_id, unique
from .test_ingest_api import ARREARS_HEADER, arrears_rows

pytestmark = pytest.mark.integration

KILL_GATEWAY = f"http://127.0.0.1:{PORTS['gateway_kill']}"


async def test_a_gateway_killed_in_the_middle_of_a_file_loses_nothing_and_repeats_nothing(
    registry: Registry, kafka_bootstrap: str, tmp_path: Path, tail: Any
) -> None:
    # 12,000 rows a minute: the first 12,000 rows go at once, the rest are paced at 200 a
    # second, so the gateway is certainly still working on the file when it is killed.
    partner = registry.partner(["arrears"], rate_limit_per_minute=12_000)
    arrears = await tail(SignalKind.ARREARS)
    rows = 14_000
    data = (ARREARS_HEADER + arrears_rows(rows, unique("k"))).encode()
    stack = Stack(
        var_dir=tmp_path,
        ports={"registry": PORTS["registry"], "gateway": PORTS["gateway_kill"]},
        env=gateway_env(
            kafka_bootstrap,
            ANBU_INSTANCE_ID="gateway-kill-test",  # a restart resumes its own files at once
            ANBU_GATEWAY_FILE_CHUNK_ROWS="250",
            ANBU_GATEWAY_FILE_WORKERS="1",
        ),
    )
    stack.start(["gateway"])
    try:
        stack.wait_ready(["gateway"], timeout=60)
        async with httpx.AsyncClient(
            base_url=KILL_GATEWAY, timeout=60, headers=partner.headers
        ) as client:
            first = await client.post(
                "/v1/files?kind=arrears&mode=accept_valid",
                content=data,
                headers={"content-type": "text/csv"},
            )
            assert first.status_code == 202, first.text
            submission = first.json()["submission_id"]
            while True:  # until part of the file is published
                status = (await client.get(f"/v1/submissions/{submission}")).json()
                if status["published"] >= 3000:
                    break
                await asyncio.sleep(0.02)
            stack.stop(["gateway"], kill=True)  # SIGKILL: no graceful shutdown
            assert status["state"] == "processing" and status["published"] < rows
            on_topic_at_kill = len(await arrears.signals(partner_id=partner.partner_id))
            assert 0 < on_topic_at_kill < rows

            stack.start(["gateway"])
            stack.wait_ready(["gateway"], timeout=60)
            # The partner retries: the same bytes are the same submission, resumed.
            retry = await client.post(
                "/v1/files?kind=arrears&mode=accept_valid&wait=120",
                content=data,
                headers={"content-type": "text/csv"},
            )
            assert retry.status_code == 200 and retry.json()["submission_id"] == submission
            final = retry.json()
            while final["state"] != "completed":
                await asyncio.sleep(0.2)
                final = (await client.get(f"/v1/submissions/{submission}")).json()
    finally:
        stack.stop()
    assert (final["rows"], final["accepted"], final["published"]) == (rows, rows, rows)
    assert (final["duplicates"], final["rejected"]) == (0, 0)
    published = Counter(
        s.partner_event_id for s in await arrears.signals(partner_id=partner.partner_id)
    )
    assert len(published) == rows  # nothing lost
    assert max(published.values()) == 1  # nothing published twice


# -- the moments in doubt, made to happen -----------------------------------------------


class Crash(Exception):
    pass


async def runtime_on(tmp_path: Path, bootstrap: str) -> ServiceRuntime:
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'gateway.db'}")
    runtime = ServiceRuntime(
        "gateway-test",
        CommonSettings(kafka_bootstrap=bootstrap, var_dir=tmp_path),
        settings,
        MetaData(),
    )
    runtime.db.create_all(metadata)
    await runtime.producer.start()
    runtime.connected = True
    return runtime


def safety_net(runtime: ServiceRuntime, publisher: Publisher) -> SafetyNet:
    """The reporter form's handlers on ``runtime``, asking the test registry process."""
    return SafetyNet(
        runtime,
        publisher,
        ReportSettings(),
        RewardPolicy(),
        RegistryClient(REGISTRY, TOKEN),
        FieldSealer([("t1", os.urandom(32))]),
    )


def calls(partner_id: str, household: str, n: int) -> list[Prepared]:
    out: list[Prepared] = []
    for _ in range(n):
        signal = to_signal(
            {
                "kind": "safety_call",
                "household_id": household,
                "partner_event_id": unique("c"),
                "occurred_at": "2026-11-25T09:00:00+09:00",
                "outcome": "unanswered",
            },
            partner_id,
            datetime.now(UTC),
        )
        out.append(prepare(Candidate(len(out) + 1, signal, content_digest(signal))))
    return out


async def test_records_sent_but_not_marked_before_a_crash_are_found_on_the_topic_not_resent(
    kafka_bootstrap: str, tmp_path: Path, tail: Any
) -> None:
    topic = await tail(SignalKind.SAFETY_CALL)
    runtime = await runtime_on(tmp_path, kafka_bootstrap)
    try:
        publisher = Publisher(runtime, lease=timedelta(0))
        household = household_id()
        records = calls("crash-test", household, 30)

        def crash(_: Uow, __: ChunkResult) -> None:
            raise Crash("the process died after the acknowledgement, before the mark")

        with pytest.raises(Crash):
            await publisher.publish(
                "crash-test", "req-crashed", records, keep_payload=True, on_commit=crash
            )
        assert len(await topic.signals(household_id=household)) == 30  # acknowledged...
        statuses = await runtime.db.run(
            lambda s: log_repo.status_of(s, "crash-test", [r.partner_event_id for r in records])
        )
        assert set(statuses.values()) == {"pending"}  # ...but never marked

        retry = await publisher.publish("crash-test", "req-retry", records, keep_payload=True)
        assert len(retry.accepted) == 30 and not retry.duplicates
        published = Counter(s.partner_event_id for s in await topic.signals(household_id=household))
        assert len(published) == 30 and max(published.values()) == 1
        assert await publisher.sweep() == 0  # nothing left pending
    finally:
        await runtime.producer.stop()
        runtime.db.dispose()


async def test_records_reserved_by_a_request_that_died_before_sending_are_published_by_the_sweeper(
    kafka_bootstrap: str, tmp_path: Path, tail: Any
) -> None:
    topic = await tail(SignalKind.SAFETY_CALL)
    runtime = await runtime_on(tmp_path, kafka_bootstrap)
    try:
        publisher = Publisher(runtime, lease=timedelta(seconds=0))
        household = household_id()
        records = calls("crash-test", household, 12)
        await runtime.db.run(
            lambda s: log_repo.reserve(
                s,
                "crash-test",
                "req-died",
                [
                    NewEntry(
                        r.partner_event_id,
                        "safety_call",
                        r.digest,
                        None,
                        r.value,
                    )
                    for r in records
                ],
                datetime.now(UTC) - timedelta(seconds=1),
            )
        )
        assert await topic.signals(household_id=household) == []
        assert await publisher.sweep() == 12
        assert await publisher.sweep() == 0
        published = Counter(s.partner_event_id for s in await topic.signals(household_id=household))
        assert len(published) == 12 and max(published.values()) == 1
    finally:
        await runtime.producer.stop()
        runtime.db.dispose()


async def test_a_report_made_while_kafka_is_away_is_published_when_it_returns(
    registry: Registry, kafka_bootstrap: str, tmp_path: Path, tail: Any
) -> None:
    reports = await tail(SignalKind.REPORT)
    runtime = await runtime_on(tmp_path, kafka_bootstrap)
    try:
        publisher = Publisher(runtime, lease=timedelta(0))
        net = safety_net(runtime, publisher)
        invitation, _ = await net.invite(SERVICE, ReporterRole.LANDLORD, None, [], 30)
        household = registry.household()
        runtime.connected = False  # the broker is away
        form = check_form("household_id", household, "no_response", "normal", "보일러가 꺼져 있음")
        row = await net.submit(invitation, form)
        await net.drain()
        assert await net.state_of(row) is ReportState.PENDING
        assert await reports.signals(household_id=household) == []
        runtime.connected = True  # it is back: the sweeper publishes the stored signal
        assert await publisher.sweep() == 1
        [signal] = await reports.signals(household_id=household)
        assert signal.note_ref == row.reference and signal.reporter_role == "landlord"
        assert await net.state_of(row) is ReportState.PUBLISHED
    finally:
        await net.registry.close()
        await runtime.producer.stop()
        runtime.db.dispose()
