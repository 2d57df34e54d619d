"""What every projection shares: the unit of work's type, the timeline, the live change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from anbu_runtime.uow import UnitOfWork

from ..adapters.orm import TimelineEntry
from ..adapters.repository import ReadModel
from ..domain.changes import Change

Uow = UnitOfWork[ReadModel]


def stale(row: Any, at: datetime) -> bool:
    """The stored row is newer than an event produced ``at`` (a duplicate, a replay)."""
    return row is not None and row.updated_at > at


def earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def timeline(
    uow: Uow,
    event: Any,
    topic: str,
    household_id: str | None,
    ref: str,
    summary: str,
    label: str | None = None,
    terms: list[str] | None = None,
) -> None:
    uow.repos.add_timeline(
        TimelineEntry(
            event_id=event.event_id,
            at=event.produced_at,
            topic=topic,
            household_id=household_id,
            ref=ref,
            summary=summary,
            label=label,
            terms=terms or [],
        )
    )


def change(uow: Uow, kind: str, household_id: str | None, ref: str, summary: str) -> Change:
    return Change(kind, household_id, uow.repos.dong_of(household_id), ref, summary)
