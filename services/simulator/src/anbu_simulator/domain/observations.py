"""What the simulation produces: partner records, and the emitter that stamps their flaws.

:class:`Emitter` is the simulation's one random generator and its delivery-ordered heap:
every record passes through :meth:`Emitter.emit`, which draws its event id and whether
the partner misbehaves (duplicate, late, malformed). The draws' order is the seed's
contract: moving an ``emit`` call changes the world a seed gives.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, SafeUUID
from zoneinfo import ZoneInfo

from anbu_contracts import SignalKind
from anbu_contracts.signals import SIGNAL_MODELS, Signal

from .partners import Partner

SEOUL = ZoneInfo("Asia/Seoul")

# ``UUID(int=n, version=4)`` without its argument checks: the same bits (RFC 4122 variant,
# version 4) and the same object, at a fifth of the cost — one per record emitted.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)
_new_object = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown  # an enum member looked up through its class costs a property call

# "<partner>-", the partner event id's prefix (formatting a StrEnum member is slow).
_PREFIX = {partner: f"{partner}-" for partner in Partner}


def _uuid4(bits: int) -> UUID:
    event_id = _new_object(UUID)
    _set(event_id, "int", (bits & _UUID4_CLEAR) | _UUID4_SET)
    _set(event_id, "is_safe", _UNKNOWN)
    return event_id


class Flaw(StrEnum):
    DUPLICATE = "duplicate"
    LATE = "late"
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class Observation:
    """One partner record: a signal of ``kind`` about a household, delivered at ``deliver_at``.

    ``fields`` are the kind's own contract fields. ``flaw`` marks the misbehaving ones.
    """

    deliver_at: datetime
    kind: SignalKind
    household_id: str
    partner_id: str
    partner_event_id: str
    event_id: UUID
    occurred_at: datetime
    fields: Mapping[str, Any]
    flaw: Flaw | None = None

    def signal(self) -> Signal:
        """The contract model (validated); a malformed observation has none."""
        if self.flaw is Flaw.MALFORMED:
            raise ValueError("a malformed observation has no valid signal")
        return SIGNAL_MODELS[self.kind](
            event_id=self.event_id,
            occurred_at=self.occurred_at,
            produced_at=self.deliver_at,
            source=self.partner_id,
            household_id=self.household_id,
            partner_id=self.partner_id,
            partner_event_id=self.partner_event_id,
            **self.fields,
        )

    def value(self) -> bytes:
        """The record value as a partner would send it: JSON, or broken bytes if malformed."""
        if self.flaw is not Flaw.MALFORMED:
            return self.signal().model_dump_json().encode()
        good = replace(self, flaw=None).signal().model_dump(mode="json")
        variant = self.event_id.int % 3
        if variant == 0:  # truncated in transit
            return json.dumps(good).encode()[: 40 + self.event_id.int % 40]
        if variant == 1:  # a name where the pseudonymous id belongs
            return json.dumps({**good, "household_id": "홍길동 어르신"}).encode()
        # personal data riding along: the contract forbids unknown fields
        return json.dumps({**good, "resident_phone": "010-0000-0000"}).encode()


@dataclass(frozen=True)
class SimulationConfig:
    seed: int | str = 1
    start: datetime = datetime(2026, 3, 2, tzinfo=SEOUL)
    days: float = 7.0
    crisis_rate_per_year: float = 0.1
    duplicate_rate: float = 0.003
    late_rate: float = 0.01
    malformed_rate: float = 0.0005
    heartbeat_block_hours: int = 4
    background_reports_per_year: float = 0.01
    false_sos_per_year: float = 0.3
    demo: bool = False  # add the scripted demo crises

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)


class Emitter:
    """The world's random generator and the records waiting for their delivery instant."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.rng = random.Random(f"world:{config.seed}")
        # Records added to the model after a seed's world was fixed (hospital admission
        # notices) draw from a generator of their own, so the world a seed gives — every
        # episode, crisis and earlier record — stays the same with them as without them.
        self.later_rng = random.Random(f"later:{config.seed}")
        # The carrier's and device vendors' offline/online notices (device_status), added
        # after the admissions: a generator of their own again, so that neither the world
        # nor the admission notices change with them.
        self.status_rng = random.Random(f"status:{config.seed}")
        self._start, self._end = config.start.astimezone(UTC), config.end.astimezone(UTC)
        self._seq = 0
        self._heap: list[tuple[float, int, Observation]] = []

    def emit(
        self,
        kind: SignalKind,
        household_id: str,
        partner: Partner,
        occurred_at: datetime,
        deliver_at: datetime,
        fields: Mapping[str, Any],
        rng: random.Random | None = None,
    ) -> None:
        cfg = self.config
        rng = self.rng if rng is None else rng
        if occurred_at < self._start or occurred_at >= self._end:
            return
        event_id = _uuid4(rng.getrandbits(128))
        flaw: Flaw | None = None
        r = rng.random()
        if r < cfg.malformed_rate:
            flaw = Flaw.MALFORMED
        elif r < cfg.malformed_rate + cfg.late_rate:
            flaw = Flaw.LATE
            deliver_at += timedelta(hours=rng.uniform(2, 48))
        prefix = _PREFIX.get(partner) or f"{partner}-"
        obs = Observation(  # positional: a record per heartbeat, keywords cost a third more
            deliver_at,
            kind,
            household_id,
            partner,
            prefix + f"{event_id.int >> 48:020x}",  # the first 20 digits of the id's hex
            event_id,
            occurred_at,
            fields,
            flaw,
        )
        self._push(obs)
        if rng.random() < cfg.duplicate_rate and flaw is not Flaw.MALFORMED:
            again = deliver_at + timedelta(minutes=rng.uniform(1, 360))
            self._push(replace(obs, deliver_at=again, flaw=Flaw.DUPLICATE))

    def _push(self, obs: Observation) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (obs.deliver_at.timestamp(), self._seq, obs))

    # -- one household's day -----------------------------------------------------------

    def delivered_before(self, timestamp: float) -> Iterator[Observation]:
        """Pop the records delivered before ``timestamp``, in delivery order."""
        while self._heap and self._heap[0][0] < timestamp:
            yield heapq.heappop(self._heap)[2]

    def clear(self) -> None:
        self._heap.clear()
