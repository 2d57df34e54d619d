"""Outreach's REST API: field staff see their tasks, accept them and record outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from anbu_contracts import ContactMode, MonitoringItems, Need, OutcomeResult
from anbu_runtime.auth import ServiceCaller
from anbu_runtime.problems import Problem
from anbu_runtime.service import ServiceRuntime

from ..adapters.orm import TaskRow
from ..handlers import Outreach, TaskNotFound, TaskStateError

T = TypeVar("T")
WorkerIdField = Annotated[str, Field(pattern=r"^W-[0-9A-Z]{3,26}$")]


class TaskView(BaseModel):
    task_id: UUID
    household_id: str
    dong_code: str | None
    task_type: str
    team: list[str]
    deadline: datetime
    status: str
    assignees: list[str]
    accepted_by: list[str]
    escalation_id: UUID | None
    step_id: str | None

    @classmethod
    def of(cls, row: TaskRow) -> TaskView:
        return cls.model_validate(row, from_attributes=True)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker_id: WorkerIdField


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker_id: WorkerIdField
    result: OutcomeResult
    contact_mode: ContactMode = ContactMode.VISIT
    monitoring: MonitoringItems = Field(default_factory=MonitoringItems)
    needs: list[Need] = Field(default_factory=list)
    follow_up: bool = False
    note: str | None = Field(default=None, max_length=4000)


class OutcomeView(BaseModel):
    outcome_id: UUID
    task_id: UUID
    result: OutcomeResult


def router(runtime: ServiceRuntime, outreach: Outreach) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["tasks"])

    async def run(fn: Callable[[Session], T]) -> T:
        try:
            result = await runtime.db.run(fn)
        except TaskNotFound as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except TaskStateError as exc:
            raise Problem(409, "Task state conflict", str(exc), type_="task-state") from exc
        runtime.outbox.notify()
        return result

    @api.get("/tasks", response_model=list[TaskView], summary="Open tasks offered to a worker")
    async def list_tasks(
        _: ServiceCaller,
        worker_id: Annotated[str, Query(pattern=r"^W-[0-9A-Z]{3,26}$")],
    ) -> list[TaskView]:
        rows = await run(lambda s: outreach.tasks_for(s, worker_id))
        return [TaskView.of(r) for r in rows]

    @api.get("/tasks/{task_id}", response_model=TaskView)
    async def get_task(task_id: UUID, _: ServiceCaller) -> TaskView:
        return TaskView.of(await run(lambda s: outreach.task(s, task_id)))

    @api.post("/tasks/{task_id}/accept", response_model=TaskView)
    async def accept(task_id: UUID, body: AcceptIn, _: ServiceCaller) -> TaskView:
        return TaskView.of(await run(lambda s: outreach.accept(s, task_id, body.worker_id)))

    @api.post("/tasks/{task_id}/outcome", response_model=OutcomeView, status_code=201)
    async def record_outcome(task_id: UUID, body: OutcomeIn, _: ServiceCaller) -> OutcomeView:
        outcome = await run(
            lambda s: outreach.record_outcome(
                s,
                task_id,
                body.worker_id,
                body.result,
                body.contact_mode,
                body.monitoring,
                body.needs,
                body.follow_up,
                body.note,
            )
        )
        return OutcomeView(outcome_id=outcome.outcome_id, task_id=task_id, result=outcome.result)

    return api
