"""Protocol timers: set in bulk, durable across a restart, fired once, looked up off the loop."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from sqlalchemy import event

from anbu_detector.adapters.timers import StepTimers, timers_engine
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

    async def fire(escalation_id: str) -> None:
        fired[escalation_id] += 1

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

    async def fire(escalation_id: str) -> None:
        fired[escalation_id] += 1
        if fired[escalation_id] == 1:  # the next step, due shortly
            soon = datetime.now(UTC) + timedelta(seconds=0.5)
            timers.set_many([(UUID(escalation_id), 4, soon)])

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
