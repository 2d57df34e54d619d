"""Gateway ingest throughput: NDJSON batches (signals per second) and a 2,000,000-row CSV
file (rows per second and the gateway's peak memory).

    uv run python bench/gateway_ingest.py [--rows 2000000] [--batches 40] [--batch-lines 1000]
        [--phases 1,4,big] [--rows 0: NDJSON only]

Runs a registry (HTTP only: partner keys) and a gateway as processes, on the broker named by
ANBU_BENCH_KAFKA (default: the test broker on 127.0.0.1:29092), with SQLite (the embedded
default). Every figure is end to end: an NDJSON batch counts when its 202 arrived, i.e.
after Kafka acknowledged every record (acks=all); the file counts from the first byte sent
until its submission reports every row published. The gateway's resident memory is sampled
every 0.2 s with psutil. Results: bench/results/gateway_ingest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

from _support import BENCH_VAR, percentile, write_result

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_runtime.processes import Stack

TOKEN = "bench-service-token"
PORTS = {"registry": 19811, "gateway": 19812}
REGISTRY = f"http://127.0.0.1:{PORTS['registry']}"
GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"
HEADER = "household_id,partner_event_id,occurred_at,arrears_type,months_overdue,amount_krw,as_of\n"
TYPES = ("electricity", "water", "gas", "telecom", "health_insurance", "rent")


class MemorySampler:
    """Peak resident memory of one process (and, apart, of its worker processes), sampled
    in the background; and the CPU time the process and its workers used."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self.worker_samples: list[int] = []
        self._task: asyncio.Task[None] | None = None

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def workers(self) -> list[psutil.Process]:
        return self.process.children(recursive=True)

    def workers_rss(self) -> int:
        total = 0
        for child in self.workers():
            with contextlib.suppress(psutil.Error):
                total += int(child.memory_info().rss)
        return total

    def main_cpu_seconds(self) -> float:
        """User + system CPU of the gateway's own process (its event loop and threads)."""
        times = self.process.cpu_times()
        return float(times.user + times.system)

    def cpu_seconds(self) -> float:
        """User + system CPU of the gateway and its live worker processes."""
        total = self.main_cpu_seconds()
        for child in self.workers():
            with contextlib.suppress(psutil.Error):
                t = child.cpu_times()
                total += t.user + t.system
        return total

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), self.rss()))
            self.worker_samples.append(self.workers_rss())
            await asyncio.sleep(0.2)

    def start(self) -> None:
        self.samples.clear()
        self.worker_samples.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> int:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        return max((s for _, s in self.samples), default=self.rss())


def mib(value: float) -> float:
    return round(value / 2**20, 1)


def write_csv(path: Path, rows: int, run: str) -> int:
    """A monthly arrears file like a utility's: ``rows`` rows, one household each."""
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER)
        for i in range(rows):
            out.write(
                f"HH-B{run}{i:09d},arr-{run}-{i},2026-11-01T09:00:00+09:00,"
                f"{TYPES[i % len(TYPES)]},{3 + i % 9},{10_000 + (i * 37) % 900_000},2026-10-31\n"
            )
    return path.stat().st_size


async def file_chunks(path: Path, size: int = 1 << 20) -> AsyncIterator[bytes]:
    with path.open("rb") as raw:
        while chunk := raw.read(size):
            yield chunk


def ndjson_batch(run: str, batch: int, lines: int) -> bytes:
    docs = (
        json.dumps(
            {
                "kind": "heartbeat",
                "household_id": f"HH-N{run}{(batch * lines + i) % 50_000:06d}",
                "partner_event_id": f"hb-{run}-{batch}-{i}",
                "occurred_at": "2026-11-25T09:00:00+09:00",
                "channel": "smart_plug",
                "device_id": f"plug-{i % 5000}",
                "last_active_at": "2026-11-25T08:55:00+09:00",
                "activity": "power",
            }
        )
        for i in range(lines)
    )
    return ("\n".join(docs) + "\n").encode()


async def topic_total(bootstrap: str, kind: SignalKind) -> int:
    topic = SIGNAL_TOPICS[kind]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


def partner(kinds: list[str]) -> str:
    with httpx.Client(
        base_url=REGISTRY, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        partner_id = f"bench-{uuid.uuid4().hex[:8]}"
        created = client.post(
            "/v1/partners",
            json={
                "partner_id": partner_id,
                "organisation": "benchmark",
                "allowed_kinds": kinds,
                "rate_limit_per_minute": 1_000_000,
            },
        )
        created.raise_for_status()
        issued = client.post(f"/v1/partners/{partner_id}/keys", json={"label": "bench"})
        issued.raise_for_status()
        return str(issued.json()["api_key"])


async def bench_ndjson(
    key: str,
    bootstrap: str,
    run: str,
    batches: int,
    lines: int,
    concurrency: int,
    sampler: MemorySampler,
) -> dict[str, Any]:
    before = await topic_total(bootstrap, SignalKind.HEARTBEAT)
    bodies = [ndjson_batch(run + f"C{concurrency}", b, lines) for b in range(batches)]
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            response = await client.post(
                "/v1/batches?mode=accept_valid",
                content=body,
                headers={"X-Api-Key": key, "content-type": "application/x-ndjson"},
            )
            latencies.append(time.perf_counter() - started)
            if response.status_code != 202 or response.json()["accepted"] != lines:
                raise RuntimeError(f"batch refused: {response.status_code} {response.text[:300]}")

    async with httpx.AsyncClient(base_url=GATEWAY, timeout=120) as client:
        cpu_before, main_before = sampler.cpu_seconds(), sampler.main_cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = sampler.cpu_seconds() - cpu_before
        main_cpu = sampler.main_cpu_seconds() - main_before
    published = await topic_total(bootstrap, SignalKind.HEARTBEAT) - before
    signals = batches * lines
    return {
        "batches": batches,
        "lines_per_batch": lines,
        "concurrent_requests": concurrency,
        "signals": signals,
        "seconds": round(elapsed, 2),
        "signals_per_second": round(signals / elapsed, 1),
        "batch_latency_ms_p50": round(percentile(latencies, 50) * 1000, 1),
        "batch_latency_ms_p95": round(percentile(latencies, 95) * 1000, 1),
        "records_added_to_topic": published,
        # CPU the gateway (and its worker processes) spent: comparable on a busy machine
        "gateway_cpu_seconds": round(cpu, 2),
        "gateway_cpu_us_per_signal": round(cpu / signals * 1e6, 1),
        # of which the gateway's own process: the part that does not spread over workers
        "gateway_main_process_cpu_us_per_signal": round(main_cpu / signals * 1e6, 1),
    }


async def bench_file(
    key: str, bootstrap: str, run: str, rows: int, sampler: MemorySampler, workdir: Path
) -> dict[str, Any]:
    path = workdir / f"arrears-{run}.csv"
    generated = time.perf_counter()
    size = write_csv(path, rows, run)
    print(
        f"file: {rows} rows, {mib(size)} MiB written in {time.perf_counter() - generated:.1f} s",
        flush=True,
    )
    before = await topic_total(bootstrap, SignalKind.ARREARS)
    baseline = sampler.rss()
    sampler.start()
    cpu_before = sampler.cpu_seconds()
    main_cpu_before = sampler.main_cpu_seconds()
    async with httpx.AsyncClient(base_url=GATEWAY, timeout=600) as client:
        started = time.perf_counter()
        response = await client.post(
            "/v1/files?kind=arrears&mode=accept_valid",
            content=file_chunks(path),
            headers={"X-Api-Key": key, "content-type": "text/csv"},
        )
        accepted_after = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"upload refused: {response.status_code} {response.text[:500]}")
        location = response.headers["location"]
        progress: list[tuple[float, int]] = []
        last_cpu, last_published = cpu_before, 0
        while True:
            status = (await client.get(location, headers={"X-Api-Key": key})).json()
            progress.append((time.perf_counter() - started, status["published"]))
            if status["state"] in ("completed", "rejected", "failed"):
                break
            if len(progress) % 20 == 0:
                # CPU per row over the interval: tells a slower machine (same CPU per row)
                # from a gateway that does more per row as the file goes on.
                cpu_now, published_now = sampler.cpu_seconds(), status["published"]
                rows_done = published_now - last_published
                per_row = (cpu_now - last_cpu) / rows_done * 1e6 if rows_done else 0.0
                print(
                    f"  {progress[-1][0]:6.1f} s: {published_now:>9} published, "
                    f"{per_row:5.1f} us CPU a row since the last line, "
                    f"{unwritten_mib():6.1f} MiB of this machine's writes not on disk yet",
                    flush=True,
                )
                last_cpu, last_published = cpu_now, published_now
            await asyncio.sleep(0.5)
        elapsed = time.perf_counter() - started
    cpu = sampler.cpu_seconds() - cpu_before
    main_cpu = sampler.main_cpu_seconds() - main_cpu_before
    workers_peak = max(sampler.worker_samples, default=0)
    peak = await sampler.stop()
    published = await topic_total(bootstrap, SignalKind.ARREARS) - before
    path.unlink()
    steady = [p for p in progress if 0.1 * rows <= p[1] <= 0.9 * rows]
    steady_rate = (
        (steady[-1][1] - steady[0][1]) / (steady[-1][0] - steady[0][0])
        if len(steady) >= 2 and steady[-1][0] > steady[0][0]
        else None
    )
    return {
        "rows": rows,
        "file_mib": mib(size),
        "mode": "accept_valid",
        "state": status["state"],
        "accepted": status["accepted"],
        "rejected": status["rejected"],
        "published": status["published"],
        "records_added_to_topic": published,
        "seconds_to_202": round(accepted_after, 2),
        "seconds_end_to_end": round(elapsed, 1),
        "rows_per_second_end_to_end": round(rows / elapsed, 1),
        "rows_per_second_steady_10_90": round(steady_rate, 1) if steady_rate else None,
        "rows_per_second_reported_by_gateway": status["rows_per_second"],
        "gateway_rss_mib_before": mib(baseline),
        "gateway_rss_mib_peak": mib(peak),
        "gateway_rss_mib_after": mib(sampler.rss()),
        "validation_workers_rss_mib_peak": mib(workers_peak),
        "gateway_cpu_seconds": round(cpu, 1),
        "gateway_cpu_us_per_row": round(cpu / rows * 1e6, 1),
        "gateway_main_process_cpu_us_per_row": round(main_cpu / rows * 1e6, 1),
    }


def unwritten_mib() -> float:
    """Dirty + Writeback pages of the whole machine (Linux; 0 elsewhere): a slowdown that
    comes with a growing backlog of writes is the disk's, not more work per row."""
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return 0.0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return sum(int(fields.get(k, "0 kB").split()[0]) for k in ("Dirty", "Writeback")) / 1024


def paced_seconds() -> float:
    text = httpx.get(f"{GATEWAY}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("anbu_gateway_file_paced_seconds_total"):
            return float(line.split()[-1])
    return 0.0


def database_size(var_dir: Path) -> int:
    return sum(p.stat().st_size for p in (var_dir / "data").glob("gateway.db*"))


async def main(args: argparse.Namespace) -> dict[str, Any]:
    bootstrap = os.environ.get("ANBU_BENCH_KAFKA", "127.0.0.1:29092")
    var_dir = BENCH_VAR / "gateway"
    shutil.rmtree(var_dir, ignore_errors=True)
    var_dir.mkdir(parents=True)
    registry = Stack(
        var_dir=var_dir / "registry",
        ports={"registry": PORTS["registry"]},
        env={"ANBU_KAFKA_BOOTSTRAP": "127.0.0.1:9", "ANBU_SERVICE_TOKEN": TOKEN},
    )
    gateway = Stack(
        var_dir=var_dir,
        ports=dict(PORTS),
        env={
            "ANBU_KAFKA_BOOTSTRAP": bootstrap,
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_LOG_LEVEL": "WARNING",
        },
    )
    registry.start()
    gateway.start(["gateway"])
    run = uuid.uuid4().hex[:6].upper()
    try:
        registry.wait_ready(path="/healthz", timeout=90)
        gateway.wait_ready(["gateway"], timeout=60)
        popen = gateway.processes["gateway"].popen
        assert popen is not None
        sampler = MemorySampler(popen.pid)
        print(f"gateway pid {popen.pid}", flush=True)  # for a profiler (py-spy -p)
        key = partner(["heartbeat", "arrears"])
        ndjson = []
        phases = {
            "1": (args.batch_lines, args.batches, 1),
            "4": (args.batch_lines, args.batches, 4),
            "big": (10_000, max(args.batches // 10, 2), 2),
        }
        for phase in args.phases.split(","):
            lines, batches, concurrency = phases[phase]
            result = await bench_ndjson(key, bootstrap, run, batches, lines, concurrency, sampler)
            print(f"ndjson: {result}", flush=True)
            ndjson.append(result)
        file_result: dict[str, Any] | None = None
        if args.rows > 0:
            file_result = await bench_file(key, bootstrap, run, args.rows, sampler, var_dir)
            file_result["seconds_paced_by_rate_limit"] = paced_seconds()
            file_result["gateway_database_mib_after"] = mib(database_size(var_dir))
            print(f"file: {file_result}", flush=True)
    finally:
        gateway.stop()
        registry.stop()
    return {
        "setup": {
            "kafka": bootstrap,
            "database": "sqlite (embedded default)",
            "gateway": (
                "one process (uvicorn) + 2 validation worker processes, 2 file workers, "
                "5,000-row spans read, checked and serialised in the worker processes"
            ),
            "partner_rate_limit_per_minute": 1_000_000,
            "acks": "all (idempotent producer); 202 only after every acknowledgement",
        },
        "ndjson": ndjson,
        "csv_file": file_result,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-lines", type=int, default=1000)
    parser.add_argument(
        "--phases",
        default="1,4,big",
        help="NDJSON phases, comma-separated: 1 and 4 clients of --batch-lines, big: 10,000 lines",
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the results file")
    arguments = parser.parse_args()
    if arguments.rows <= 0 and not arguments.no_write:
        parser.error("--rows 0 (NDJSON only) needs --no-write: the results file holds both")
    results = asyncio.run(main(arguments))
    if not arguments.no_write:
        print(f"wrote {write_result('gateway_ingest', results)}")
