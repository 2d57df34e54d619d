"""Outreach's tasks and outcomes, and the notifier's delivery statuses."""

from __future__ import annotations

from anbu_contracts import (
    NotificationStatusEvent,
    OutcomeEvent,
    OutcomeResult,
    TaskEvent,
    TaskStatus,
)
from anbu_contracts.outreach import ItemState

from ..adapters.orm import NotificationView, OutcomeView, TaskView
from ..domain.changes import Change
from .common import Uow, change, earliest, stale, timeline

ACCEPTED_OR_LATER = frozenset({TaskStatus.ACCEPTED, TaskStatus.STARTED, TaskStatus.COMPLETED})


def on_task(event: TaskEvent, uow: Uow) -> Change:
    summary = f"task {event.task_type.value} {event.status.value}"
    timeline(uow, event, "outreach.task", event.household_id, str(event.task_id), summary)
    row = uow.repos.get(TaskView, event.task_id)
    at = event.produced_at
    if row is None:
        row = TaskView(
            task_id=event.task_id,
            household_id=event.household_id,
            task_type=event.task_type.value,
            status=event.status.value,
            assignees=list(event.assignees),
            deadline=event.deadline,
            created_at=at,
            updated_at=at,
        )
    row.created_at = earliest(row.created_at, at)
    if event.status in ACCEPTED_OR_LATER:
        row.accepted_at = earliest(row.accepted_at, at)
    if event.status is TaskStatus.COMPLETED:
        row.completed_at = earliest(row.completed_at, at)
    if row.updated_at <= at:
        row.status, row.assignees = event.status.value, list(event.assignees)
        row.dong_code, row.deadline = event.dong_code, event.deadline
        row.escalation_id, row.step_id = event.escalation_id, event.step_id
        row.updated_at = at
    uow.repos.add(row)
    return change(uow, "task", event.household_id, str(event.task_id), summary)


def on_outcome(event: OutcomeEvent, uow: Uow) -> Change:
    summary = f"outcome {event.result.value} by {event.recorded_by}"
    ref = str(event.outcome_id)
    timeline(uow, event, "outreach.outcome", event.household_id, ref, summary)
    if uow.repos.get(OutcomeView, event.outcome_id) is None:
        uow.repos.add(
            OutcomeView(
                outcome_id=event.outcome_id,
                household_id=event.household_id,
                result=event.result.value,
                contact_mode=event.contact_mode.value,
                recorded_by=event.recorded_by,
                needs=[n.value for n in event.needs],
                services_linked=event.monitoring.service_linkage is ItemState.OK
                and event.result is OutcomeResult.CONTACT_CONFIRMED,
                follow_up=event.follow_up,
                recorded_at=event.contacted_at or event.produced_at,
            )
        )
    return change(uow, "outcome", event.household_id, ref, summary)


def on_notification(event: NotificationStatusEvent, uow: Uow) -> Change:
    summary = f"notification {event.status.value}"
    timeline(uow, event, "notify.status", event.household_id, event.request_key, summary)
    row = uow.repos.get(NotificationView, event.request_key)
    if not stale(row, event.produced_at):
        row = row or NotificationView(
            request_key=event.request_key, status="", updated_at=event.produced_at
        )
        row.status, row.household_id = event.status.value, event.household_id
        row.channel = event.channel.value if event.channel else row.channel
        row.reason, row.attempt, row.updated_at = event.reason, event.attempt, event.produced_at
        uow.repos.add(row)
    return change(uow, "notification", event.household_id, event.request_key, summary)
