"""Helpers the benchmark scripts share: a PostgreSQL for benchmarks, results files, stats."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCH_VAR = ROOT / "var" / "bench"
# Benchmarks run development stacks with short tokens (a production process refuses them).
os.environ.setdefault("ANBU_ENV", "dev")


def postgres(port: int = 55532) -> str:
    """Start (or reuse) a PostgreSQL cluster for benchmarks; return its SQLAlchemy URL."""
    env = dict(os.environ, ANBU_PG_PORT=str(port), ANBU_PG_DIR=str(BENCH_VAR / "postgres"))
    script = str(ROOT / "deploy" / "postgres.sh")
    subprocess.run([script, "start"], env=env, check=True)
    return subprocess.run(
        [script, "url"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": name,
        "at": datetime.now(UTC).isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        **result,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path
