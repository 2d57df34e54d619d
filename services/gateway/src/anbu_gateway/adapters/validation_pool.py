"""Worker processes for the CPU-bound part of ingestion: validating and serialising records.

Pydantic validation and JSON serialisation of every record cost more CPU than everything
else the gateway does per record (docs/performance.md); in the gateway's own process they
held the GIL the event loop needs to talk to Kafka and the database. Here they run in a
small pool of ``spawn``ed processes (no fork of a process with threads and sockets). Only
pure functions of ``domain`` and the CSV span reader (``csv_spans.check_span``, which
imports only the domain and aiokafka's partitioner) run there: what goes in is an NDJSON
body or where a span of a stored file is, what comes back is prepared records (their keys
hashed for partitioning) and refusals. With ``processes=0`` (tests, one-core hosts) the
work runs in a thread instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit when the gateway is gone (killed, it cannot shut the pool down)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ValidationPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: Executor | None = None

    def _pool(self) -> Executor | None:
        if self.processes <= 0:
            return None
        if self._executor is None:  # started on first use: a gateway without files needs none
            self._executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        return self._executor

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a worker process (``fn`` and its arguments must pickle)."""
        pool = self._pool()
        if pool is None:
            return await asyncio.to_thread(fn, *args)
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    async def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
