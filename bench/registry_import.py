"""Import N households (1,000,000 by default) from CSV into PostgreSQL; report rows/s and memory.

    uv run python bench/registry_import.py [--rows 1000000] [--batch-size 2000] [--postgres URL]

Generates the CSV under var/bench/ (a district's hand-over list: dong, tier, channels, a
resident and a landlord with phone numbers), starts a benchmark PostgreSQL cluster, runs
`anbu-registry-import` as a child process against it, and measures wall time and the
child's peak resident memory. Results go to bench/results/registry_import.json.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from _support import BENCH_VAR, postgres, write_result
from sqlalchemy import create_engine, text

DONGS = [
    ("11110", d) for d in ("1111051500", "1111053000", "1111054000", "1111055000", "1111056000")
] + [("11680", d) for d in ("1168051000", "1168052100", "1168053100", "1168054000", "1168064000")]
TIERS = ["high_risk", "caution", "watch", "closed"]
CHANNELS = ["phone", "phone;smart_plug", "smart_plug", "phone;motion_sensor", ""]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            [
                "district_code",
                "dong_code",
                "tier",
                "channels",
                "medical_aid",
                "resident_name",
                "resident_phone",
                "landlord_name",
                "landlord_phone",
                "address",
            ]
        )
        for n in range(rows):
            district, dong = DONGS[n % len(DONGS)]
            writer.writerow(
                [
                    district,
                    dong,
                    rng.choice(TIERS),
                    rng.choice(CHANNELS),
                    "y" if rng.random() < 0.3 else "n",
                    f"주민{n}",
                    f"010-{n // 10000 % 10000:04d}-{n % 10000:04d}",
                    f"집주인{n}" if rng.random() < 0.5 else "",
                    f"010-9{n // 10000 % 1000:03d}-{n % 10000:04d}" if rng.random() < 0.5 else "",
                    f"서울특별시 예시구 예시로 {n}",
                ]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, help="importer processes (default: one a CPU)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("ANBU_TEST_POSTGRES_URL"),
        help="an existing PostgreSQL (default: $ANBU_TEST_POSTGRES_URL, else a benchmark cluster)",
    )
    args = parser.parse_args()

    csv_path = BENCH_VAR / f"households-{args.rows}.csv"
    if not csv_path.exists():
        print(f"generating {args.rows:,} rows into {csv_path} ...", flush=True)
        generate(csv_path, args.rows)
    url = args.postgres or postgres()
    engine = create_engine(url)
    with engine.begin() as conn:  # a fresh schema for every run
        conn.execute(text("DROP SCHEMA IF EXISTS bench_import CASCADE"))
        conn.execute(text("CREATE SCHEMA bench_import"))
    engine.dispose()
    database_url = f"{url}?options=-csearch_path%3Dbench_import"
    env = dict(os.environ, ANBU_REGISTRY_DATABASE_URL=database_url, ANBU_VAR_DIR=str(BENCH_VAR))
    print(
        f"importing {args.rows:,} households into PostgreSQL (batch {args.batch_size}) ...",
        flush=True,
    )
    started = time.perf_counter()
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "anbu_registry.entrypoints.cli",
            str(csv_path),
            "--batch-size",
            str(args.batch_size),
            *(["--workers", str(args.workers)] if args.workers is not None else []),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb = usage.ru_maxrss / 1024  # the largest process: the importer or one worker
    # CPU of the importer and its workers (not PostgreSQL's): the figure a busy shared
    # machine distorts least.
    cpu_seconds = usage.ru_utime + usage.ru_stime
    if child.returncode != 0:
        print(child.stdout[-2000:], child.stderr[-2000:], file=sys.stderr)
        return 1
    engine = create_engine(database_url)
    with engine.connect() as conn:
        households = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
        people = conn.execute(text("SELECT count(*) FROM person")).scalar_one()
        staged = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
    engine.dispose()
    result = {
        "rows": args.rows,
        "batch_size": args.batch_size,
        "seconds": round(elapsed, 1),
        "rows_per_second": round(args.rows / elapsed),
        "peak_rss_mb": round(peak_mb, 1),
        "importer_cpu_seconds": round(cpu_seconds, 1),
        "importer_cpu_us_per_row": round(cpu_seconds / args.rows * 1e6),
        "workers": args.workers if args.workers is not None else os.cpu_count(),
        "load_average_1m_after": round(os.getloadavg()[0], 1),
        "households_in_db": households,
        "people_in_db": people,
        "snapshots_staged_in_outbox": staged,
        "database": "PostgreSQL 15 (local, fsync off)",
    }
    print(
        f"\n{'rows':<28}{args.rows:>14,}\n{'seconds':<28}{elapsed:>14,.1f}\n"
        f"{'rows/s':<28}{args.rows / elapsed:>14,.0f}\n{'peak memory (MB)':<28}{peak_mb:>14,.1f}\n"
        f"{'importer CPU (s)':<28}{cpu_seconds:>14,.1f}\n"
        f"{'households / people in db':<28}{households:>7,} / {people:,}"
    )
    print(f"results: {write_result('registry_import', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
