"""One active response per household: how a new alert meets a running escalation.

A household with rent arrears, a gas cut-off and a meter reader's report is one household
in trouble, not three: the alerts are evidence for one response, and the people who respond
get one task per step. The decision here is pure; the handlers load and save.

- A new alert on a household with a running response JOINS it as evidence.
- If its protocol is stronger on :data:`LADDER`, the response UPGRADES to it, carrying over
  what was done: steps already run are not run again, tasks already given to people are not
  given again, and the weaker protocol's steps that had not run are superseded.
- A weaker (or equal) alert never downgrades the response.
- A closed response absorbs nothing: the next alert starts a new one.
- Protocols off the ladder (transition care after a hospital discharge) are care work, not a
  crisis response: they run on their own, beside the response.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from anbu_contracts import (
    EscalationStatus,
    LogAction,
    NotifyAction,
    Role,
    StepRecord,
    TaskAction,
    TaskType,
)

from .protocols import Context, Escalation, ProtocolSpec, StepState, due_at, pending

# The crisis protocols from the weakest to the strongest response.
LADDER: tuple[str, ...] = ("welfare-check", "safety-not-confirmed", "emergency")


class Merge(StrEnum):
    START = "start"  # no response is running: the alert's protocol starts one
    JOIN = "join"  # the response goes on as it is, with the alert as more evidence
    UPGRADE = "upgrade"  # the response moves to the alert's stronger protocol
    SEPARATE = "separate"  # off the ladder: the alert's protocol runs on its own


@dataclass(frozen=True)
class MergeRule:
    """One line of the merge rules, for people (docs/protocols.md is written from these)."""

    when: str
    merge: Merge
    effect: str


RULES: tuple[MergeRule, ...] = (
    MergeRule(
        "no escalation of the household is running",
        Merge.START,
        "the alert's protocol starts a new escalation (a closed one absorbs nothing)",
    ),
    MergeRule(
        "the alert's protocol is weaker than or the same as the running one, or it has none",
        Merge.JOIN,
        "the alert is linked to the running escalation as evidence; the protocol, its "
        "timing and its tasks do not change (never a downgrade)",
    ),
    MergeRule(
        "the alert's protocol is stronger than the running one",
        Merge.UPGRADE,
        "the escalation moves to the stronger protocol, whose day 1 is the day of the "
        "upgrade; steps already run are not run again, a task of the same type for the "
        "same team still within its deadline is not given again, and the weaker "
        "protocol's steps that had not run are cancelled as superseded",
    ),
    MergeRule(
        "the alert's protocol is not a crisis response (e.g. transition care)",
        Merge.SEPARATE,
        "it runs on its own beside the response, as care work",
    ),
)


def rank(protocol_id: str) -> int | None:
    """The protocol's place on the ladder (higher is stronger); None when off it."""
    return LADDER.index(protocol_id) if protocol_id in LADDER else None


def response_among(running: Iterable[Escalation]) -> Escalation | None:
    """The household's crisis response among its running escalations (the strongest, should
    there be several from before this rule)."""
    on_ladder = [
        (r, e)
        for e in running
        if e.status is EscalationStatus.RUNNING and (r := rank(e.protocol_id)) is not None
    ]
    return max(on_ladder, key=lambda pair: pair[0])[1] if on_ladder else None


def decide(running: str | None, incoming: str | None) -> Merge:
    """How an alert whose rules call for ``incoming`` (None: no protocol) meets the response
    running ``running`` (None: none is running)."""
    if running is None:
        return Merge.START
    if incoming is None or incoming == running:
        return Merge.JOIN
    new, old = rank(incoming), rank(running)
    if new is None or old is None:
        return Merge.SEPARATE
    return Merge.UPGRADE if new > old else Merge.JOIN


def superseded_note(protocol_id: str) -> str:
    return f"superseded: the escalation upgraded to {protocol_id}"


def upgrade(
    old: ProtocolSpec,
    new: ProtocolSpec,
    escalation: Escalation,
    ctx: Context,
    now: datetime,
) -> tuple[Escalation, list[StepRecord]]:
    """The escalation moved onto ``new`` at ``now``, and the records of the steps of ``old``
    that had not run and ``new`` does not have (cancelled as superseded).

    What was done stays done: a step id already run is not pending in ``new`` either. The
    new protocol's clock starts at ``now`` — a stronger response is not late because the
    weaker one started days ago (its day-2 steps do not all fall due at once)."""
    keep = {s.id for s in new.steps}
    note = superseded_note(new.id)
    records = [
        StepRecord(
            step_id=step.id,
            title=step.heading.ko,
            due_at=due_at(escalation, step, ctx),
            executed_at=now,
            note=note,
        )
        for step in sorted(pending(old, escalation), key=lambda s: due_at(escalation, s, ctx))
        if step.id not in keep
    ]
    steps = {**escalation.steps, **{r.step_id: StepState.CANCELLED for r in records}}
    moved = replace(
        escalation,
        protocol_id=new.id,
        protocol_version=new.version,
        triggered_at=now,
        steps=steps,
        advanced=escalation.advanced & keep,
    )
    return moved, records


TaskKey = tuple[TaskType, frozenset[Role]]


def task_key(task: TaskAction) -> TaskKey:
    """Tasks are the same work when they are of the same type for the same team."""
    return task.task_type, frozenset(task.team)


def open_tasks(given: Iterable[TaskAction], now: datetime) -> set[TaskKey]:
    """The tasks already given to people in this escalation that are still within their
    deadline (a task long past its deadline does not stand for a new one)."""
    return {task_key(t) for t in given if t.deadline > now}


def without_duplicates(record: StepRecord, given: set[TaskKey]) -> StepRecord:
    """The step's record without the tasks people already have (``given``, which grows by
    the tasks kept so that one batch of steps does not repeat itself either)."""
    kept: list[TaskAction | NotifyAction | LogAction] = []
    dropped: list[str] = []
    for action in record.actions:
        if isinstance(action, TaskAction):
            key = task_key(action)
            if key in given:
                dropped.append(action.task_type.value)
                continue
            given.add(key)
        kept.append(action)
    if not dropped:
        return record
    note = "already given, not repeated: " + ", ".join(dropped)
    return record.model_copy(update={"actions": kept, "note": _joined(record.note, note)})


def _joined(*notes: str | None) -> str:
    return "; ".join(n for n in notes if n)[:256]


def tasks_in(actions: Sequence[TaskAction | NotifyAction | LogAction]) -> list[TaskAction]:
    return [a for a in actions if isinstance(a, TaskAction)]
