"""How far a bulk import is, and how long the rest should take."""

from __future__ import annotations

from dataclasses import dataclass


def eta_seconds(elapsed: float, bytes_done: int, bytes_total: int) -> float | None:
    """Seconds left if the rest of the file goes at the pace so far; None before any pace
    is known. Bytes, not rows, measure the way: the row count is known only at the end."""
    if bytes_total <= 0 or bytes_done <= 0 or elapsed <= 0:
        return None
    share = min(bytes_done / bytes_total, 1.0)
    return elapsed * (1 - share) / share


@dataclass(frozen=True)
class Pace:
    share: float  # of the file's bytes processed, 0 to 1 (rounded to 4 places)
    rows_per_second: float | None  # None before any time has passed
    eta_seconds: float | None  # None once finished, and before a pace is known


def pace(*, running: bool, rows: int, bytes_done: int, bytes_total: int, elapsed: float) -> Pace:
    """Where an import stands after ``elapsed`` seconds: the one computation behind the
    status endpoint, the ``ops.job.v1`` event and the command line's counter, so that
    they cannot disagree. An empty file is wholly done; an import that stopped early (failed,
    interrupted) keeps the share it reached."""
    share = min(max(bytes_done, 0) / bytes_total, 1.0) if bytes_total > 0 else 1.0
    rate = round(rows / elapsed, 1) if elapsed > 0 else None
    eta = eta_seconds(elapsed, bytes_done, bytes_total) if running else None
    return Pace(round(share, 4), rate, None if eta is None else round(eta, 1))
