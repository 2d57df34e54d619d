"""What the open pages are told after a batch is folded."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """What the live pages should be told about."""

    kind: str  # alert, escalation, task, outcome, notification, case
    household_id: str | None
    dong_code: str | None
    ref: str
    summary: str
