"""Protocol timers going off: what a firing reads and writes (the firing path's cost)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, func, select

from anbu_detector.adapters.orm import EscalationRow, StepExecutionRow

from .test_detector_service import World
from .test_storm import enrol, storm


async def test_timers_going_off_read_only_their_escalations_steps_and_households(
    database_url: str,
) -> None:
    """A firing reads the escalations, their executed steps and their households, and
    nothing a consumer batch's prefetch reads besides (rule states, the households' open
    alerts and running escalations: every fired household has a running escalation, none
    is fresh); each due step runs once, its row written with the others."""
    world = World(database_url)
    try:
        await enrol(world)
        await world.send(*storm())
        world.events()
        world.clock.advance(timedelta(days=4))
        with world.db.session() as s:
            running = select(EscalationRow.escalation_id, EscalationRow.protocol_id).where(
                EscalationRow.status == "running"
            )
            escalations = s.execute(running).all()
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(" ".join(statement.split()).lower())

        event.listen(world.db.engine, "before_cursor_execute", count)
        await world.detector.fire_many([str(e) for e, _ in escalations])
        await world.detector.fire_many([str(e) for e, _ in escalations])  # nothing more due
        event.remove(world.db.engine, "before_cursor_execute", count)

        reads = [s for s in statements if s.startswith("select")]
        assert not [s for s in reads if "from rule_state" in s or "from alert" in s], reads
        assert len(reads) <= 2 * 4, reads  # escalations, steps, households (+ the inbox)
        step_inserts = [s for s in statements if s.startswith("insert into step_execution")]
        assert len(step_inserts) <= 1, step_inserts  # one bulk insert (or COPY)
        with world.db.session() as s:
            visits = s.execute(
                select(func.count())
                .select_from(StepExecutionRow)
                .where(StepExecutionRow.step_id == "visit", StepExecutionRow.state == "executed")
            ).scalar()
        assert visits == sum(1 for _, p in escalations if p == "welfare-check") > 0
    finally:
        world.db.dispose()
