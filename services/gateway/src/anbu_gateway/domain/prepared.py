"""A validated record reduced to what publishing needs: ids, digest and serialised value.

Validation and serialisation are the CPU-heavy part of ingestion and run in worker
processes (see ``adapters/validation_pool.py``); what crosses the process boundary and
what the publisher, the submission log and the reports use is this small, picklable record,
not the pydantic signal.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, cast

from anbu_contracts import Signal

from .envelope import kind_of, serialised
from .records import Candidate


class Prepared(NamedTuple):
    """A record ready to send: where it came from, its identity and its serialised value.

    A named tuple: tens of thousands a second cross from the worker processes, and a tuple
    pickles several times cheaper than a (slotted) dataclass.
    """

    line: int
    partner_event_id: str
    kind: str  # the SignalKind value
    digest: str
    event_id: str
    household_id: str
    correlation_id: str | None
    value: bytes
    row: int | None = None

    @property
    def key(self) -> bytes:
        return self.household_id.encode()

    def headers(self) -> list[tuple[str, bytes]]:
        """The Kafka headers (as the runtime's producer writes them for every event)."""
        headers = [("event_id", self.event_id.encode())]
        if self.correlation_id is not None:
            headers.append(("correlation_id", self.correlation_id.encode()))
        return headers


class PreparedAcrossProcesses:
    """Pickles the ``list[Prepared]`` attribute named ``PREPARED`` as plain tuples.

    A named tuple pickles through a Python call per record (``__getnewargs__``), a plain
    tuple at C speed: for a 5,000-row chunk ~2.5 µs a record less in the worker process
    (docs/performance.md). For dataclasses that travel back from a worker.
    """

    PREPARED: ClassVar[str]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state[self.PREPARED] = list(map(tuple, state[self.PREPARED]))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state[self.PREPARED] = list(map(Prepared._make, state[self.PREPARED]))
        self.__dict__.update(state)


def prepare_signal(line: int, signal: Signal, row: int | None = None) -> Prepared:
    """A validated signal ready to send, serialised once (its digest comes from the value)."""
    value, digest = serialised(signal)
    # positional (Prepared's field order): a keyword call costs more, once per record
    return Prepared(
        line,
        signal.partner_event_id,
        cast(Any, signal).kind,  # a concrete model's literal: the SignalKind value
        digest,
        str(signal.event_id),
        signal.household_id,
        signal.correlation_id,
        value,
        row,
    )


def prepare(candidate: Candidate) -> Prepared:
    signal = candidate.signal
    return Prepared(
        line=candidate.line,
        partner_event_id=signal.partner_event_id,
        kind=kind_of(signal).value,
        digest=candidate.digest,
        event_id=str(signal.event_id),
        household_id=signal.household_id,
        correlation_id=signal.correlation_id,
        value=signal.model_dump_json().encode(),
        row=candidate.row,
    )
