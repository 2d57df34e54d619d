"""The gateway's periodic jobs, each run by the runtime's one stop-and-wait loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

from anbu_runtime.jobs import Background, every
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from ..handlers.file_worker import FileWorker
from ..handlers.publishing import Publisher, real_now

log = get_logger(__name__)


def register(
    runtime: ServiceRuntime,
    worker: FileWorker,
    publisher: Publisher,
    *,
    file_workers: int,
    dedupe_days: int,
) -> None:
    for index in range(file_workers):
        runtime.add_background(f"files-{index}", _file_job(runtime, worker, index))
    runtime.every(15.0, worker.refresh_gauges, name="submission-gauges")
    # Records a crashed request left pending (with their payload) are settled, batch after
    # batch while there are any.
    runtime.every(10.0, publisher.sweep, name="sweeper", drain=True)

    async def prune() -> int:
        before = real_now() - timedelta(days=dedupe_days)
        pruned = await publisher.tx.run(lambda uow: uow.repos.prune_log(before))
        if pruned:
            log.info("forgot published partner event ids", rows=pruned)
        return pruned

    runtime.every(3600.0, prune, name="prune-submission-log")


def _file_job(runtime: ServiceRuntime, worker: FileWorker, index: int) -> Background:
    """A file worker's job: it is handed the stop event, so a file stops between chunks."""
    owner = f"{runtime.common.instance_id}/files-{index}"

    async def job(stop: asyncio.Event) -> None:
        loop = every(
            0.0,  # an idle round already waited for an upload (FileWorker.run_once)
            partial(worker.run_once, owner, stop),
            name=f"files-{index}",
            service=runtime.name,
            drain=True,
            error_pause=5.0,
        )
        await loop(stop)

    return job
