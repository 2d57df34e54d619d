"""What the in-memory index keeps per household and channel, and the time arithmetic of
the heartbeat path (epoch seconds, quiet hours): the values :mod:`.monitor` works on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from anbu_contracts import MonitoringChannel

from .absence import QuietHours
from .rhythm import ChannelRhythm, RhythmParams

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STALE = -1.0  # a learned deadline not computed yet (see ``Monitor._reschedule``)


_OFFSETS: dict[tuple[str, int], float] = {}


def utc_offset(tz: ZoneInfo, seconds: float) -> float:
    """The zone's UTC offset at an instant, cached per hour (zone rules change on the hour)."""
    key = (tz.key, int(seconds // 3600))
    offset = _OFFSETS.get(key)
    if offset is None:
        delta = from_epoch(seconds).astimezone(tz).utcoffset()
        offset = _OFFSETS[key] = delta.total_seconds() if delta else 0.0
        if len(_OFFSETS) > 200_000:
            _OFFSETS.clear()
    return offset


def window_end_seconds(last_active: float, window: float, config: WatchConfig) -> float:
    """``absence.window_end`` in epoch seconds: the heartbeat path's arithmetic."""
    end = last_active + window
    start, stop = config.quiet_seconds
    if start == stop:
        return end
    local = (end + utc_offset(config.tz, end)) % 86400
    inside = (start <= local < stop) if start < stop else (local >= start or local < stop)
    if not inside:
        return end
    return end + ((stop - local) % 86400 or 86400)


def epoch_seconds(instant: datetime) -> float:
    return (instant - EPOCH).total_seconds()


_ZERO = timedelta(0)
_EPOCH_DAY = EPOCH.toordinal()


def utc_seconds(instant: datetime) -> float:
    """``instant.timestamp()``, the same float, cheaper for the heartbeat path's instants.

    A contract's instant is in UTC with pydantic's fixed-offset zone, whose offset
    ``timestamp()`` asks for through the instant at ~0.7 µs (a third of a heartbeat's
    index work); asked without the instant, and the arithmetic of ``timedelta``'s
    ``total_seconds`` done here, it costs a third of that. Any other instant:
    ``timestamp()``."""
    tz = instant.tzinfo
    if tz is None or tz.utcoffset(None) != _ZERO:
        return instant.timestamp()
    days = instant.toordinal() - _EPOCH_DAY
    seconds = days * 86400 + instant.hour * 3600 + instant.minute * 60 + instant.second
    return (seconds * 1_000_000 + instant.microsecond) / 1_000_000


def from_epoch(seconds: float) -> datetime:
    return EPOCH + timedelta(seconds=seconds)


@dataclass(frozen=True)
class WatchConfig:
    """What the detector needs of a household to watch it (from its registry snapshot)."""

    windows: dict[MonitoringChannel, timedelta]  # consented channels only
    quiet: QuietHours
    tz: ZoneInfo
    active: bool = True  # False while moved or closed
    suspended_until: datetime | None = None
    # Learned rhythms (``absence.rhythm``): a channel listed here falls silent when its
    # silence is surprising enough for this household, not after the fixed window.
    rhythm: dict[MonitoringChannel, RhythmParams] | None = field(default=None, compare=False)
    # Channels whose device a partner reported offline, with since when (epoch seconds):
    # until activity after that instant, such a channel's silence counts only at the floor
    # (``Monitor._deadline``) and it stands with the silent ones in the fusion.
    offline: dict[MonitoringChannel, float] = field(default_factory=dict)
    # The same in seconds, for the heartbeat path (computed once per configuration).
    window_seconds: dict[MonitoringChannel, float] = field(init=False, repr=False, compare=False)
    quiet_seconds: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seconds = {c: w.total_seconds() for c, w in self.windows.items()}
        object.__setattr__(self, "window_seconds", seconds)
        start, end = self.quiet.start, self.quiet.end
        object.__setattr__(
            self,
            "quiet_seconds",
            (start.hour * 3600 + start.minute * 60, end.hour * 3600 + end.minute * 60),
        )

    def dark(self, channel: MonitoringChannel, last_active: float) -> bool:
        """The channel's device is offline and nothing was heard from it since."""
        since = self.offline.get(channel)
        return since is not None and last_active <= since

    def watching(self, at: datetime) -> bool:
        if not self.active:
            return False
        return self.suspended_until is None or self.suspended_until <= at


class ChannelClock:
    __slots__ = (
        "channel",
        "deadline",
        "event",
        "household_id",
        "last_active",
        "last_partner",
        "rhythm",
        "scheduled",
        "silent",
        "stored",
    )

    def __init__(
        self, household_id: str, channel: MonitoringChannel, last_active: float, deadline: float
    ) -> None:
        # Whose clock it is: the deadline buckets hold the clocks themselves (a tuple of the
        # two a queued clock was 72 bytes more, a million times). ``household_id`` is the
        # watch's own string, not a copy from an event.
        self.household_id = household_id
        self.channel = channel
        self.last_active = last_active
        # ``last_active`` as the durable copy has it (None: the copy is missing or differs
        # in more than the time — a new clock, a silent flag that flipped). A clock ahead
        # of its copy by less than the monitor's resolution is not written by a flush.
        self.stored: float | None = None
        self.deadline = deadline
        self.silent = False
        # The last heartbeat's id as its 128-bit number (a UUID object kept its number and
        # itself: 100 bytes where the number is 44, for every clock a backlog moved) and its
        # partner, the one string per partner (``partner_name``), not each event's copy.
        self.event: int | None = None
        self.last_partner: str | None = None
        self.rhythm: ChannelRhythm | None = None
        # The second whose bucket holds this channel (None: not queued). A heartbeat only
        # moves ``deadline`` later; the bucket entry stays and ``expire`` re-queues it, so
        # the common case (activity well before the deadline) costs no bucket work.
        self.scheduled: int | None = None

    @property
    def last_event(self) -> UUID | None:
        """The last heartbeat's event id (None: no heartbeat heard since the load)."""
        return UUID(int=self.event) if self.event is not None else None


_PARTNERS: dict[str, str] = {}


def partner_name(partner_id: str | None) -> str | None:
    """One string per partner id: each decoded heartbeat brings its own copy, and a clock
    kept the last one — a few partners, a million clocks."""
    if partner_id is None:
        return None
    found = _PARTNERS.get(partner_id)
    if found is None:
        if len(_PARTNERS) > 10_000:  # ids are a partner registry's, few; never unbounded
            _PARTNERS.clear()
        found = _PARTNERS[partner_id] = partner_id
    return found


class Channels:
    """A household's channel clocks by channel: the few a household has (one to five),
    looked up by walking them — the one clock of most households held as it is, several in
    a tuple. A dict of one clock was ~220 bytes (its table is sized for eight), a million
    times: the largest single part of an index at 1M households."""

    __slots__ = ("_clocks",)

    def __init__(self) -> None:
        self._clocks: ChannelClock | tuple[ChannelClock, ...] = ()

    def values(self) -> tuple[ChannelClock, ...]:
        clocks = self._clocks
        return (clocks,) if type(clocks) is ChannelClock else clocks  # type: ignore[return-value]

    def get(self, channel: MonitoringChannel) -> ChannelClock | None:
        clocks = self._clocks
        if type(clocks) is ChannelClock:  # the common case: one channel
            return clocks if clocks.channel == channel else None
        for clock in clocks:  # type: ignore[union-attr]
            if clock.channel == channel:
                return clock
        return None

    def _keep(self, clocks: tuple[ChannelClock, ...]) -> None:
        self._clocks = clocks[0] if len(clocks) == 1 else clocks

    def __getitem__(self, channel: MonitoringChannel) -> ChannelClock:
        found = self.get(channel)
        if found is None:
            raise KeyError(channel)
        return found

    def __setitem__(self, channel: MonitoringChannel, clock: ChannelClock) -> None:
        assert clock.channel == channel
        self._keep((*(k for k in self.values() if k.channel != channel), clock))

    def pop(self, channel: MonitoringChannel) -> ChannelClock:
        found = self[channel]
        self._keep(tuple(k for k in self.values() if k is not found))
        return found

    def __contains__(self, channel: object) -> bool:
        return any(clock.channel == channel for clock in self.values())

    def __iter__(self) -> Iterator[MonitoringChannel]:
        return iter([clock.channel for clock in self.values()])

    def __len__(self) -> int:
        return len(self.values())

    def keys(self) -> list[MonitoringChannel]:
        return [clock.channel for clock in self.values()]

    def items(self) -> list[tuple[MonitoringChannel, ChannelClock]]:
        return [(clock.channel, clock) for clock in self.values()]


class HouseholdWatch:
    __slots__ = ("channels", "config", "household_id", "partition")

    def __init__(self, household_id: str, partition: int) -> None:
        self.household_id = household_id
        self.partition = partition
        self.config: WatchConfig | None = None
        self.channels = Channels()


@dataclass(frozen=True)
class Expiry:
    """A channel fell silent: which channels of the household are silent now."""

    household_id: str
    channel: MonitoringChannel
    silent: frozenset[MonitoringChannel]
    enrolled: frozenset[MonitoringChannel]


@dataclass(frozen=True)
class Recovery:
    """A silent channel showed life again."""

    household_id: str
    channel: MonitoringChannel
    still_silent: frozenset[MonitoringChannel]
