"""How far a bulk import is, and how long the rest should take."""

from __future__ import annotations


def eta_seconds(elapsed: float, bytes_done: int, bytes_total: int) -> float | None:
    """Seconds left if the rest of the file goes at the pace so far; None before any pace
    is known. Bytes, not rows, measure the way: the row count is known only at the end."""
    if bytes_total <= 0 or bytes_done <= 0 or elapsed <= 0:
        return None
    share = min(bytes_done / bytes_total, 1.0)
    return elapsed * (1 - share) / share
