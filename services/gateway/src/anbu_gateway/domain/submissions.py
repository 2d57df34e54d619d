"""A file submission's life: received → processing → completed, rejected or failed.

The submission and its progress live in the gateway's database, so a restarted gateway
resumes where the last acknowledged chunk ended. Counters only ever grow with committed
chunks: ``rows = accepted + duplicates + rejected`` once the submission is finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SubmissionState(StrEnum):
    RECEIVED = "received"  # stored durably, waiting for a worker
    VALIDATING = "validating"  # all_or_nothing: checking every row before publishing any
    PROCESSING = "processing"  # publishing chunk by chunk
    COMPLETED = "completed"  # every row accepted, duplicate or rejected; all published
    REJECTED = "rejected"  # refused whole: nothing of it was published
    FAILED = "failed"  # gave up after repeated errors; re-uploading the file resumes it

    @property
    def finished(self) -> bool:
        return self in (SubmissionState.COMPLETED, SubmissionState.REJECTED, SubmissionState.FAILED)


_MOVES: dict[SubmissionState, frozenset[SubmissionState]] = {
    SubmissionState.RECEIVED: frozenset(
        {
            SubmissionState.VALIDATING,
            SubmissionState.PROCESSING,
            SubmissionState.REJECTED,
            SubmissionState.FAILED,
        }
    ),
    SubmissionState.VALIDATING: frozenset(
        {
            SubmissionState.PROCESSING,
            SubmissionState.REJECTED,
            SubmissionState.FAILED,
            SubmissionState.VALIDATING,
        }
    ),
    SubmissionState.PROCESSING: frozenset(
        {SubmissionState.PROCESSING, SubmissionState.COMPLETED, SubmissionState.FAILED}
    ),
    SubmissionState.FAILED: frozenset({SubmissionState.RECEIVED}),  # a re-upload resumes it
    SubmissionState.COMPLETED: frozenset(),
    SubmissionState.REJECTED: frozenset(),
}


class IllegalMove(ValueError):
    pass


def move(current: SubmissionState, to: SubmissionState) -> SubmissionState:
    """``to`` if a submission in ``current`` may go there; raises :class:`IllegalMove`."""
    if to not in _MOVES[current]:
        raise IllegalMove(f"a submission cannot go from {current.value} to {to.value}")
    return to


@dataclass
class Progress:
    """Counters of one submission, advanced chunk by chunk."""

    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    published: int = 0
    cursor_line: int = 0  # the last physical line whose outcome is committed

    def add_chunk(
        self,
        *,
        rows: int,
        accepted: int,
        duplicates: int,
        rejected: int,
        published: int,
        last_line: int,
    ) -> None:
        if rows != accepted + duplicates + rejected:
            raise ValueError("every row of a chunk needs exactly one outcome")
        self.rows += rows
        self.accepted += accepted
        self.duplicates += duplicates
        self.rejected += rejected
        self.published += published
        self.cursor_line = max(self.cursor_line, last_line)


@dataclass(frozen=True)
class Pace:
    share: float  # of the file's lines processed (0 to 1)
    rows_per_second: float | None
    eta_seconds: float | None  # while validating or processing, once a pace is known


def pace(
    state: SubmissionState, file_lines: int, cursor_line: int, rows: int, seconds: float
) -> Pace:
    """How far a file is: the share of its lines done, the pace so far and the time left."""
    lines = max(file_lines - 1, 1)  # the header is not a row
    share = 1.0 if state is SubmissionState.COMPLETED else min(max(cursor_line - 1, 0) / lines, 1.0)
    rate = rows / seconds if seconds > 0 else None
    working = state in (SubmissionState.VALIDATING, SubmissionState.PROCESSING)
    eta = round(max(file_lines - max(cursor_line, 1), 0) / rate, 1) if rate and working else None
    return Pace(round(share, 4), round(rate, 1) if rate else None, eta)
