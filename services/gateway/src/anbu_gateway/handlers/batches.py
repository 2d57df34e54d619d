"""Single signals and NDJSON batches: validate, check scope and mode, publish, report."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

from ..domain.batches import Parsed
from ..domain.prepared import Prepared
from ..domain.records import (
    BatchReport,
    Mode,
    Outcome,
    RecordError,
    RecordResult,
    kinds_outside,
    reused_id,
    split_duplicates_within,
)
from ..metrics import SIGNALS
from .publishing import Publisher, ReusedIds

_line = attrgetter("line")


class OutsideScope(Exception):
    def __init__(self, kinds: list[str], lines: list[int]) -> None:
        super().__init__(f"this key may not send {', '.join(kinds)}")
        self.kinds = kinds
        self.lines = lines


class BatchRefused(Exception):
    """all_or_nothing with at least one invalid record: nothing was published."""

    def __init__(self, records: int, errors: list[RecordError]) -> None:
        super().__init__(f"{len(errors)} of {records} records are invalid")
        self.records = records
        self.errors = sorted(errors, key=lambda e: e.line)


def check_scope(parsed: Parsed, allowed: frozenset[str]) -> None:
    """Refuse the whole request when it holds a kind the key may not send."""
    outside = kinds_outside(allowed, parsed.kinds)
    if outside:
        lines = sorted(line for kind in outside for line in parsed.kinds[kind])
        raise OutsideScope(outside, lines)


async def ingest(
    publisher: Publisher,
    partner_id: str,
    allowed: frozenset[str],
    parsed: Parsed,
    mode: Mode,
    channel: str,
) -> BatchReport:
    """Publish the valid records of ``parsed`` once each and report every record's outcome.

    Raises :class:`OutsideScope` (nothing published) and, in ``all_or_nothing`` mode,
    :class:`BatchRefused` when any record is invalid (nothing published).
    """
    check_scope(parsed, allowed)
    errors = list(parsed.errors)
    all_or_nothing = mode is Mode.ALL_OR_NOTHING
    if all_or_nothing and errors:  # refused anyway: list the reused ids with the rest
        errors.extend(await _reused_ids(publisher, partner_id, parsed.candidates))
        _count(parsed.candidates, partner_id, channel, Outcome.REJECTED)
        raise BatchRefused(parsed.records, errors)
    try:
        result = await publisher.publish(
            partner_id,
            publisher.new_owner(),
            parsed.candidates,
            keep_payload=True,
            key_hashes=parsed.key_hashes,
            refuse_reused=all_or_nothing,
        )
    except ReusedIds as exc:
        _count(parsed.candidates, partner_id, channel, Outcome.REJECTED)
        raise BatchRefused(parsed.records, exc.errors) from exc
    refusals = sorted(errors + result.rejected, key=_line)
    results = [
        RecordResult(c.line, Outcome.ACCEPTED, c.partner_event_id, c.event_id)
        for c in result.accepted
    ]
    results += [
        RecordResult(c.line, Outcome.DUPLICATE, c.partner_event_id, c.event_id, why)
        for c, why in result.duplicates
    ]
    results += [
        RecordResult(e.line, Outcome.REJECTED, e.partner_event_id, detail=e.reason)
        for e in refusals
    ]
    results.sort(key=_line)  # one outcome per line: accepted, duplicate or refused
    report = BatchReport(
        records=len(results),
        accepted=len(result.accepted),
        duplicates=len(result.duplicates),
        rejected=len(refusals),
        results=results,
        errors=refusals,
    )
    _count(result.accepted, partner_id, channel, Outcome.ACCEPTED)
    _count([c for c, _ in result.duplicates], partner_id, channel, Outcome.DUPLICATE)
    SIGNALS.labels("unknown", partner_id, channel, Outcome.REJECTED.value).inc(
        len(errors) + len(result.rejected)
    )
    return report


async def _reused_ids(
    publisher: Publisher, partner_id: str, candidates: list[Prepared]
) -> list[RecordError]:
    """Records reusing a partner event id for other content (refused before publishing)."""
    kept, repeats = split_duplicates_within(candidates)
    errors = [
        reused_id(later, first.line) for later, first in repeats if later.digest != first.digest
    ]

    ids = [c.partner_event_id for c in kept]
    known = await publisher.tx.read(lambda repos: repos.log_entries(partner_id, ids))
    errors.extend(
        reused_id(c)
        for c in kept
        if (e := known.get(c.partner_event_id)) is not None and e.digest != c.digest
    )
    return errors


def _count(candidates: list[Prepared], partner_id: str, channel: str, outcome: Outcome) -> None:
    for kind, n in Counter(c.kind for c in candidates).items():
        SIGNALS.labels(kind, partner_id, channel, outcome.value).inc(n)
