"""An alert storm: a batch of signals opens its alerts and escalations set-based.

One transaction and a few statements per batch (not a dozen statements and four flushes
per alert), with exactly the alerts, escalations, steps and events that handling the same
records one at a time gives: one open alert per household and reason, one running response
per household (a stronger alert in the same batch upgrades it), and nothing new when the
batch is delivered again.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event, func, select

from anbu_contracts import AlertEvent, EscalationEvent
from anbu_detector.adapters.orm import AlertRow, EscalationRow, RuleStateRow, StepExecutionRow
from anbu_runtime.logs import configure_logging

from .test_detector_service import World, arrears, household, sos

N = 100


@pytest.fixture
def worlds(database_url: str, tmp_path: Path) -> Iterator[tuple[World, World]]:
    """A detector on the database under test, and one on a SQLite file of its own."""
    a, b = World(database_url), World(f"sqlite:///{tmp_path / 'one-at-a-time.db'}")
    yield a, b
    a.db.dispose()
    b.db.dispose()


def hh(n: int) -> str:
    return f"HH-STORM{n:04d}"


def storm() -> list[Any]:
    """N households in arrears; the first also presses SOS (an upgrade in the same batch),
    the second is in arrears twice (the open alert absorbs it), the third already has a
    response running (from an earlier batch)."""
    records: list[Any] = [
        arrears(event_id=f"a-{n}").model_copy(update={"household_id": hh(n), "event_id": uuid4()})
        for n in range(N)
    ]
    records.insert(1, sos("sos-0").model_copy(update={"household_id": hh(0), "event_id": uuid4()}))
    again = arrears("water", event_id="w-1")
    records.append(again.model_copy(update={"household_id": hh(1), "event_id": uuid4()}))
    records.append(sos("sos-2").model_copy(update={"household_id": hh(2), "event_id": uuid4()}))
    return records


async def enrol(world: World) -> None:
    await world.send(
        *[household().model_copy(update={"household_id": hh(n)}) for n in range(N)], partition=3
    )
    earlier = arrears(event_id="before").model_copy(update={"household_id": hh(2)})
    await world.send(earlier)


class Statements:
    """Counts the statements and commits a database runs (an executemany is one)."""

    def __init__(self, world: World) -> None:
        self.statements = self.commits = 0
        engine = world.db.engine
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


def outcome(world: World) -> dict[str, Any]:
    """What the detector holds and published, per household, without generated ids."""
    with world.db.session() as s:
        alerts = s.execute(select(AlertRow.household_id, AlertRow.reason, AlertRow.status)).all()
        escalations = s.execute(
            select(
                EscalationRow.household_id,
                EscalationRow.protocol_id,
                EscalationRow.status,
                EscalationRow.steps,
            )
        ).all()
        steps = s.execute(
            select(
                EscalationRow.household_id, StepExecutionRow.step_id, StepExecutionRow.state
            ).join(EscalationRow, EscalationRow.escalation_id == StepExecutionRow.escalation_id)
        ).all()
        states = s.execute(select(RuleStateRow.household_id, RuleStateRow.rule, RuleStateRow.state))
        rule_states = sorted(  # what each remembers (the evidence's ids differ by world)
            (h, rule, sorted((r["type"], r["as_of"]) for r in state["recent"]))
            for h, rule, state in states
        )
    events: dict[str, list[str]] = {}
    for e in world.events():
        if isinstance(e, AlertEvent | EscalationEvent):
            events.setdefault(e.household_id, []).append(f"{type(e).__name__}:{e.change}")
    return {
        "alerts": sorted(map(tuple, alerts)),
        "escalations": sorted(
            (h, p, st, sorted(steps_.items())) for h, p, st, steps_ in escalations
        ),
        "steps": sorted(map(tuple, steps)),
        "rule_states": rule_states,
        "events": events,
    }


async def test_a_batch_of_alerts_opens_them_set_based_in_one_transaction(
    worlds: tuple[World, World],
) -> None:
    batch, single = worlds
    for world in worlds:
        await enrol(world)
        world.events()
    records = storm()

    counted = Statements(batch)
    await batch.send(*records)
    for record in records:  # the same records, one batch each (the path every record took)
        await single.send(record)

    assert counted.commits == 1
    # A few per table for the batch, and the ORM's for the household that had a response
    # running (~16): not a dozen per alert (before: over 1,500 here).
    assert counted.statements <= 50, counted.statements
    got = outcome(batch)
    assert got == outcome(single)
    open_alerts = Counter((h, r) for h, r, status in got["alerts"] if status == "open")
    assert set(open_alerts.values()) == {1}
    assert len({h for h, _ in open_alerts}) == N
    running = Counter(h for h, _, status, _ in got["escalations"] if status == "running")
    assert len(running) == N and set(running.values()) == {1}
    protocols = {h: p for h, p, status, _ in got["escalations"] if status == "running"}
    assert protocols[hh(0)] == protocols[hh(2)] == "emergency"  # upgraded in the batch
    assert protocols[hh(1)] == "welfare-check"
    first = got["events"][hh(5)]
    assert first[:2] == ["AlertEvent:opened", "EscalationEvent:started"]
    # each household's arrears remembered; the second's two (rent, then water) in one state
    assert len(got["rule_states"]) == N
    assert len(dict((h, r) for h, _, r in got["rule_states"])[hh(1)]) == 2


async def test_a_batch_delivered_again_creates_nothing(worlds: tuple[World, World]) -> None:
    world, _ = worlds
    await enrol(world)
    records = storm()
    await world.send(*records)
    world.events()
    with world.db.session() as s:
        before = [
            s.execute(select(func.count()).select_from(t)).scalar()
            for t in (AlertRow, EscalationRow, StepExecutionRow)
        ]

    await world.send(*records)

    with world.db.session() as s:
        after = [
            s.execute(select(func.count()).select_from(t)).scalar()
            for t in (AlertRow, EscalationRow, StepExecutionRow)
        ]
    assert after == before
    assert before[0] == N + 2  # every household's arrears alert, and two SOS alerts
    assert world.events() == []


async def test_timers_going_off_together_run_their_steps_set_based(
    worlds: tuple[World, World],
) -> None:
    """Every escalation's next step due at once (after a storm, three days on): the due
    steps run in one transaction with a few statements, as firing them one at a time does."""
    batch, single = worlds
    for world in worlds:
        await enrol(world)
        await world.send(*storm())
        world.events()
        world.clock.advance(timedelta(days=4))
    with batch.db.session() as s:
        ids = [
            str(e)
            for e in s.execute(
                select(EscalationRow.escalation_id).where(EscalationRow.status == "running")
            ).scalars()
        ]
    assert len(ids) == N

    counted = Statements(batch)
    await batch.detector.fire_many(ids)
    with single.db.session() as s:
        for escalation_id in s.execute(select(EscalationRow.escalation_id)).scalars():
            await single.detector.fire(str(escalation_id))

    assert counted.commits == 1
    assert counted.statements <= 40, counted.statements  # before: ~8 per escalation
    got = outcome(batch)
    assert got == outcome(single)
    assert any(state == "executed" and step != "phone" for _, step, state in got["steps"])


async def test_a_storm_logs_a_line_per_batch_not_per_alert(
    worlds: tuple[World, World], capsys: pytest.CaptureFixture[str]
) -> None:
    """At INFO a batch's alerts and steps are one line each, counted by reason and step
    (a line per alert and step was a fifth of the storm's CPU); DEBUG has each one."""
    world, _ = worlds
    await enrol(world)
    world.events()
    configure_logging("detector", "INFO")
    capsys.readouterr()

    await world.send(*storm())

    logging.getLogger().handlers[0].flush()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    opened = [e for e in world.events() if isinstance(e, AlertEvent) and e.change == "opened"]
    events = Counter(line["event"] for line in lines)
    assert events["alert opened"] == events["protocol step"] == 0
    assert events["alerts opened"] == events["protocol steps"] == 1
    [alerts] = [line for line in lines if line["event"] == "alerts opened"]
    assert alerts["count"] == len(opened) == N + 1  # the third's arrears joined its alert
    assert sum(alerts["by_reason"].values()) == len(opened)
    [steps] = [line for line in lines if line["event"] == "protocol steps"]
    assert steps["by_step"]["welfare-check/phone/executed"] >= N - 3
