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
- An alert that ends on its own ends the response only if it was its last open alert; a
  response that closes resolves every alert it answers.
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

from .protocols import Context, Escalation, ProtocolSpec, StepState, Text, due_at, pending

# The crisis protocols from the weakest to the strongest response.
LADDER: tuple[str, ...] = ("welfare-check", "safety-not-confirmed", "emergency")


class Merge(StrEnum):
    START = "start"  # no response is running: the alert's protocol starts one
    JOIN = "join"  # the response goes on as it is, with the alert as more evidence
    UPGRADE = "upgrade"  # the response moves to the alert's stronger protocol
    SEPARATE = "separate"  # off the ladder: the alert's protocol runs on its own


@dataclass(frozen=True)
class MergeRule:
    """One merge rule, for people (docs/protocols.md is written from :data:`RULES`)."""

    name: str
    when: Text
    effect: Text


RULES: tuple[MergeRule, ...] = (
    MergeRule(
        Merge.START,
        Text(
            ko="가구에 진행 중인 대응이 없을 때",
            en="No escalation of the household is running",
        ),
        Text(
            ko="경보의 절차로 새 대응을 시작합니다. 종료된 대응은 새 경보를 흡수하지 않습니다.",
            en="The alert's protocol starts a new escalation; a closed one absorbs nothing.",
        ),
    ),
    MergeRule(
        Merge.JOIN,
        Text(
            ko="경보의 절차가 진행 중인 절차보다 약하거나 같을 때, 또는 절차가 없을 때",
            en="The alert's protocol is weaker than or the same as the running one, or it has none",
        ),
        Text(
            ko="경보를 진행 중인 대응의 근거로 연결합니다. 절차·일정·업무는 그대로입니다"
            " (하향 없음).",
            en="The alert is linked to the running escalation as evidence; its protocol, "
            "timing and tasks stay as they are (never a downgrade).",
        ),
    ),
    MergeRule(
        Merge.UPGRADE,
        Text(
            ko="경보의 절차가 진행 중인 절차보다 강할 때",
            en="The alert's protocol is stronger than the running one",
        ),
        Text(
            ko="대응을 더 강한 절차로 올리고 상향한 때를 1일차로 삼습니다. 이미 실행한 단계는"
            " 다시 실행하지 않고, 같은 팀의 같은 유형 업무가 기한 안에 있으면 다시 만들지"
            " 않으며, 약한 절차의 남은 단계는 '대체됨'으로 취소합니다.",
            en="The escalation moves to the stronger protocol, whose day 1 is the day of the "
            "upgrade. Steps already run are not run again, a task of the same type for the "
            "same team still within its deadline is not given again, and the weaker "
            "protocol's steps that had not run are cancelled as superseded.",
        ),
    ),
    MergeRule(
        Merge.SEPARATE,
        Text(
            ko="경보의 절차가 위기 대응이 아닐 때 (예: 퇴원 연계 돌봄)",
            en="The alert's protocol is not a crisis response (e.g. transition care)",
        ),
        Text(
            ko="위기 대응과 별도로 돌봄 업무로 진행합니다.",
            en="It runs on its own beside the response, as care work.",
        ),
    ),
    MergeRule(
        "end",
        Text(
            ko="경보 하나가 사람의 결과 없이 끝날 때 (활동 재개, 담당자 해제)",
            en="One alert ends without a person's outcome (activity resumed, an operator)",
        ),
        Text(
            ko="대응이 답하는 다른 경보가 열려 있으면 대응은 계속되고 그 경보만 해결됩니다."
            " 마지막 경보였다면 대응이 종료됩니다. 남은 경보가 더 약한 절차만 필요로 하면"
            " 대응을 종료하고 남은 경보가 필요로 하는 절차로 새로 시작합니다"
            " (강한 절차의 이유가 사라졌으므로).",
            en="While another alert of the response is open the response goes on and only "
            "that alert resolves; if it was the last, the response closes. If the remaining "
            "alerts call only for weaker protocols, the response closes and they start the "
            "one they call for (the reason for the stronger one is gone).",
        ),
    ),
    MergeRule(
        "close",
        Text(
            ko="대응이 종료될 때 (결과, 담당자, 가구 전출)",
            en="The response closes (an outcome, an operator, the household left)",
        ),
        Text(
            ko="대응이 답하던 모든 경보가 함께 해결됩니다.",
            en="Every alert it answers resolves with it.",
        ),
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


def steps_back(running: str, remaining: Iterable[str | None]) -> bool:
    """When one alert of a response ends, whether the response was stronger than anything
    its remaining alerts call for (``remaining``: their protocols): then it closes and the
    remaining alerts start the response they call for — the reason for the stronger
    protocol is gone, so its next steps (a day-2 police report) must not run."""
    held = rank(running)
    if held is None:
        return False
    ranks = [r for p in remaining if p is not None and (r := rank(p)) is not None]
    return not ranks or max(ranks) < held


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
