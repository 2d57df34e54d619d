"""Outreach's REST API: the field app's functions for other clients (OpenAPI at /docs).

Callers are people with a registry-issued token (a worker acts for themselves; operators
and dong officials see and dispatch the tasks of their area) or services and admins with
the service token, who act for the worker named in the request (tests, operations).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from anbu_contracts import ContactMode, MonitoringItems, Need, OutcomeResult, TaskStatus
from anbu_runtime.auth import Caller, Principal, UserRole, forbidden
from anbu_runtime.problems import Problem

from ..domain.offers import DeclineReason
from ..handlers import TaskNotFound, TaskStateError
from .service import OFFICE_ROLES, TaskService, TaskView, area_of, may_view

T = TypeVar("T")
WORKER = r"^W-[0-9A-Z]{3,26}$"
WorkerIdField = Annotated[str, Field(pattern=WORKER)]


class ActAs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker_id: WorkerIdField | None = Field(
        default=None, description="Required with the service token; a person acts as themselves."
    )


class AcceptIn(ActAs):
    pass


class DeclineIn(ActAs):
    reason: DeclineReason
    note: str | None = Field(
        default=None, max_length=1000, description="Stays in outreach; never published."
    )


class StartIn(ActAs):
    confirmed: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="The task's preconditions the team confirms (e.g. police_liaison_present).",
    )


class OutcomeIn(ActAs):
    result: OutcomeResult
    contact_mode: ContactMode = ContactMode.VISIT
    monitoring: MonitoringItems = Field(default_factory=MonitoringItems)
    needs: list[Need] = Field(default_factory=list, max_length=11)
    follow_up: bool = False
    note: str | None = Field(
        default=None, max_length=4000, description="Stays in outreach (note_ref in the event)."
    )


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    worker_id: WorkerIdField


class OutcomeView(BaseModel):
    outcome_id: UUID
    task_id: UUID
    result: OutcomeResult
    note_ref: str | None


def acting_worker(who: Principal, worker_id: str | None) -> str:
    """The worker a request acts for: a person is themselves; a service names someone."""
    if who.is_admin:
        if worker_id is None:
            raise Problem(
                422, "worker_id required", "name the worker to act for", type_="validation"
            )
        return worker_id
    if who.worker_id is None:
        raise forbidden("this account has no worker profile")
    if worker_id not in (None, who.worker_id):
        raise forbidden("people act for themselves only")
    return who.worker_id


def router(service: TaskService) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["tasks"])

    async def guarded(call: Awaitable[T]) -> T:
        try:
            return await call
        except TaskNotFound as exc:
            raise Problem(404, "Not found", str(exc)) from exc
        except TaskStateError as exc:
            raise Problem(409, "Task state conflict", str(exc), type_="task-state") from exc

    @api.get(
        "/tasks",
        response_model=list[TaskView],
        summary="Open tasks: a worker's own, or (office staff) an area's",
    )
    async def list_tasks(
        who: Caller,
        worker_id: Annotated[str | None, Query(pattern=WORKER)] = None,
        dong_code: Annotated[str | None, Query(pattern=r"^\d{10}$")] = None,
        status: Annotated[list[TaskStatus] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[TaskView]:
        if dong_code is not None or status is not None:
            if not (who.is_admin or who.has_role(*OFFICE_ROLES)):
                raise forbidden("area listings are for office staff")
            if dong_code is not None and not who.sees_dong(dong_code):
                raise forbidden(f"dong {dong_code} is outside your area")
            dongs = (
                [dong_code]
                if dong_code
                else sorted(who.dong_codes)
                if who.role is UserRole.DONG_OFFICIAL
                else None  # admins; operators are filtered by district below
            )
            statuses = [s.value for s in (status or [])] or [
                TaskStatus.OFFERED.value,
                TaskStatus.ACCEPTED.value,
                TaskStatus.STARTED.value,
                TaskStatus.UNASSIGNED.value,
            ]
            loaded = await service.in_area(dongs, statuses, limit)
            if not who.is_admin and who.role is not None and dong_code is None:
                loaded = [t for t in loaded if t.task.dong_code and who.sees_dong(t.task.dong_code)]
            return [TaskView.of(t) for t in loaded]
        worker = acting_worker(who, worker_id) if (worker_id or not who.is_admin) else None
        if worker is None:
            raise Problem(422, "worker_id required", "name a worker or an area", type_="validation")
        return [TaskView.of(t) for t in (await service.inbox(worker))[:limit]]

    @api.get("/tasks/{task_id}", response_model=TaskView, summary="One task with its team")
    async def get_task(task_id: UUID, who: Caller) -> TaskView:
        loaded = await guarded(service.view(task_id))
        if not may_view(who, loaded):
            raise Problem(404, "Not found", f"task {task_id} not found")
        return TaskView.of(loaded)

    @api.post("/tasks/{task_id}/accept", response_model=TaskView, summary="Accept an offer")
    async def accept(task_id: UUID, body: AcceptIn, who: Caller) -> TaskView:
        worker = acting_worker(who, body.worker_id)
        return TaskView.of(await guarded(service.accept(task_id, worker)))

    @api.post(
        "/tasks/{task_id}/decline",
        response_model=TaskView,
        summary="Decline an offer with a reason; it goes to the next candidate",
    )
    async def decline(task_id: UUID, body: DeclineIn, who: Caller) -> TaskView:
        worker = acting_worker(who, body.worker_id)
        return TaskView.of(await guarded(service.decline(task_id, worker, body.reason, body.note)))

    @api.post(
        "/tasks/{task_id}/start",
        response_model=TaskView,
        summary="On my way: the whole team has accepted and sets out",
    )
    async def start(task_id: UUID, body: StartIn, who: Caller) -> TaskView:
        worker = acting_worker(who, body.worker_id)
        return TaskView.of(await guarded(service.start(task_id, worker, body.confirmed)))

    @api.post(
        "/tasks/{task_id}/outcome",
        response_model=OutcomeView,
        status_code=201,
        summary="Record what was found (any member who accepted); completes the task",
    )
    async def record_outcome(task_id: UUID, body: OutcomeIn, who: Caller) -> OutcomeView:
        worker = acting_worker(who, body.worker_id)
        outcome = await guarded(
            service.outcome(
                task_id,
                worker,
                body.result,
                body.contact_mode,
                body.monitoring,
                body.needs,
                body.follow_up,
                body.note,
            )
        )
        return OutcomeView(
            outcome_id=outcome.outcome_id,
            task_id=task_id,
            result=outcome.result,
            note_ref=outcome.note_ref,
        )

    @api.post(
        "/tasks/{task_id}/offer",
        response_model=TaskView,
        summary="Offer a vacant slot to a chosen person (duty officer, operators)",
    )
    async def offer(task_id: UUID, body: OfferIn, who: Caller) -> TaskView:
        if not (who.is_admin or who.has_role(*OFFICE_ROLES)):
            raise forbidden("dispatching by hand is for office staff")
        loaded = await guarded(service.view(task_id))
        if not may_view(who, loaded):
            raise Problem(404, "Not found", f"task {task_id} not found")
        return TaskView.of(await guarded(service.offer(task_id, body.worker_id)))

    @api.get(
        "/figures",
        tags=["figures"],
        summary="Tasks by status; routine contacts due and overdue by tier and cycle "
        "(office staff: their area)",
    )
    async def get_figures(who: Caller) -> dict[str, Any]:
        # What an office plans its week with, for the area it serves: an operator their
        # districts, a dong official their dongs. Field workers and volunteers have their
        # own tasks (GET /v1/tasks); an area's counts are not theirs to read.
        if not who.has_role(*OFFICE_ROLES):
            raise forbidden("figures are for office staff of the area")
        return await service.figures(area_of(who))

    return api
