"""Several notifier instances on one database: every message still goes out exactly once.

Two notifiers wired by the bootstrap (instance ids of their own, one database, the real
broker) consume the same requests from ``notify.request.v1`` and deliver to the tests'
gateway. In one group they share the topic's partitions; in two groups each reads every
request, as both would read a batch a rebalance hands from one to the other before the
first committed it. The request key, the claim (a lease taken by one instance) and the
idempotency key on the gateway call keep each message to one call.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from notifier_fakes.directory import FakeDirectory
from notifier_fakes.kafka import produce, resident_request, start_group_at_the_end
from notifier_fakes.provider import FakeProvider
from notifier_fakes.smtp import SmtpServer
from notifier_fakes.world import API_KEY, T0, household_id, resident, settings_for
from sqlalchemy import func, select

from anbu_contracts import NotificationRequest, RecipientKind
from anbu_contracts.notify import Channel
from anbu_notifier.adapters.orm import DeliveryRow
from anbu_notifier.bootstrap import Service, build
from anbu_runtime.clock import ManualClock
from anbu_runtime.settings import CommonSettings

pytestmark = pytest.mark.integration

REQUESTS = 80


def request_for(household: str, run: str) -> NotificationRequest:
    return resident_request(household, f"instances:{run}:{household}", source="test", at=T0)


@pytest.fixture
def gateway() -> Iterator[FakeProvider]:
    """A gateway of these tests' own: nothing the instances leave behind (a kept-alive
    connection, a call in flight) reaches the gateway the other tests script."""
    fake = FakeProvider(API_KEY).start()
    yield fake
    fake.stop()


@pytest.fixture
async def instances(
    kafka_bootstrap: str,
    database_url: str,
    gateway: FakeProvider,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Any]]:
    """Start notifier instances on one database and the real broker; stopped afterwards."""
    provider = gateway
    started: list[Service] = []

    async def start(
        directory: FakeDirectory, groups: list[str], calls: Counter[str]
    ) -> list[Service]:
        clock = ManualClock(T0)  # one clock: both are the same deployment
        for n, group in enumerate(groups):
            await start_group_at_the_end(kafka_bootstrap, group)
            common = CommonSettings(
                var_dir=tmp_path / f"i{n}",
                kafka_bootstrap=kafka_bootstrap,
                instance_id=f"notifier-{n}-{uuid4().hex[:6]}",
            )
            settings = settings_for(
                database_url,
                provider,
                smtp_server,
                tmp_path,
                gateway_timeout_s=5.0,
                consumer_group=group,
                poll_s=0.05,
                concurrency=16,
            )
            service = build(common, settings, clock, directory)
            sms = service.notifier.channels[Channel.SMS]
            send = sms.send

            async def counted(message: Any, *, _send: Any = send, _n: int = n) -> Any:
                calls[f"instance-{_n}"] += 1
                return await _send(message)

            sms.send = counted  # type: ignore[method-assign]
            await service.runtime.start()
            started.append(service)
        return started

    yield start
    for service in started:
        await service.runtime.stop()


async def deliver_through(
    kafka_bootstrap: str, provider: FakeProvider, services: list[Service]
) -> list[NotificationRequest]:
    directory: FakeDirectory = services[0].notifier.sender.directory  # type: ignore[assignment]
    run = uuid4().hex[:8]
    requests = []
    for n in range(REQUESTS):
        household = household_id()
        directory.add(
            household, RecipientKind.RESIDENT, resident(f"P-{n}", phone=f"010-77{n:02d}-{n:04d}")
        )
        requests.append(request_for(household, run))
    await produce(kafka_bootstrap, requests)
    for _ in range(900):  # up to 90 s
        if len(provider.state.accepted()) >= REQUESTS:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.5)  # long enough for a second send of anything to show
    return requests


async def assert_each_sent_once(provider: FakeProvider, services: list[Service]) -> None:
    stats = provider.state.stats()
    assert stats["accepted"] == REQUESTS, stats  # none lost ...
    assert stats["duplicates"] == 0, stats  # ... none sent twice under two keys ...
    accepted_calls = Counter(key for _, key, status in provider.state.calls if status == 202)
    assert set(accepted_calls.values()) == {1}, stats  # ... nor twice under one key

    def sent(session: Any) -> int:
        return int(
            session.execute(
                select(func.count()).select_from(DeliveryRow).where(DeliveryRow.sent_at.isnot(None))
            ).scalar_one()
        )

    assert await services[0].runtime.db.run(sent) == REQUESTS  # and each recorded sent


async def test_two_instances_in_one_group_share_the_requests_and_send_each_once(
    kafka_bootstrap: str, gateway: FakeProvider, instances: Any
) -> None:
    calls: Counter[str] = Counter()
    group = f"notifier-instances-{uuid4().hex[:8]}"
    services = await instances(FakeDirectory(), [group, group], calls)
    await deliver_through(kafka_bootstrap, gateway, services)
    await assert_each_sent_once(gateway, services)
    assert sum(calls.values()) == REQUESTS, calls


async def test_two_instances_that_both_read_every_request_still_send_each_once(
    kafka_bootstrap: str, gateway: FakeProvider, instances: Any
) -> None:
    calls: Counter[str] = Counter()
    run = uuid4().hex[:8]
    groups = [f"notifier-both-{run}-a", f"notifier-both-{run}-b"]  # each reads everything
    services = await instances(FakeDirectory(), groups, calls)
    await deliver_through(kafka_bootstrap, gateway, services)
    await assert_each_sent_once(gateway, services)
    assert sum(calls.values()) == REQUESTS, calls
    print(f"\ngateway calls per instance: {dict(calls)}")
