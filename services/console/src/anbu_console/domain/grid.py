"""The dong grid: open alerts per 1,000 monitored households, on a five-step colour scale."""

from __future__ import annotations

# Upper bounds (exclusive) of the first four steps, in open alerts per 1,000 households.
HEAT_STEPS: tuple[float, ...] = (0.0001, 5.0, 20.0, 50.0)


def alerts_per_thousand(open_alerts: int, monitored: int) -> float | None:
    """Open alerts per 1,000 monitored households; None where nobody is monitored."""
    if monitored <= 0:
        return None
    return round(1000.0 * open_alerts / monitored, 1)


def heat(rate: float | None) -> int:
    """The colour step 0 (none) to 4 (highest) of a rate; unknown rates are step 0."""
    if rate is None:
        return 0
    for step, bound in enumerate(HEAT_STEPS):
        if rate < bound:
            return step
    return len(HEAT_STEPS)
