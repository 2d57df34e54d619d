"""The simulation: a pure, seeded generator of partner observations in delivery order.

``Simulation(population, config).observations()`` yields :class:`Observation` objects
ordered by ``deliver_at`` (when the partner's record reaches anbu). The same population,
configuration and seed give the same observations, event ids included. Nothing here does
I/O or reads a clock: producing to Kafka and pacing on a clock are adapters.

Partner feeds and their cadences (local time, Asia/Seoul):

- heartbeats: the telecom carrier (phone), the IoT vendor (smart plug, motion sensor,
  wearable, appliance) report a channel's latest activity a few minutes after it happens,
  at most once per ``heartbeat_block_hours`` (4 h) block;
- AI safety calls: weekly (a fixed weekday, 10:00–12:00) or twice daily (09:00 and 18:00),
  results 5 minutes to 2 hours later;
- monthly arrears files on the 5th (09:00) from each utility, insurer and landlord, with
  disconnection notices (pending at 2 months, cut at 4) from power and gas;
- usage drops computed weekly (Monday 06:00) by the power company from daily usage;
- the national blind-spot list every two months (the 20th of even months, 10:00);
- welfare registered mail on the 25th; the post office reports it uncollected after 7 days;
- hospital discharge notices the day before; human reports and SOS presses when they happen.

Misbehaviour: a share of records is duplicated (sent again later), late (hours to two
days, so out of order) or malformed (a broken record the detector must dead-letter).

The generator is split by concern: :mod:`.partners` (who reports what),
:mod:`.observations` (the records, the flaws, the shared random generator),
:mod:`.household_day` (a household's day) and :mod:`.partner_files` (the periodic files).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta

from .crises import Crisis, demo_crises, plan_crises
from .household_day import HouseholdState, live_one_day
from .observations import SEOUL, Emitter, Flaw, Observation, SimulationConfig
from .partner_files import accounts, habitual, partner_files
from .partners import UTILITY_OF, Partner
from .population import HouseholdProfile
from .rhythms import hourly_profile

__all__ = ["SEOUL", "Flaw", "Observation", "Partner", "Simulation", "SimulationConfig"]


class Simulation:
    """The world: households living their days, partners reporting, crises happening."""

    def __init__(
        self,
        population: Sequence[HouseholdProfile],
        config: SimulationConfig,
        crises: Sequence[Crisis] | None = None,
    ) -> None:
        """``crises`` replaces the planned ones (tests inject exactly the crisis they study)."""
        self.population = list(population)
        self.config = config
        if crises is not None:
            crises = sorted(crises, key=lambda c: (c.onset, c.household_id))
        else:
            crises = plan_crises(
                config.seed, self.population, config.start, config.end, config.crisis_rate_per_year
            )
        if config.demo:
            scripted = demo_crises(config.seed, self.population, config.start)
            taken = {c.household_id for c in scripted}
            crises = sorted(
                [*scripted, *(c for c in crises if c.household_id not in taken)],
                key=lambda c: (c.onset, c.household_id),
            )
        self.ground_truth: list[Crisis] = list(crises)
        self._crisis_by_household = {c.household_id: c for c in crises}
        self._out = Emitter(config)
        self._states: dict[str, HouseholdState] = {}

    def crisis_of(self, household_id: str, at: datetime) -> Crisis | None:
        """The crisis that has begun for ``household_id`` by ``at`` (or None)."""
        crisis = self._crisis_by_household.get(household_id)
        return crisis if crisis is not None and crisis.onset <= at else None

    def situation_of(self, household_id: str, at: datetime) -> tuple[str, ...]:
        """What the household was doing at ``at`` that a person at the door would learn:
        ``hospital``, ``travel``, ``phone_off``, ``phone_at_home``, ``device_fault`` (empty
        when nothing). For the quality benchmark's account of false alerts only — the rules
        never see it. Valid for ``at`` on the day being generated (episodes are per day)."""
        state = self._states.get(household_id)
        if state is None:
            return ()
        found = []
        if state.away_until is not None and at < state.away_until:
            found.append(state.away_kind)
        if state.phone_off_until is not None and at < state.phone_off_until:
            found.append("phone_off")
        if state.phone_home is not None and state.phone_home[0] <= at < state.phone_home[1]:
            found.append("phone_at_home")
        if any(at < until for until in state.faults.values()):
            found.append("device_fault")
        return tuple(found)

    # -- the generator ---------------------------------------------------------------

    def observations(self) -> Iterator[Observation]:
        """Every observation of the period, in delivery order (deterministic for a seed)."""
        cfg = self.config
        rng = self._out.rng
        states = []
        for profile in self.population:
            state = HouseholdState(profile, self._crisis_by_household.get(profile.household_id))
            state.base_load = rng.uniform(0.1, 0.3)
            state.rhythm = {
                c: (hourly_profile(profile, c, False), hourly_profile(profile, c, True))
                for c in profile.channels
            }
            for _ in range(28):  # a month of usage history before the start
                state.usage.append(state.base_load + (1 - state.base_load) * rng.uniform(0.8, 1.2))
            for _ in range(12):  # a year of payment history: chronic arrears exist at the start
                for account in accounts(profile):
                    months = habitual(state.arrears.get(account, 0), profile, rng)
                    state.arrears[account] = months
                    utility = UTILITY_OF.get(account)
                    if utility is not None and months >= 4:
                        state.cut.add(utility)
                    elif utility is not None and months == 0:
                        state.cut.discard(utility)
            states.append(state)
            self._states[profile.household_id] = state
        first = cfg.start.astimezone(SEOUL).date()
        last = (cfg.end - timedelta(microseconds=1)).astimezone(SEOUL).date()
        end_ts = cfg.end.timestamp()
        day = first
        while day <= last:
            # UTC instants throughout (cheaper arithmetic); local dates decide the rhythm.
            day_start = datetime.combine(day, time(0), SEOUL).astimezone(UTC)
            for state in states:
                live_one_day(self._out, state, day, day_start)
            partner_files(self._out, states, day, day_start)
            horizon = min((day_start + timedelta(days=1)).timestamp(), end_ts)
            yield from self._out.delivered_before(horizon)
            day += timedelta(days=1)
        yield from self._out.delivered_before(end_ts)
        self._out.clear()

    # -- emitting, with the partners' misbehaviour -------------------------------------
