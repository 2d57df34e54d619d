"""Each household's own activity rhythm per channel, and how surprising a silence is.

A fixed window (24 h for a phone) judges every household alike: a person who touches the
phone twice a day looks "silent" every other day, while a busy one can lie on the floor for
a whole window before anyone notices. Here each channel of each household learns, from its
own history, how often it reports in each 4-hour block of the week (partners report the
latest activity of a block, so a block is the finest unit the signal carries: 42 blocks a
week, local time). A new household starts from a cold-start default, worth ``prior_weeks``
weeks of history, which its own weeks then outweigh.

A silence is scored in *nats of surprise*: every block without activity since the last one
adds ``-ln(1 - r * p)`` (p: the chance this household is active in that block, r: the
channel's reliability). The channel is silent when the surprise reaches the threshold —
for a busy household that is soon, for a quiet one later — never before ``min_hours`` and
never after ``max_hours`` (the absolute floor: "no sign of life for N hours" always alerts).

Reliability discounts a flaky channel: each outage that ended by itself (the channel came
back while nobody had found anything) lowers ``r``, so the same silence counts for less.
Nothing here does I/O; the state is small (42 counters a channel) and can be stored.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from anbu_contracts import MonitoringChannel

BLOCK_SECONDS = 4 * 3600
BLOCKS_PER_DAY = 6
BLOCKS_PER_WEEK = 7 * BLOCKS_PER_DAY
WEEK_SECONDS = 7 * 86400
MODEL_VERSION = "rhythm-1"
# The epoch (1970-01-01) was a Thursday: three days after a Monday.
_EPOCH_WEEKDAY = 3
# Heartbeats of a block arrive up to ~22 minutes after it ends (the partner's report delay).
REPORT_GRACE_SECONDS = 30 * 60


def block_of_week(local_seconds: float) -> int:
    """The 4-hour block of the (Monday-first) week a local instant falls in, 0..41."""
    day = int(local_seconds // 86400)
    return ((day + _EPOCH_WEEKDAY) % 7) * BLOCKS_PER_DAY + int(
        local_seconds % 86400
    ) // BLOCK_SECONDS


@dataclass(frozen=True)
class RhythmParams:
    """The model's knobs (``absence.rhythm`` in rules.yaml), in the units it computes in."""

    threshold_nats: float
    min_seconds: float
    max_seconds: float
    prior_weeks: float
    prior: tuple[float, ...]  # 42 cold-start block probabilities (Monday 00–04 first)
    outage_weight: float
    version: str = MODEL_VERSION


class ChannelRhythm:
    """One channel's learned week: active blocks counted per block of the week."""

    __slots__ = ("hits", "last_block", "outages", "since", "stored_block", "stored_outages")

    def __init__(self, since: float) -> None:
        self.since = since  # epoch seconds the channel has been watched from
        # Unsigned 16-bit counters (a week adds at most one per block: 65,535 weeks): 148
        # bytes where a list of ints took 392 — a million watched channels keep one each.
        self.hits = array("H", bytes(2 * BLOCKS_PER_WEEK))
        self.last_block = -1  # absolute local block last counted (one hit per block)
        self.outages = 0
        # (last_block, outages) as last made durable: the rhythm changes at most once a
        # block, so the heartbeat flush writes it only then (see ``changed_since_stored``).
        # Two fields, not a tuple: a tuple a channel was 56 bytes of a million channels'.
        self.stored_block: int | None = None
        self.stored_outages = 0

    def is_stored(self) -> bool:
        """Whether the durable copy has what the rhythm learned."""
        return self.stored_block == self.last_block and self.stored_outages == self.outages

    def mark_stored(self) -> None:
        self.stored_block, self.stored_outages = self.last_block, self.outages

    def changed_since_stored(self) -> bool:
        """Whether the rhythm learned something since it was last stored; marks it stored."""
        if self.is_stored():
            return False
        self.mark_stored()
        return True

    def observe(self, local_seconds: float) -> None:
        """Count activity at a local instant (each block of time once)."""
        block = int(local_seconds // BLOCK_SECONDS)
        if block > self.last_block:
            self.last_block = block
            self.hits[block_of_week(local_seconds)] += 1

    def weeks(self, now: float) -> float:
        return max(0.0, (now - self.since) / WEEK_SECONDS)

    def probability(self, block: int, weeks: float, params: RhythmParams) -> float:
        """The chance this channel shows activity in a block of the week."""
        prior = params.prior[block]
        p = (self.hits[block] + params.prior_weeks * prior) / (weeks + params.prior_weeks)
        return min(p, 0.98)  # nothing is certain: one missed block is never proof

    def reliability(self, weeks: float, params: RhythmParams) -> float:
        """1 for a channel that never dropped out; lower per self-ended outage a month."""
        per_month = self.outages / max(weeks / 4.35, 1.0)
        return 1.0 / (1.0 + params.outage_weight * per_month)

    def baseline(self, weeks: float, params: RhythmParams) -> float:
        """Expected active blocks a week: the household's normal, as an official reads it."""
        return sum(self.probability(b, weeks, params) for b in range(BLOCKS_PER_WEEK))

    def surprise(
        self, last_local: float, until_local: float, now: float, params: RhythmParams
    ) -> float:
        """Nats of surprise of no activity from ``last_local`` to ``until_local`` (local s)."""
        weeks = self.weeks(now)
        r = self.reliability(weeks, params)
        total = 0.0
        block = int(last_local // BLOCK_SECONDS) + 1
        end = int(until_local // BLOCK_SECONDS)  # only whole blocks that have ended count
        for absolute in range(block, end):
            p = self.probability(block_of_week(absolute * BLOCK_SECONDS), weeks, params)
            total -= math.log(1.0 - r * p)
        return total

    def silent_after(self, last_local: float, now: float, params: RhythmParams) -> float:
        """Seconds after the last activity at which the silence reaches the threshold."""
        weeks = self.weeks(now)
        r = self.reliability(weeks, params)
        first = int(last_local // BLOCK_SECONDS) + 1
        total = 0.0
        limit = params.max_seconds
        absolute = first
        while True:
            block_end = (absolute + 1) * BLOCK_SECONDS
            if block_end - last_local >= limit:
                return limit
            p = self.probability(block_of_week(absolute * BLOCK_SECONDS), weeks, params)
            total -= math.log(1.0 - r * p)
            if total >= params.threshold_nats:
                return max(params.min_seconds, block_end + REPORT_GRACE_SECONDS - last_local)
            absolute += 1


def params_from_rule(
    threshold_nats: float,
    min_hours: float,
    max_hours: float,
    prior_weeks: float,
    day_blocks: dict[MonitoringChannel, list[float]],
    outage_weight: float,
) -> dict[MonitoringChannel, RhythmParams]:
    """Per channel: the cold-start day (six blocks) repeated over the week."""
    return {
        channel: RhythmParams(
            threshold_nats=threshold_nats,
            min_seconds=min_hours * 3600,
            max_seconds=max_hours * 3600,
            prior_weeks=prior_weeks,
            prior=tuple(blocks) * 7,
            outage_weight=outage_weight,
        )
        for channel, blocks in day_blocks.items()
    }
