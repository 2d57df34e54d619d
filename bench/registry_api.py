"""p50/p99 of the registry's household read and search under concurrent load.

    uv run python bench/registry_api.py [--concurrency 32] [--seconds 20]

Runs the registry as a real process on the PostgreSQL database `registry_import.py` filled
(1,000,000 households; run that first), without Kafka (the relay idles), and drives it with
`--concurrency` concurrent HTTP clients for `--seconds` per endpoint:
- read: GET /v1/households/{id} for random ids;
- search: GET /v1/households?dong_code=&tier=&limit=50 (keyset page, count included);
- search by phone: GET /v1/households?phone= (blind-index lookup).
Results go to bench/results/registry_api.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable

import httpx
from _support import BENCH_VAR, percentile, postgres, write_result
from sqlalchemy import create_engine, text

from anbu_runtime.processes import Stack

TOKEN = "bench-service-token"
PORT = 18801


async def drive(
    client: httpx.AsyncClient,
    make_url: Callable[[random.Random], str],
    seconds: float,
    concurrency: int,
) -> dict[str, float]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await client.get(make_url(rng))
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            if not ok:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
    }


async def run(
    concurrency: int, seconds: float, ids: list[str], phones: list[str]
) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{PORT}"
    dongs = ["1111051500", "1111053000", "1168064000", "1168051000"]
    tiers = ["high_risk", "caution", "watch"]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, limits=limits, timeout=30
    ) as client:
        await drive(client, lambda r: f"/v1/households/{r.choice(ids)}", 2, concurrency)  # warm
        return {
            "read": await drive(
                client, lambda r: f"/v1/households/{r.choice(ids)}", seconds, concurrency
            ),
            "search": await drive(
                client,
                lambda r: (
                    f"/v1/households?dong_code={r.choice(dongs)}&tier={r.choice(tiers)}&limit=50"
                ),
                seconds,
                concurrency,
            ),
            "search_by_phone": await drive(
                client, lambda r: f"/v1/households?phone={r.choice(phones)}", seconds, concurrency
            ),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    url = postgres() + "?options=-csearch_path%3Dbench_import"
    engine = create_engine(url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
        ids = [
            r[0]
            for r in conn.execute(
                text("SELECT household_id FROM household TABLESAMPLE SYSTEM (2) LIMIT 20000")
            )
        ]
    engine.dispose()
    if not ids:
        print("no households: run bench/registry_import.py first", file=sys.stderr)
        return 1
    # the generator's phone numbers: 010-NNNN-NNNN for row n
    phones = [
        f"010-{n // 10000 % 10000:04d}-{n % 10000:04d}"
        for n in random.Random(1).sample(range(total), 2000)
    ]
    stack = Stack(
        var_dir=BENCH_VAR / "api",
        ports={"registry": PORT},
        env={
            "ANBU_REGISTRY_DATABASE_URL": url,
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_KAFKA_BOOTSTRAP": "127.0.0.1:9",
            "ANBU_VAR_DIR": str(BENCH_VAR),
            "ANBU_LOG_LEVEL": "WARNING",
        },
    )
    stack.start()
    try:
        stack.wait_ready(timeout=120, path="/healthz")
        results = asyncio.run(run(args.concurrency, args.seconds, ids, phones))
    finally:
        stack.stop()
    print(
        f"registry API, {total:,} households, {args.concurrency} concurrent clients, "
        f"{args.seconds:.0f} s per endpoint"
    )
    print(f"{'endpoint':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, figures in results.items():
        print(
            f"{name:<18}{figures['requests_per_second']:>10,.0f}{figures['p50_ms']:>10.1f}"
            f"{figures['p99_ms']:>10.1f}{figures['errors']:>8.0f}"
        )
    path = write_result(
        "registry_api",
        {
            "households": total,
            "concurrency": args.concurrency,
            "seconds_per_endpoint": args.seconds,
            "endpoints": results,
        },
    )
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
