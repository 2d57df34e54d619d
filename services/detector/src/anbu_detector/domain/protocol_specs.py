"""Escalation protocols as data: the models a protocol file (``config/protocols/*.yaml``)
is read into — steps, their timing, conditions, deadlines and actions — validated strictly.
The state machine that runs them is :mod:`.protocols`.
"""

from __future__ import annotations

from datetime import time, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from anbu_contracts import (
    EscalationClosure,
    OutcomeResult,
    RecipientKind,
    Role,
    TaskType,
    Urgency,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    ko: str
    en: str


class Condition(StrEnum):
    """What must hold for a step or an action (all listed must hold)."""

    MEDICAL_AID = "medical_aid"
    LANDLORD_ON_FILE = "landlord_on_file"
    GUARDIANS_ON_FILE = "guardians_on_file"
    TRIGGERED_BY_VISIT = "triggered_by_visit"
    ABUSE = "abuse"  # the trigger was a report of abuse: police (112), not only 119
    NOT_ABUSE = "not_abuse"


class Deadline(_Strict):
    """When a task is due: after a duration, after working days, or by the signal's date."""

    after: timedelta | None = None
    working_days: int | None = Field(default=None, ge=1, le=60)
    by_signal_date: bool = False

    @model_validator(mode="after")
    def _one(self) -> Deadline:
        if (self.after is None) == (self.working_days is None):
            raise ValueError("a deadline needs exactly one of `after` or `working_days`")
        return self


class TaskSpec(_Strict):
    kind: Literal["task"] = "task"
    id: str
    task_type: TaskType
    team: list[Role] = Field(min_length=1)
    deadline: Deadline
    when: list[Condition] = Field(default_factory=list)
    preconditions: list[str] = Field(default_factory=list)
    title: Text | None = None


class NotifySpec(_Strict):
    kind: Literal["notify"] = "notify"
    id: str
    recipient: RecipientKind
    template: str
    urgency: Urgency = Urgency.HIGH
    when: list[Condition] = Field(default_factory=list)


class LogSpec(_Strict):
    kind: Literal["log"] = "log"
    id: str
    entry_type: str
    when: list[Condition] = Field(default_factory=list)


ActionSpec = Annotated[TaskSpec | NotifySpec | LogSpec, Field(discriminator="kind")]


class StepSpec(_Strict):
    id: str
    title: Text
    offset: timedelta | None = Field(default=None, description="Due this long after the trigger.")
    day: int | None = Field(default=None, ge=1, le=60, description="Day N, day 1 = trigger day.")
    at: time | None = Field(default=None, description="Local wall-clock time on `day`.")
    when: list[Condition] = Field(default_factory=list)
    requires_approval: str | None = Field(
        default=None, description="An approval of this kind must be recorded first."
    )
    advance_on_not_found: bool = Field(
        default=False, description="A 'not found' outcome brings this step forward."
    )
    completes_protocol: bool = Field(
        default=False, description="An outcome for this step's task ends the protocol."
    )
    actions: list[ActionSpec] = Field(default_factory=list)

    @property
    def heading(self) -> Text:
        """The title with its timing in front ("Day 2, 09:00 — ..."), written from
        ``day``/``at`` or ``offset`` so that changing a step's time is one edit."""
        ko, en = _timing_label(self)
        title_en = self.title.en[:1].lower() + self.title.en[1:]  # mid-sentence after the dash
        return Text(ko=f"{ko} — {self.title.ko}", en=f"{en} — {title_en}")

    @model_validator(mode="after")
    def _timing(self) -> StepSpec:
        local = self.day is not None and self.at is not None
        if (self.offset is not None) == local or (self.day is None) != (self.at is None):
            raise ValueError(f"step {self.id}: give either `offset`, or both `day` and `at`")
        return self


def _timing_label(step: StepSpec) -> tuple[str, str]:
    """When a step runs, in Korean and English: a local time on day N, or an offset."""
    if step.day is not None and step.at is not None:
        clock = step.at.strftime("%H:%M")
        return f"{step.day}일차 {clock}", f"Day {step.day}, {clock}"
    assert step.offset is not None
    if step.offset == timedelta(0):
        return "즉시", "At once"
    if step.offset % timedelta(days=1) == timedelta(0):
        day = step.offset.days + 1  # the trigger day is day 1
        return f"{day}일째", f"Day {day}"
    hours = step.offset / timedelta(hours=1)
    shown = f"{hours:g}"
    return f"{shown}시간 후", f"After {shown} h"


class ProtocolSpec(_Strict):
    id: str
    version: str
    title: Text
    description: Text
    steps: list[StepSpec] = Field(min_length=1)
    closes_on: dict[OutcomeResult, EscalationClosure] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_steps(self) -> ProtocolSpec:
        ids = [s.id for s in self.steps]
        if len(ids) != len(set(ids)):
            raise ValueError(f"protocol {self.id} repeats a step id")
        return self

    def step(self, step_id: str) -> StepSpec:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(f"protocol {self.id} has no step {step_id}")
