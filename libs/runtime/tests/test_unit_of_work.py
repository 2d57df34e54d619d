"""The unit of work, handler tables and periodic jobs every service's layer is built on."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlmodel import Session

from anbu_contracts import HeartbeatSignal, SafetyCallSignal, SignalKind
from anbu_contracts.signals import Signal
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.clock import ManualClock
from anbu_runtime.db import Database
from anbu_runtime.jobs import every
from anbu_runtime.outbox import Inbox, Outbox, install
from anbu_runtime.uow import HandlerTable, Transactions, Unhandled, UnitOfWork

NOW = datetime(2026, 12, 4, 9, tzinfo=UTC)
TOPIC = SIGNAL_TOPICS[SignalKind.SAFETY_CALL]
metadata = MetaData()
seen = Table("seen", metadata, Column("id", Integer, primary_key=True), Column("kind", String(32)))
tables = install(metadata)


@dataclass
class Repos:
    session: Session

    def add(self, kind: str) -> None:
        self.session.execute(insert(seen).values(kind=kind))

    def count(self) -> int:
        return int(self.session.execute(select(func.count()).select_from(seen)).scalar_one())


def call(n: int) -> SafetyCallSignal:
    return SafetyCallSignal(
        occurred_at=NOW,
        source="p1",
        household_id="HH-AAAAAA",
        partner_id="p1",
        partner_event_id=f"e{n}",
        outcome="unanswered",
        correlation_id="chain-1" if n == 0 else None,
    )


def phone(n: int) -> HeartbeatSignal:
    return HeartbeatSignal(
        occurred_at=NOW,
        source="p1",
        household_id="HH-AAAAAA",
        partner_id="p1",
        partner_event_id=f"p{n}",
        channel="phone",
        device_id="d1",
        last_active_at=NOW,
    )


@pytest.fixture
def tx(tmp_path: object) -> Transactions[Repos]:
    db = Database(f"sqlite:///{tmp_path}/uow.db")
    db.create_all(metadata)
    return Transactions(db, Outbox(tables, "test"), ManualClock(NOW), Repos)


def outbox_rows(tx: Transactions[Repos]) -> int:
    return int(
        tx.db.engine.connect().execute(select(func.count()).select_from(tables.outbox)).scalar_one()
    )


async def test_state_and_staged_events_commit_together_then_effects_run(
    tx: Transactions[Repos],
) -> None:
    ran: list[str] = []

    def work(uow: UnitOfWork[Repos]) -> datetime:
        uow.repos.add("call")
        uow.publish(TOPIC, call(1))
        uow.after_commit(lambda: ran.append("sync"))

        async def woken() -> None:
            ran.append("async")

        uow.after_commit(woken)
        assert ran == []  # nothing runs before the commit
        return uow.now

    assert await tx.run(work) == NOW
    assert ran == ["sync", "async"]
    assert await tx.read(lambda repos: repos.count()) == 1
    assert outbox_rows(tx) == 1


async def test_a_failing_handler_leaves_no_state_no_event_and_runs_no_effect(
    tx: Transactions[Repos],
) -> None:
    ran: list[str] = []

    def work(uow: UnitOfWork[Repos]) -> None:
        uow.repos.add("call")
        uow.publish(TOPIC, call(1))
        uow.after_commit(lambda: ran.append("effect"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await tx.run(work)
    assert ran == []
    assert await tx.read(lambda repos: repos.count()) == 0
    assert outbox_rows(tx) == 0


async def test_a_failing_effect_is_logged_and_does_not_undo_the_commit(
    tx: Transactions[Repos],
) -> None:
    def work(uow: UnitOfWork[Repos]) -> None:
        uow.repos.add("call")
        uow.after_commit(lambda: 1 / 0)  # type: ignore[func-returns-value]

    await tx.run(work)
    assert await tx.read(lambda repos: repos.count()) == 1


HANDLERS: HandlerTable[Repos] = HandlerTable()


@HANDLERS.register(SafetyCallSignal)
def on_call(msg: SafetyCallSignal, uow: UnitOfWork[Repos]) -> str:
    uow.repos.add("call")
    return f"call {uow.correlation_id} {uow.causation_id}"


@HANDLERS.register(HeartbeatSignal)
def on_phone(msg: HeartbeatSignal, uow: UnitOfWork[Repos]) -> str:
    uow.repos.add("phone")
    return "phone"


async def test_the_table_dispatches_by_contract_type_with_correlation_ids(
    tx: Transactions[Repos],
) -> None:
    first = call(0)
    second = call(1)
    assert await HANDLERS.handle(tx, first) == f"call chain-1 {first.event_id}"
    # without a correlation id the chain starts at this event
    assert await HANDLERS.handle(tx, second) == f"call {second.event_id} {second.event_id}"
    assert await HANDLERS.handle(tx, phone(1)) == "phone"
    assert phone(2) in HANDLERS


async def test_an_unregistered_type_is_refused_before_any_transaction(
    tx: Transactions[Repos],
) -> None:
    table: HandlerTable[Repos] = HandlerTable({SafetyCallSignal: on_call})
    with pytest.raises(Unhandled):
        await table.handle(tx, phone(1))
    with pytest.raises(Unhandled):
        await table.handle_batch(tx, [call(1), phone(1)])
    assert await tx.read(lambda repos: repos.count()) == 0  # the call was not applied either


def test_a_base_contract_catches_its_subclasses_and_a_type_registers_once() -> None:
    table: HandlerTable[Repos] = HandlerTable({Signal: on_phone})
    assert table.handler_for(call(1)) is on_phone
    with pytest.raises(ValueError, match="already has a handler"):
        table.register(Signal)(on_call)


async def test_with_an_inbox_a_redelivered_message_changes_nothing(
    tx: Transactions[Repos],
) -> None:
    once = Transactions(tx.db, tx.outbox, tx.clock, Repos, inbox=Inbox(tables, "consumer"))
    message = call(1)
    assert await HANDLERS.handle(once, message) is not None
    assert await HANDLERS.handle(once, message) is None
    # a batch is one unit of work; its redelivered member is skipped, the new ones applied
    beat, later = phone(1), call(2)
    labels = {"service": "test", "topic": "*", "result": "duplicate"}
    before = REGISTRY.get_sample_value("anbu_messages_consumed_total", labels)
    results = await HANDLERS.handle_batch(once, [message, beat, beat, later])
    assert results == ["phone", f"call {later.event_id} {later.event_id}"]
    after = REGISTRY.get_sample_value("anbu_messages_consumed_total", labels)
    assert (after or 0) - (before or 0) == 2  # counted as the one-by-one path counts them
    assert await tx.read(lambda repos: repos.count()) == 3


async def test_every_runs_until_stopped_and_survives_a_failing_round() -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 2:
            raise RuntimeError("one bad round")
        if len(rounds) == 4:
            stop.set()

    await asyncio.wait_for(every(0.01, job, name="test")(stop), timeout=5)
    assert rounds == [0, 1, 2, 3]


async def test_every_drains_while_there_is_work() -> None:
    stop = asyncio.Event()
    backlog = [3]

    async def job() -> int:
        if backlog[0] == 0:
            stop.set()
            return 0
        backlog[0] -= 1
        return 1

    # an interval of an hour: only draining can finish this in time
    await asyncio.wait_for(every(3600, job, name="drain", drain=True)(stop), timeout=5)
    assert backlog == [0]
