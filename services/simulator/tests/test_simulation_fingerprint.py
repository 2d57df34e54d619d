"""A fixed-seed run is pinned to a hash of everything it produces.

The generator's promise is "same seed, same world". This test pins *which* world: a change
that reorders random draws (moving code, a refactoring, a new feed drawing from the shared
generator) changes the hash even when every other test still passes. A deliberate change to
what the simulation produces updates ``EXPECTED`` in the same commit, saying why.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from anbu_contracts import SignalKind
from anbu_simulator.domain.population import synthetic_population
from anbu_simulator.domain.simulation import SEOUL, Simulation, SimulationConfig

# 50 days from a Monday: two arrears files (the 5th), a blind-spot round (20 April),
# registered mail (the 25th), weekly usage drops, the scripted demo crises and planned
# ones, and flaw rates high enough that every kind of misbehaviour occurs.
CONFIG = SimulationConfig(
    seed="fingerprint",
    start=datetime(2026, 3, 2, tzinfo=SEOUL),
    days=50,
    crisis_rate_per_year=2.0,
    duplicate_rate=0.02,
    late_rate=0.05,
    malformed_rate=0.01,
    demo=True,
)
EXPECTED = "54262c1e50c973a8d774e81690fa9e2d76e17c7487f7bde6aef6f5ee628f8123"
# The same world with partner hospitals' admission notices (2026-12-04, issue 14): they draw
# from a generator of their own, so without them the world is the one pinned above.
EXPECTED_WITH_ADMISSIONS = "b2e1be3b5ec77340f1a8846be5a3adf0bfc755e1974b1672cc15e02b4338571d"
# ... and with the carriers' and device vendors' offline/online notices (2026-12-04, issue
# 14): a generator of their own again, so without them the world is the one pinned above.
EXPECTED_WITH_DEVICE_STATUS = "392f7240210ad80f86e14accc4c1283349b82c4cd1792318f7fd51c4c7a9eebf"


def fingerprint(skip: frozenset[SignalKind] = frozenset()) -> tuple[str, int]:
    simulation = Simulation(synthetic_population(11, 120), CONFIG)
    digest = hashlib.sha256()
    count = 0
    for crisis in simulation.ground_truth:
        digest.update(repr(crisis).encode())
    for o in simulation.observations():
        if o.kind in skip:
            continue
        count += 1
        record = [
            o.deliver_at.isoformat(),
            o.kind,
            o.household_id,
            o.partner_id,
            o.partner_event_id,
            str(o.event_id),
            o.occurred_at.isoformat(),
            json.dumps(dict(o.fields), sort_keys=True, default=str, ensure_ascii=False),
            o.flaw,
        ]
        digest.update(json.dumps(record, ensure_ascii=False).encode())
        digest.update(o.value())
    return digest.hexdigest(), count


def test_a_fixed_seed_run_produces_exactly_the_pinned_observations() -> None:
    digest, count = fingerprint()
    assert count > 10_000  # a world busy enough to exercise every feed
    assert digest == EXPECTED_WITH_DEVICE_STATUS


def test_admission_notices_leave_the_rest_of_the_world_as_it_was() -> None:
    later = frozenset({SignalKind.HOSPITAL_ADMISSION, SignalKind.DEVICE_STATUS})
    digest, _ = fingerprint(skip=later)
    assert digest == EXPECTED


def test_device_status_notices_leave_the_rest_of_the_world_as_it_was() -> None:
    digest, count = fingerprint(skip=frozenset({SignalKind.DEVICE_STATUS}))
    assert digest == EXPECTED_WITH_ADMISSIONS
    assert count < fingerprint()[1]  # the notices are there, and only they differ
