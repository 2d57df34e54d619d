"""Programme KPIs: target, actual and achievement rate (달성률)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"


@dataclass(frozen=True)
class KpiDefinition:
    kpi_id: str
    unit: str  # "count", "percent" or "minutes"
    direction: Direction


CATALOGUE: tuple[KpiDefinition, ...] = (
    KpiDefinition("households_found", "count", Direction.HIGHER_IS_BETTER),
    KpiDefinition("alerts_resolved_in_48h", "percent", Direction.HIGHER_IS_BETTER),
    KpiDefinition("task_acceptance_minutes", "minutes", Direction.LOWER_IS_BETTER),
    KpiDefinition("tasks_on_time", "percent", Direction.HIGHER_IS_BETTER),
    KpiDefinition("notifications_delivered", "percent", Direction.HIGHER_IS_BETTER),
    KpiDefinition("needs_linked_to_services", "percent", Direction.HIGHER_IS_BETTER),
)

DEFAULT_TARGETS: dict[str, float] = {
    "households_found": 50,
    "alerts_resolved_in_48h": 90,
    "task_acceptance_minutes": 60,
    "tasks_on_time": 95,
    "notifications_delivered": 99,
    "needs_linked_to_services": 80,
}


@dataclass(frozen=True)
class KpiRow:
    kpi_id: str
    unit: str
    direction: Direction
    target: float | None
    actual: float | None
    achievement: float | None  # percent of target; None when it cannot be computed


def achievement(target: float | None, actual: float | None, direction: Direction) -> float | None:
    """Achievement in percent: actual/target, or target/actual when lower is better.

    A lower-is-better KPI at zero has met any target (100 % is reported, not infinity).
    """
    if target is None or actual is None or target <= 0:
        return None
    if direction is Direction.HIGHER_IS_BETTER:
        return round(100.0 * actual / target, 1)
    if actual <= 0:
        return 100.0
    return round(100.0 * target / actual, 1)


def kpi_table(targets: dict[str, float], actuals: dict[str, float | None]) -> list[KpiRow]:
    """One row per catalogued KPI, in catalogue order."""
    rows = []
    for kpi in CATALOGUE:
        target, actual = targets.get(kpi.kpi_id), actuals.get(kpi.kpi_id)
        rows.append(
            KpiRow(
                kpi.kpi_id,
                kpi.unit,
                kpi.direction,
                target,
                actual,
                achievement(target, actual, kpi.direction),
            )
        )
    return rows
