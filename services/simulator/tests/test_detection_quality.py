"""The detection-quality benchmark is reproducible: the same seed gives the same figures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _bench():
    spec = importlib.util.spec_from_file_location(
        "detection_quality", ROOT / "bench" / "detection_quality.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_same_seed_gives_the_same_figures_twice():
    bench = _bench()
    first = bench.run(households=150, days=10, seed=3, crisis_rate=2.0)
    second = bench.run(households=150, days=10, seed=3, crisis_rate=2.0)
    assert first == second
    for variant in ("single_channel", "fused", "national_list"):
        figures = first[variant]
        assert figures["crises_evaluated"] > 0
        assert figures["false_alerts_per_1000_households_per_week"] >= 0
    assert first["fused"]["recall"] is not None
    # fusion never alerts more than every channel alone
    assert first["fused"]["actionable_alerts"] <= first["single_channel"]["actionable_alerts"]


def test_the_figures_do_not_depend_on_the_number_of_worker_processes():
    bench = _bench()
    alone = bench.run(households=64, days=4, seed=2, crisis_rate=3.0, workers=1)
    pooled = bench.run(households=64, days=4, seed=2, crisis_rate=3.0, workers=2)
    assert alone == pooled
    assert alone["shards"] == bench.SHARDS


def test_recall_intervals_are_wilson_intervals():
    bench = _bench()
    assert bench.wilson(0, 0) is None
    low, high = bench.wilson(0, 10)
    assert low == 0.0 and 0.27 < high < 0.28  # not the degenerate 0 ± 0 of the normal interval
    low, high = bench.wilson(43, 65)
    assert 0.54 < low < 0.55 and 0.76 < high < 0.77


def test_the_doc_keeps_its_prose_around_the_figures(tmp_path):
    bench = _bench()
    doc = tmp_path / "quality.md"
    doc.write_text(
        f"# Title\n\nProse.\n\n{bench.DOC_BEGIN}\nSTALE-FIGURES\n{bench.DOC_END}\n\nMore prose.\n"
    )
    figures = bench.run(households=60, days=3, seed=1)
    result = {
        "command": "bench",
        "figures": figures,
        "run": {"elapsed_s": 1.0, "machine": "test", "at": "2026-01-01T00:00:00"},
    }
    bench.write_doc(doc, result)
    text = doc.read_text()
    assert text.startswith("# Title\n\nProse.") and text.rstrip().endswith("More prose.")
    assert "STALE-FIGURES" not in text and "(as configured) |" in text


def test_every_false_absence_alert_is_accounted_for_by_what_the_household_was_doing():
    bench = _bench()
    figures = bench.run(households=150, days=10, seed=3, crisis_rate=2.0)
    for variant in ("single_channel", "fused_fixed", "fused"):
        absence = sum(
            n
            for rule, n in figures[variant]["false_alerts_by_reason"].items()
            if rule.startswith("absence.")
        )
        assert sum(figures[variant]["false_absence_by_situation"].values()) == absence
    assert figures["single_channel"]["false_absence_by_situation"]  # some, to account for


def test_the_situation_is_the_households_episode_at_that_moment():
    from datetime import timedelta

    from anbu_simulator.domain.simulation import Simulation, SimulationConfig

    bench = _bench()
    population = bench.synthetic_population(5, 40)
    config = SimulationConfig(seed="5", start=bench.START, days=20, crisis_rate_per_year=0.0)
    world = Simulation(population, config)
    seen: dict[str, set[str]] = {}
    for obs in world.observations():
        for name in world.situation_of(obs.household_id, obs.deliver_at):
            seen.setdefault(name, set()).add(obs.household_id)
        state = world._states[obs.household_id]
        if state.away_until is not None and obs.deliver_at < state.away_until:
            assert state.away_kind in world.situation_of(obs.household_id, obs.deliver_at)
            later = state.away_until + timedelta(seconds=1)
            assert state.away_kind not in world.situation_of(obs.household_id, later)
    assert seen, "forty households over twenty days have some episode"


def test_shard_tallies_add_up_to_the_figures_of_every_alert_scored_at_once():
    """Workers send tallies, not alerts: summed in shard order they give the same figures
    (ties in the situation counts included) as scoring every alert together."""
    from datetime import timedelta

    from anbu_contracts import AlertReason, Severity
    from anbu_simulator.domain.crises import Crisis, CrisisKind

    bench = _bench()
    start, hour = bench.START, timedelta(hours=1)
    crises = [
        Crisis("HH-A1", CrisisKind.FALL, start + 10 * hour, None, 0.1),
        Crisis("HH-B1", CrisisKind.DEATH, start + 30 * hour, None, 0.0),
        Crisis("HH-B2", CrisisKind.ACUTE_ILLNESS, start + 50 * hour, None, 0.3),
    ]

    def alert(hid: str, at: int, rule: str, situation: tuple[str, ...] = ()):
        return bench.OpenedAlert(
            hid,
            AlertReason.SAFETY_NOT_CONFIRMED,
            Severity.ALERT,
            start + at * hour,
            "safety-not-confirmed",
            start + (at + 8) * hour,
            rule,
            situation=situation,
        )

    shard_a = [
        alert("HH-A1", 20, "absence.channel-windows"),  # finds the fall
        alert("HH-A2", 5, "absence.channel-windows", ("travel",)),
        alert("HH-A2", 40, "absence.channel-windows", ("hospital",)),
        alert("HH-A3", 7, "sos.button"),
    ]
    shard_b = [
        alert("HH-B1", 31, "absence.channel-windows"),  # finds the death
        alert("HH-B3", 9, "absence.channel-windows", ("hospital",)),
        alert("HH-B3", 90, "absence.channel-windows", ("travel",)),
        alert("HH-B2", 10, "absence.channel-windows"),  # before its illness: false
    ]
    end = start + timedelta(days=30)

    def truth(alerts):
        households = {a.household_id for a in alerts}
        return bench.Truth([c for c in crises if c.household_id in households], end)

    total = bench.Tally()
    for shard in (shard_a, shard_b):
        total.add(bench.tally(truth(shard), shard))
    merged = bench.figures_of(total, 600, 30)
    at_once = bench.score(bench.Truth(crises, end), shard_a + shard_b, 600, 30)
    assert merged == at_once
    assert list(merged["false_absence_by_situation"]) == list(at_once["false_absence_by_situation"])
    assert merged["crises_found"] == 2 and merged["false_alerts"] == 6
