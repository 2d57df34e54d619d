"""Reading a partner's single signal or NDJSON batch into validated candidates.

NDJSON: one JSON object per line, UTF-8, lines numbered from 1; blank lines are skipped
and not counted. Each line is validated on its own, so every invalid line is reported with
its number and every reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import ValidationError

from .envelope import WrongPartner, to_signal
from .prepared import Prepared, PreparedAcrossProcesses, prepare_signal
from .records import RecordError, invalid


@dataclass
class Parsed(PreparedAcrossProcesses):
    PREPARED: ClassVar[str] = "candidates"  # crosses from a worker (check_body)

    candidates: list[Prepared] = field(default_factory=list)  # valid, serialised
    errors: list[RecordError] = field(default_factory=list)
    kinds: dict[str, list[int]] = field(default_factory=dict)  # kind → lines claiming it
    # the candidates' keys hashed for partitioning when a worker prepared them (else None)
    key_hashes: dict[bytes, int] | None = None

    @property
    def records(self) -> int:
        return len(self.candidates) + len(self.errors)


def count_records(body: bytes) -> int:
    """The number of non-blank lines (what a batch costs against the rate limit)."""
    return sum(1 for line in body.split(b"\n") if line.strip())


def validate_one(doc: Any, line: int, partner_id: str, now: datetime, parsed: Parsed) -> None:
    """Validate one decoded JSON document into ``parsed``."""
    if not isinstance(doc, dict):
        parsed.errors.append(RecordError(line, "a signal is a JSON object", type="invalid-json"))
        return
    kind = doc.get("kind")
    if isinstance(kind, str):
        parsed.kinds.setdefault(kind, []).append(line)
    pid = doc.get("partner_event_id")
    partner_event_id = pid if isinstance(pid, str) else None
    try:
        signal = to_signal(doc, partner_id, now)
    except WrongPartner as exc:
        parsed.errors.append(
            RecordError(line, str(exc), type="wrong-partner", partner_event_id=partner_event_id)
        )
        return
    except ValidationError as exc:
        parsed.errors.append(invalid(line, exc, partner_event_id=partner_event_id))
        return
    parsed.candidates.append(prepare_signal(line, signal))


def parse_ndjson(body: bytes, partner_id: str, now: datetime) -> Parsed:
    """Every line of an NDJSON body, validated (see the module docstring)."""
    parsed = Parsed()
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except UnicodeDecodeError:
            parsed.errors.append(RecordError(number, "the line is not UTF-8", type="invalid-json"))
            continue
        except ValueError as exc:
            parsed.errors.append(
                RecordError(number, f"the line is not JSON: {exc}", type="invalid-json")
            )
            continue
        validate_one(doc, number, partner_id, now, parsed)
    return parsed
