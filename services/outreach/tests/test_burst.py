"""A national list round lands at once: a batch of protocol steps becomes tasks with a
handful of statements, making the same choices as one step at a time (fair loads, nobody
over their maximum, the duty officer told of what nobody can take), each step once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlmodel import select

from anbu_contracts import EscalationClosure, Role, TaskStatus, TaskType
from anbu_outreach.adapters.orm import NewTaskRow, TaskRow
from anbu_outreach.handlers import tasks

from .conftest import closed, step_executed, task_action
from .roster_builders import DONG, NEIGHBOUR_DONG, T0, household, worker


def visit_step(hid: str, **kw: Any) -> Any:
    action = task_action(
        "investigate", TaskType.INVESTIGATION, [Role.OFFICIAL], T0 + timedelta(days=14)
    )
    return step_executed(hid, "visit", [action], **kw)


def small_district() -> list[Any]:
    """Two dongs, four officials with little room: loads decide, and some tasks find nobody."""
    return [
        worker("W-OFF01", max_open=3),
        worker("W-OFF02", max_open=2),
        worker("W-OFF03", max_open=4, dongs=(DONG, NEIGHBOUR_DONG)),
        worker("W-OFF04", max_open=2, dongs=(NEIGHBOUR_DONG,)),
        *[household(f"HH-BURST{n:04d}", dong=(DONG, NEIGHBOUR_DONG)[n % 2],
                    responsible="W-OFF02" if n % 5 == 0 else None, violence=n % 7 == 3)
          for n in range(16)],
    ]  # fmt: skip


def outcome(world: Any) -> list[tuple[str, str, list[str]]]:
    return sorted((e.household_id, e.status.value, e.assignees) for e in world.tasks())


@contextmanager
def statements(world: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = world.runtime.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_assigns_as_the_same_steps_one_at_a_time_would(
    make_world: Any, database_url: str, tmp_path: Any
) -> None:
    steps = [visit_step(f"HH-BURST{n:04d}") for n in range(16)]
    one_by_one = make_world()
    one_by_one.enrol(*small_district())
    for step in steps:
        one_by_one.deliver(step)
    batch = make_world(database_url)
    batch.enrol(*small_district())
    batch.run(lambda uow: tasks.on_escalations(uow, steps))

    assert outcome(batch) == outcome(one_by_one)
    load = Counter(w for _, status, who in outcome(batch) if status == "offered" for w in who)
    assert load == {"W-OFF01": 3, "W-OFF02": 2, "W-OFF03": 4, "W-OFF04": 2}  # everyone full
    unassigned = [e for e in batch.tasks() if e.status is TaskStatus.UNASSIGNED]
    assert unassigned  # 16 tasks (some for two) and room for 11: the rest wait
    notes = Counter(n.template for n in batch.published("notify.request.v1"))
    assert notes == Counter(n.template for n in one_by_one.published("notify.request.v1"))
    assert notes["task.offered"] == 11 and notes["task.unassigned"] == len(unassigned)


def test_a_burst_takes_a_few_statements_however_many_steps_it_has(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*small_district())
    small = [visit_step(f"HH-BURST{n:04d}") for n in range(4)]
    large = [visit_step(f"HH-BURST{n:04d}") for n in range(4, 16)]
    with statements(world) as few:
        world.run(lambda uow: tasks.on_escalations(uow, small))
    with statements(world) as many:
        world.run(lambda uow: tasks.on_escalations(uow, large))
    # one origin check, one household read, one load count, the task and offer inserts,
    # the outbox per topic: the same for 12 steps as for 4 (one at a time: ~12 per task)
    assert len(many) == len(few) <= 12, many


def test_a_step_repeated_in_a_batch_or_after_it_makes_one_task(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*small_district())
    step = visit_step("HH-BURST0001")
    again = step.model_copy(update={"event_id": step.event_id.__class__(int=7)})
    world.run(lambda uow: tasks.on_escalations(uow, [step, again]))
    world.run(lambda uow: tasks.on_escalations(uow, [again]))
    assert [e.household_id for e in world.tasks()] == ["HH-BURST0001"]
    assert world.run(lambda uow: len(uow.session.exec(select(TaskRow)).all())) == 1


def test_a_closure_in_the_same_batch_cancels_the_task_its_step_created(
    make_world: Any, database_url: str
) -> None:
    world = make_world(database_url)
    world.enrol(*small_district())
    step = visit_step("HH-BURST0001")
    world.run(
        lambda uow: tasks.on_escalations(
            uow, [step, closed(step, EscalationClosure.CONTACT_CONFIRMED, T0)]
        )
    )
    assert [e.status for e in world.tasks()] == [TaskStatus.OFFERED, TaskStatus.CANCELLED]


def test_the_inbox_applies_each_message_of_a_batch_once(make_world: Any, database_url: str) -> None:
    world = make_world(database_url)
    inbox = world.runtime.inbox("outreach")

    def check(ids: list[str]) -> Any:
        return lambda uow: inbox.first_times(uow.session, ids)

    assert world.run(check(["a", "b", "a"])) == [True, True, False]
    assert world.run(check(["b", "c"])) == [False, True]
    assert (
        world.run(lambda uow: inbox.first_time(uow.session, "c")) is False
    )  # the runtime's view agrees


def test_a_new_task_row_has_every_column_of_a_task_row() -> None:
    assert {f.name for f in fields(NewTaskRow)} == set(TaskRow.model_fields)


async def test_the_consumers_handler_table_applies_a_chunk_in_one_unit_once(
    make_world: Any, database_url: str
) -> None:
    """What the escalation consumer does per chunk: one unit of work through the handler
    table, the inbox checked for the chunk, the tasks written together before the commit."""
    world = make_world(database_url)
    world.enrol(*small_district())
    escalations = world.runtime.transactions(world.tx.repositories, inbox="outreach")
    steps = [visit_step(f"HH-BURST{n:04d}") for n in range(12)]
    with statements(world) as seen:
        await tasks.ESCALATIONS.handle_batch(escalations, steps)
    assert len(world.tasks()) == 12
    assert len(seen) <= 12, seen  # the set-based writes and the inbox, not ~12 per task
    await tasks.ESCALATIONS.handle_batch(
        escalations, [*steps[:3], closed(steps[0], EscalationClosure.CONTACT_CONFIRMED, T0)]
    )
    assert [e.household_id for e in world.tasks() if e.status is TaskStatus.CANCELLED] == [
        "HH-BURST0000"
    ]  # the closure was applied; the redelivered steps changed nothing:
    assert world.run(lambda uow: len(uow.session.exec(select(TaskRow)).all())) == 12
    assert len(world.tasks()) == 13
