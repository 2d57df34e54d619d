"""The in-memory index of every watched household's channels and deadlines.

Millions of inactivity deadlines do not belong in a job scheduler. This index keeps, per
household and channel, the last activity and the instant the channel falls silent, and a
bucketed deadline map (one bucket per second) so that each heartbeat costs O(1) and each
second's expiries are found without scanning. It is rebuilt from durable state when
partitions are assigned; nothing here does I/O.

Channel clocks are made durable coarsely: a flush writes a clock only when it moved by at
least ``resolution`` (a minute) since it was last written, or changed in more than its time
(new, fell silent, came back, learned a block of its week). The rules need minutes, not
milliseconds, and under a backlog most heartbeats move a clock by less: every one of them
was an upsert. What a flush skips, ``settle_lagging`` hands to the next flush (a partition
let go, a clean stop: the copy is then exact). A crash between two
flushes loses at most ``resolution`` of a clock's activity: the restarted detector's
deadline comes at most ``resolution`` *earlier* than it would have, never later, and no
deadline is lost (``tests/test_coarse_clocks.py``).
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from uuid import UUID

from anbu_contracts import MonitoringChannel

from .absence import ChannelSilence, SilenceScore
from .rhythm import ChannelRhythm
from .watch import (
    STALE,
    ChannelClock,
    Expiry,
    HouseholdWatch,
    Recovery,
    WatchConfig,
    epoch_seconds,
    from_epoch,
    partner_name,
    utc_offset,
    utc_seconds,
    window_end_seconds,
)

CLOCK_RESOLUTION = 60.0  # seconds a clock may run ahead of its durable copy


_household = itemgetter(0)


@dataclass
class Monitor:
    households: dict[str, HouseholdWatch] = field(default_factory=dict)
    _buckets: dict[int, set[ChannelClock]] = field(default_factory=lambda: defaultdict(set))
    _seconds_heap: list[int] = field(default_factory=list)
    # Each queued second's int as its bucket holds it: a clock refers to that one rather
    # than to an int of its own (32 bytes, a million clocks; a second holds many).
    _second_keys: dict[int, int] = field(default_factory=dict)
    # The clocks changed since the last flush took them: the clocks themselves (a tuple of
    # household and channel each was 72 bytes more, for every clock a backlog moved).
    dirty: set[ChannelClock] = field(default_factory=set)
    resolution: float = CLOCK_RESOLUTION

    # -- configuration -----------------------------------------------------------------

    def watch(self, household_id: str, partition: int) -> HouseholdWatch:
        found = self.households.get(household_id)
        if found is None:
            found = self.households[household_id] = HouseholdWatch(household_id, partition)
        return found

    def configure(
        self, household_id: str, partition: int, config: WatchConfig, now: datetime
    ) -> list[MonitoringChannel]:
        """Apply a household's configuration; returns the channels no longer watched.

        A newly enrolled channel with no activity yet starts its window now; a channel whose
        consent was withdrawn stops at once.
        """
        watch = self.watch(household_id, partition)
        watch.config = config
        dropped = [c for c in watch.channels if c not in config.windows]
        for channel in dropped:
            removed = watch.channels.pop(channel)
            self._unschedule(household_id, channel, removed)
            self.dirty.discard(removed)
        for channel in config.windows:
            found = watch.channels.get(channel)
            if found is None:
                start = epoch_seconds(now)
                found = watch.channels[channel] = ChannelClock(
                    watch.household_id, channel, start, start
                )
                self.dirty.add(found)
            if config.rhythm is not None and channel in config.rhythm and found.rhythm is None:
                found.rhythm = ChannelRhythm(epoch_seconds(now))
            self._reschedule(watch, channel, found)
        return dropped

    def forget_partitions(self, partitions: set[int]) -> None:
        gone = [h for h, w in self.households.items() if w.partition in partitions]
        for household_id in gone:
            watch = self.households.pop(household_id)
            for channel, clock in watch.channels.items():
                self._unschedule(household_id, channel, clock)
                self.dirty.discard(clock)

    # -- activity ------------------------------------------------------------------------

    def heartbeat(
        self,
        household_id: str,
        partition: int,
        channel: MonitoringChannel,
        last_active: datetime,
        event_id: UUID | None = None,
        partner_id: str | None = None,
    ) -> Recovery | None:
        """Record activity; a heartbeat older than the newest one seen changes nothing."""
        watch = self.watch(household_id, partition)
        config = watch.config
        if config is not None and channel not in config.windows:
            return None  # not enrolled, or consent withdrawn: not processed
        seen = utc_seconds(last_active)
        clock = watch.channels.get(channel)
        if clock is None:
            clock = watch.channels[channel] = ChannelClock(watch.household_id, channel, seen, seen)
        elif seen <= clock.last_active:
            return None
        clock.last_active = seen
        clock.event = event_id.int if event_id is not None else None
        clock.last_partner = partner_name(partner_id)
        self.dirty.add(clock)
        was_silent = clock.silent
        if was_silent:
            clock.stored = None  # the silent flag flips: written whatever the time moved
        clock.silent = False
        rhythm = clock.rhythm
        if rhythm is not None and config is not None:
            rhythm.observe(seen + utc_offset(config.tz, seen))
            if was_silent:
                rhythm.outages += 1  # it came back by itself: this channel drops out
        self._reschedule(watch, channel, clock, lazy=True)
        if not was_silent:
            return None
        still = frozenset(c for c, k in watch.channels.items() if k.silent)
        return Recovery(household_id, channel, still)

    # -- deadlines -----------------------------------------------------------------------

    def _reschedule(
        self,
        watch: HouseholdWatch,
        channel: MonitoringChannel,
        clock: ChannelClock,
        *,
        lazy: bool = False,
    ) -> None:
        config = watch.config
        if config is None or channel not in config.windows or clock.silent:
            self._unschedule(watch.household_id, channel, clock)
            return
        params = config.rhythm.get(channel) if config.rhythm is not None else None
        if lazy and clock.scheduled is not None and params is not None:
            # Learned rhythm: walking the week costs more than a window, and activity only
            # moves the deadline later, so it is computed when the queued entry fires.
            clock.deadline = STALE
            return
        clock.deadline = self._deadline(config, channel, clock)
        second = int(clock.deadline)
        if lazy and clock.scheduled is not None and clock.scheduled <= second:
            return  # the earlier entry fires first and ``expire`` re-queues it
        self._unschedule(watch.household_id, channel, clock)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = set()
            self._second_keys[second] = second
            heapq.heappush(self._seconds_heap, second)
        else:
            second = self._second_keys[second]  # the bucket's own: one int a second, shared
        bucket.add(clock)
        clock.scheduled = second

    @staticmethod
    def _deadline(config: WatchConfig, channel: MonitoringChannel, clock: ChannelClock) -> float:
        """When the channel falls silent: its learned rhythm, else its fixed window."""
        rhythm = clock.rhythm
        params = config.rhythm.get(channel) if config.rhythm is not None else None
        last = clock.last_active
        if rhythm is not None and params is not None:
            if config.offline and config.dark(channel, last):
                # Offline: its silence says nothing of the resident until the floor.
                return last + params.max_seconds
            local = last + utc_offset(config.tz, last)
            return last + rhythm.silent_after(local, last, params)
        return window_end_seconds(last, config.window_seconds[channel], config)

    def _unschedule(
        self, household_id: str, channel: MonitoringChannel, clock: ChannelClock
    ) -> None:
        if clock.scheduled is None:
            return
        bucket = self._buckets.get(clock.scheduled)
        if bucket is not None:
            bucket.discard(clock)  # an empty bucket is popped by due()
        clock.scheduled = None

    def next_due(self) -> float | None:
        """The epoch second of the earliest queued deadline (None: nothing queued)."""
        return self._seconds_heap[0] if self._seconds_heap else None

    def due(self, now: datetime) -> list[tuple[str, MonitoringChannel]]:
        """Take the channels whose window ended by ``now`` out of the index, oldest first.

        Each must then go through ``expire`` (which confirms it, or reschedules it).
        """
        limit = int(epoch_seconds(now))
        taken: list[tuple[str, MonitoringChannel]] = []
        while self._seconds_heap and self._seconds_heap[0] <= limit:
            second = heapq.heappop(self._seconds_heap)
            self._second_keys.pop(second, None)
            for clock in self._buckets.pop(second, ()):
                if clock.scheduled == second:
                    clock.scheduled = None
                taken.append((clock.household_id, clock.channel))
        return taken

    def expire(self, household_id: str, channel: MonitoringChannel, now: datetime) -> Expiry | None:
        """Mark a due channel silent; None if it is no longer due or not watched now."""
        watch = self.households.get(household_id)
        clock = watch.channels.get(channel) if watch else None
        if watch is None or clock is None or clock.silent:
            return None
        if clock.deadline == STALE and watch.config is not None:
            clock.deadline = self._deadline(watch.config, channel, clock)
        if clock.deadline > epoch_seconds(now):  # activity arrived meanwhile: keep watching
            self._reschedule(watch, channel, clock)
            return None
        config = watch.config
        if config is None or not config.active:
            return None
        rest = config.suspended_until
        if rest is not None and clock.last_active < epoch_seconds(rest):
            # Resting (suspended, in hospital) when the window ended: it starts again when
            # the rest ends — counted from the return even when this comes later (a
            # restart, a late sweep), never from the last activity before the rest.
            clock.last_active = epoch_seconds(rest)
            clock.deadline = self._deadline(config, channel, clock)
            if clock.deadline > epoch_seconds(now):
                self._reschedule(watch, channel, clock)
                return None
        clock.silent = True
        clock.stored = None
        self.dirty.add(clock)
        return Expiry(
            household_id,
            channel,
            frozenset(
                c
                for c, k in watch.channels.items()
                if k.silent or (config.offline and config.dark(c, k.last_active))
            ),
            frozenset(config.windows),
        )

    def came_online(self, household_id: str, channel: MonitoringChannel, at: datetime) -> None:
        """A partner reports the channel's device back at ``at``: as after a rest, its
        silence counts from then, not from its last activity before it went offline."""
        watch = self.households.get(household_id)
        clock = watch.channels.get(channel) if watch else None
        seen = epoch_seconds(at)
        if watch is None or clock is None or clock.silent or clock.last_active >= seen:
            return
        clock.last_active = seen
        self.dirty.add(clock)
        self._reschedule(watch, channel, clock)

    def unsilence(self, household_id: str, channel: MonitoringChannel) -> None:
        """Undo ``expire`` (its effect could not be made durable)."""
        watch = self.households.get(household_id)
        clock = watch.channels.get(channel) if watch else None
        if watch is not None and clock is not None and clock.silent:
            clock.silent = False
            clock.stored = None
            self._reschedule(watch, channel, clock)

    def take_dirty(self) -> list[tuple[str, MonitoringChannel, ChannelClock]]:
        """The changed clocks a flush must write, marked written, in key order (those that
        moved by less than the resolution since their last write wait for more).

        In key order because the store's index is: a flush in the set's hash order touched
        a random page of it per row (SQLite: ~20 µs of CPU a row at 200,000 clocks, ~5 µs
        in order; ``docs/performance.md``)."""
        rows = []
        households = self.households
        resolution = self.resolution
        for clock in self.dirty:
            household_id, channel = clock.household_id, clock.channel
            watch = households.get(household_id)
            if watch is None or watch.channels.get(channel) is not clock:
                continue  # forgotten, or its channel dropped, since it moved
            stored, rhythm = clock.stored, clock.rhythm
            if (
                stored is not None
                and clock.last_active - stored < resolution
                and (rhythm is None or rhythm.is_stored())
            ):
                continue  # ``stored`` keeps it behind: ``settle_lagging`` finds it
            clock.stored = clock.last_active
            rows.append((household_id, channel, clock))
        self.dirty = set()
        rows.sort(key=_household)  # one household's channels are neighbours in any order
        return rows

    def settle_lagging(self) -> int:
        """Make the next ``take_dirty`` write every clock its durable copy lags, however
        little (before a partition is let go or the process stops: the copy is then exact);
        how many. A walk over every clock — rare, and no bookkeeping per heartbeat."""
        found = 0
        for watch in self.households.values():
            for clock in watch.channels.values():
                if clock.stored != clock.last_active:
                    clock.stored = None
                    self.dirty.add(clock)
                    found += 1
        return found

    def restore_seconds(
        self,
        household_id: str,
        partition: int,
        channel: MonitoringChannel,
        seen: float,
        silent: bool,
        rhythm: ChannelRhythm | None = None,
        now: float | None = None,
    ) -> None:
        """Load one channel's durable state (on partition assignment), its instants in epoch
        seconds as the store keeps them (no datetime made and taken apart again per clock).

        ``rhythm``: its learned week as stored; a channel under a learned rhythm without one
        stored starts from the cold-start default, learning from ``now`` on.
        """
        watch = self.watch(household_id, partition)
        old = watch.channels.get(channel)
        if old is not None:
            self._unschedule(household_id, channel, old)
        clock = watch.channels[channel] = ChannelClock(watch.household_id, channel, seen, seen)
        clock.silent = silent
        clock.stored = seen  # as the durable copy has it
        if rhythm is None and old is not None:
            rhythm = old.rhythm
        config = watch.config
        if rhythm is None and config is not None and config.rhythm and channel in config.rhythm:
            rhythm = ChannelRhythm(now if now is not None else seen)
        clock.rhythm = rhythm
        self._reschedule(watch, channel, clock)

    def deadline_of(self, household_id: str, channel: MonitoringChannel) -> datetime | None:
        watch = self.households.get(household_id)
        clock = watch.channels.get(channel) if watch else None
        if clock is None or clock.silent or watch is None:
            return None
        if clock.deadline == STALE and watch.config is not None:
            clock.deadline = self._deadline(watch.config, channel, clock)
        return from_epoch(clock.deadline)

    def explain(self, household_id: str, now: datetime) -> SilenceScore | None:
        """The household's silence score now, channel by channel (None: no learned rhythm)."""
        watch = self.households.get(household_id)
        config = watch.config if watch else None
        if watch is None or config is None or config.rhythm is None:
            return None
        at = now.timestamp()
        offset = utc_offset(config.tz, at)
        parts = []
        floor = 0.0
        for channel in sorted(watch.channels, key=lambda c: c.value):
            clock = watch.channels[channel]
            params = config.rhythm.get(channel)
            rhythm = clock.rhythm
            if rhythm is None or params is None or not clock.silent:
                continue
            floor = params.max_seconds / 3600
            last = clock.last_active
            weeks = rhythm.weeks(at)
            parts.append(
                ChannelSilence(
                    channel=channel,
                    silent_hours=(at - last) / 3600,
                    surprise_nats=rhythm.surprise(
                        last + utc_offset(config.tz, last), at + offset, at, params
                    ),
                    reliability=rhythm.reliability(weeks, params),
                    baseline_blocks_per_week=rhythm.baseline(weeks, params),
                    weeks_learned=weeks,
                )
            )
        return SilenceScore(tuple(parts), floor)

    def last_activity(self, household_id: str) -> datetime | None:
        """The household's latest heard activity on any channel (None: none heard)."""
        watch = self.households.get(household_id)
        if watch is None:
            return None
        heard = [k.last_active for k in watch.channels.values() if k.event is not None]
        return from_epoch(max(heard)) if heard else None

    def pending(self) -> int:
        return sum(len(b) for b in self._buckets.values())
