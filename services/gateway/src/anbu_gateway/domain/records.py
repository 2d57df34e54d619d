"""What happened to each record of a submission, and how a batch is decided.

A submission is one signal, an NDJSON batch or a CSV file. Every record gets exactly one
outcome: accepted (published now, acknowledged by Kafka), duplicate (accepted before: not
published again) or rejected (invalid, with its line and every reason). The partner chooses
what a partly invalid batch means (:class:`Mode`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar

from pydantic import ValidationError

from anbu_contracts import Signal

PROBLEM_BASE = "https://anbu.example/problems/"


class Mode(StrEnum):
    """What a partly invalid batch or file means; the partner chooses per request."""

    ALL_OR_NOTHING = "all_or_nothing"  # one invalid record refuses the whole batch
    ACCEPT_VALID = "accept_valid"  # valid records are accepted, invalid ones reported


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class FieldError:
    location: tuple[str | int, ...]
    message: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        return {"location": list(self.location), "message": self.message, "type": self.type}


@dataclass(frozen=True)
class RecordError:
    """Why one record was refused: its line (and CSV row), the reason, and the field errors."""

    line: int
    reason: str
    type: str = "invalid-signal"
    row: int | None = None
    partner_event_id: str | None = None
    errors: tuple[FieldError, ...] = ()

    def as_problem(self) -> dict[str, Any]:
        """This record's refusal as an RFC 9457 problem object (embedded in a report)."""
        out: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": _TITLES.get(self.type, "Record refused"),
            "status": 409 if self.type == "reused-partner-event-id" else 422,
            "detail": self.reason,
            "line": self.line,
        }
        if self.row is not None:
            out["row"] = self.row
        if self.partner_event_id is not None:
            out["partner_event_id"] = self.partner_event_id
        if self.errors:
            out["errors"] = [e.as_dict() for e in self.errors]
        return out


_TITLES = {
    "invalid-signal": "Signal does not match its contract",
    "invalid-json": "Line is not a JSON object",
    "invalid-csv-row": "CSV row cannot be read",
    "truncated-record": "Record is truncated",
    "reused-partner-event-id": "partner_event_id already used for a different signal",
    "wrong-partner": "Signal names another partner",
}


def field_errors(exc: ValidationError) -> tuple[FieldError, ...]:
    """Pydantic's errors as plain field errors (no input values: they may hold data)."""
    return tuple(
        FieldError(tuple(e["loc"]), e["msg"], e["type"]) for e in exc.errors(include_url=False)
    )


def invalid(
    line: int,
    exc: ValidationError,
    *,
    row: int | None = None,
    partner_event_id: str | None = None,
) -> RecordError:
    errors = field_errors(exc)
    fields = sorted({".".join(str(p) for p in e.location) or "(record)" for e in errors})
    return RecordError(
        line=line,
        reason=f"{len(errors)} validation error(s) in: {', '.join(fields)}",
        row=row,
        partner_event_id=partner_event_id,
        errors=errors,
    )


@dataclass(frozen=True)
class Candidate:
    """A record that passed validation, with where it came from."""

    line: int
    signal: Signal
    digest: str
    row: int | None = None

    @property
    def partner_event_id(self) -> str:
        return self.signal.partner_event_id


class RecordResult(NamedTuple):
    """One record's outcome in a batch answer (a named tuple: one per line of a batch)."""

    line: int
    outcome: Outcome
    partner_event_id: str | None = None
    event_id: str | None = None
    detail: str | None = None


@dataclass
class BatchReport:
    """The answer to a batch: counts, each record's outcome, each refusal as a problem."""

    records: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    results: list[RecordResult] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)

    def add(self, result: RecordResult) -> None:
        self.records += 1
        self.results.append(result)
        if result.outcome is Outcome.ACCEPTED:
            self.accepted += 1
        elif result.outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.rejected += 1

    def reject(self, error: RecordError) -> None:
        self.errors.append(error)
        self.add(
            RecordResult(error.line, Outcome.REJECTED, error.partner_event_id, detail=error.reason)
        )


class Keyed(Protocol):
    """What deduplication needs of a record (a :class:`Candidate` or a prepared record)."""

    @property
    def line(self) -> int: ...
    @property
    def row(self) -> int | None: ...
    @property
    def partner_event_id(self) -> str: ...
    @property
    def digest(self) -> str: ...


K = TypeVar("K", bound=Keyed)


def split_duplicates_within(candidates: Sequence[K]) -> tuple[list[K], list[tuple[K, K]]]:
    """First occurrences, and (later, first) pairs of records reusing a partner event id.

    A later record with the same content is a duplicate; with other content, a reused id.
    """
    first: dict[str, K] = {}
    kept: list[K] = []
    repeats: list[tuple[K, K]] = []
    for candidate in candidates:
        seen = first.get(candidate.partner_event_id)
        if seen is None:
            first[candidate.partner_event_id] = candidate
            kept.append(candidate)
        else:
            repeats.append((candidate, seen))
    return kept, repeats


def reused_id(candidate: Keyed, first_line: int | None = None) -> RecordError:
    where = f" (line {first_line})" if first_line is not None else ""
    return RecordError(
        line=candidate.line,
        row=candidate.row,
        partner_event_id=candidate.partner_event_id,
        type="reused-partner-event-id",
        reason=(
            f"partner_event_id {candidate.partner_event_id!r} was already used{where} for a "
            "signal with different content; use a new id for a new observation"
        ),
    )


def kinds_outside(allowed: Iterable[str], kinds: Iterable[str]) -> list[str]:
    """The kinds in ``kinds`` that a key allowed only ``allowed`` may not send, sorted."""
    allowed_set = set(allowed)
    return sorted({k for k in kinds if k not in allowed_set})
