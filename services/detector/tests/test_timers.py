"""Protocol timers: set in bulk, durable across a restart, fired once, looked up off the loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy import event

from anbu_detector.adapters.timers import StepTimers, timers_engine
from anbu_detector.entrypoints.jobs import StepFiring
from anbu_runtime.clock import SystemClock

N = 200


async def test_timers_set_in_bulk_survive_a_restart_and_fire_once(tmp_path: Path) -> None:
    """Hundreds of timers set together cost a few statements (one transaction a store, not
    a commit each); after a restart every one comes back from the database and fires
    exactly once; none fires on the loop's thread's lookups: the job stores' queries run in
    a worker thread, so the event loop never blocks on them."""
    engine = timers_engine(f"sqlite:///{tmp_path / 'detector.db'}")
    fired: Counter[str] = Counter()
    loop_thread = threading.get_ident()
    lookups_on_loop = 0

    def count_lookup(*args: object) -> None:
        nonlocal lookups_on_loop
        lookups_on_loop += threading.get_ident() == loop_thread

    async def fire(escalation_ids: list[str]) -> None:
        fired.update(escalation_ids)

    clock = SystemClock()
    first = StepTimers(engine, clock, fire)
    first.start()
    first.add_partitions({1, 2})
    statements = 0

    def count(*args: object) -> None:
        nonlocal statements
        statements += 1

    event.listen(engine, "before_cursor_execute", count)
    due = datetime.now(UTC) + timedelta(seconds=2)
    ids = [uuid4() for _ in range(N)]
    await asyncio.to_thread(first.set_many, [(e, 1 + n % 2, due) for n, e in enumerate(ids)])
    event.remove(engine, "before_cursor_execute", count)
    # two per store, and the wake-ups' lookups (before: an INSERT and a commit per timer)
    assert statements <= 20, statements
    assert first.scheduled(1) | first.scheduled(2) == {str(e) for e in ids}
    first.shutdown()  # the detector stops before anything is due
    await asyncio.sleep(0.1)

    again = StepTimers(engine, clock, fire)
    again.start()
    again.add_partitions({1, 2})
    event.listen(engine, "before_cursor_execute", count_lookup)  # from here: the scheduler's
    for _ in range(100):
        if len(fired) == N:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # anything firing twice would have by now
    event.remove(engine, "before_cursor_execute", count_lookup)
    again.shutdown()

    assert set(fired) == {str(e) for e in ids}
    assert set(fired.values()) == {1}
    assert again.scheduled(1) == again.scheduled(2) == set()  # done: gone from the stores
    assert lookups_on_loop == 0


async def test_a_timer_set_by_its_own_firing_is_kept(tmp_path: Path) -> None:
    """A step that runs sets the escalation's next timer under the same id: the lookup
    that found the fired job removes it before the firing starts, so it never deletes the
    new one (the next step of a protocol would never run)."""
    engine = timers_engine(f"sqlite:///{tmp_path / 'detector.db'}")
    fired: Counter[str] = Counter()
    timers: StepTimers

    async def fire(escalation_ids: list[str]) -> None:
        fired.update(escalation_ids)
        soon = datetime.now(UTC) + timedelta(seconds=0.5)  # the next step, due shortly
        timers.set_many([(UUID(e), 4, soon) for e in escalation_ids if fired[e] == 1])

    timers = StepTimers(engine, SystemClock(), fire)
    timers.start()
    timers.add_partitions({4})
    ids = [uuid4() for _ in range(20)]
    await asyncio.to_thread(
        timers.set_many, [(e, 4, datetime.now(UTC) + timedelta(seconds=0.3)) for e in ids]
    )
    for _ in range(50):
        if sum(fired.values()) == 2 * len(ids):
            break
        await asyncio.sleep(0.1)
    timers.shutdown()
    assert fired == Counter({str(e): 2 for e in ids})


async def test_many_due_timers_are_claimed_in_a_few_statements(database_url: str) -> None:
    """A thousand timers going off together are removed from their stores by a statement
    per store and lookup (APScheduler's lookup removed each fired job with a DELETE and a
    commit of its own: a thousand), and each fires once."""
    engine = timers_engine(database_url)
    fired: Counter[str] = Counter()

    async def fire(escalation_ids: list[str]) -> None:
        fired.update(escalation_ids)

    timers = StepTimers(engine, SystemClock(), fire)
    timers.start()
    timers.add_partitions({1, 2})
    ids = [uuid4() for _ in range(1000)]
    due = datetime.now(UTC) + timedelta(seconds=1)
    await asyncio.to_thread(timers.set_many, [(e, 1 + n % 2, due) for n, e in enumerate(ids)])
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    for _ in range(100):
        if len(fired) == len(ids):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    event.remove(engine, "before_cursor_execute", count)
    timers.shutdown()

    assert fired == Counter({str(e): 1 for e in ids})
    assert timers.scheduled(1) == timers.scheduled(2) == set()
    removals = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert len(removals) <= 4, len(removals)  # a claim per store (and lookup)
    assert len(statements) <= 20, statements


async def test_a_timer_replaced_while_the_lookup_runs_is_kept(database_url: str) -> None:
    """An escalation's timer replaced by another writer (an outcome advancing it, say)
    after the lookup has read what is due and before it removes the fired jobs is neither
    removed nor fired early: it fires once, at its new time. (Removing the due jobs by id
    after reading them deleted the new timer: that escalation's next step never ran.)"""
    engine = timers_engine(database_url)
    fired: dict[str, float] = {}
    timers: StepTimers

    async def fire(escalation_ids: list[str]) -> None:
        for escalation_id in escalation_ids:
            assert escalation_id not in fired
            fired[escalation_id] = time.time()

    timers = StepTimers(engine, SystemClock(), fire)
    timers.start()
    timers.add_partitions({4})
    escalation = uuid4()
    first = datetime.now(UTC) + timedelta(seconds=0.5)
    later = first + timedelta(seconds=1)
    loop_thread = threading.get_ident()
    replaced = threading.Event()

    def replace_once(conn: object, cursor: object, statement: str, *args: object) -> None:
        looking_up = threading.get_ident() != loop_thread and "timers_p04" in statement
        reading = statement.lstrip().upper().startswith("SELECT")
        if looking_up and reading and time.time() >= first.timestamp() and not replaced.is_set():
            replaced.set()  # the outcome's writer, between the lookup's read and its removal
            timers.set_many([(escalation, 4, later)])

    await asyncio.to_thread(timers.set_many, [(escalation, 4, first)])
    event.listen(engine, "after_cursor_execute", replace_once)
    for _ in range(40):
        if fired:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    event.remove(engine, "after_cursor_execute", replace_once)
    timers.shutdown()

    assert replaced.is_set()
    assert list(fired) == [str(escalation)]
    assert fired[str(escalation)] >= later.timestamp()
    assert timers.scheduled(4) == set()


class _Consumer:
    caught_up = True

    def __init__(self) -> None:
        self.lock = asyncio.Lock()


class _Detector:
    """Fires escalations; ``bad`` fails any transaction it is in."""

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.committed: list[list[str]] = []
        self.deferred: list[str] = []

    async def fire_many(self, ids: list[str]) -> None:
        if self.bad in ids:
            raise RuntimeError("the step's transaction failed")
        self.committed.append(ids)

    async def defer(self, escalation_id: str) -> None:
        self.deferred.append(escalation_id)


async def test_a_failing_step_does_not_take_the_claimed_chunk_with_it() -> None:
    """Claimed timers are out of their stores: when a chunk's transaction fails, the others
    run alone and the one that fails alone is re-armed (not lost until a restart)."""
    ids = [f"e-{n}" for n in range(5)]
    detector = _Detector(bad="e-2")
    firing = StepFiring(detector, _Consumer())  # type: ignore[arg-type]
    await firing(ids)

    assert sorted(e for ids_ in detector.committed for e in ids_) == ["e-0", "e-1", "e-3", "e-4"]
    assert detector.deferred == ["e-2"]
