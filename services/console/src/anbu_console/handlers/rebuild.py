"""Refilling the read model by replaying the topics: at start when :func:`prepare` recreated
it, and on an administrator's request (``POST /api/rebuild``, ``python -m anbu_console
rebuild``).

The replay folds with the same :func:`project_batch` as the live consumer, which may keep
running meanwhile: the projections are idempotent, so records both of them fold end in the
same state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anbu_contracts.topics import Topic
from anbu_runtime.logs import get_logger
from anbu_runtime.uow import Transactions

from ..adapters.replay import prepare, reset, retained
from ..adapters.repository import ReadModel
from . import fold

log = get_logger(__name__)


@dataclass
class ReplayReport:
    records: int = 0
    skipped: int = 0


@dataclass
class RebuildState:
    state: str = "idle"  # idle, running, done, failed
    records: int = 0
    skipped: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def public(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "records": self.records,
            "skipped": self.skipped,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
        }


async def replay(
    tx: Transactions[ReadModel], bootstrap: str, topics: Sequence[Topic]
) -> ReplayReport:
    """Fold every retained record of ``topics`` into the read model (reset it first)."""
    report = ReplayReport()
    async for events, skipped in retained(bootstrap, topics):
        report.skipped += skipped
        if events:
            await fold(tx, events)
            report.records += len(events)
    log.info("read model replayed", records=report.records, skipped=report.skipped)
    return report


async def rebuild(
    tx: Transactions[ReadModel], bootstrap: str, topics: Sequence[Topic]
) -> ReplayReport:
    """Drop the read model and replay ``topics`` into it."""
    await tx.run(lambda uow: reset(uow.session))
    return await replay(tx, bootstrap, topics)


class Rebuilds:
    """The console's replays: the one owed at start, and those administrators ask for."""

    def __init__(
        self, tx: Transactions[ReadModel], bootstrap: str, topics: Sequence[Topic]
    ) -> None:
        self.tx, self.bootstrap, self.topics = tx, bootstrap, topics
        self.state = RebuildState()
        self.needs_replay = False  # set at start when the read model was recreated

    async def prepare(self) -> None:
        """At start: recreate a read model of another version (then a replay is owed)."""
        self.needs_replay = await self.tx.run(lambda uow: prepare(uow.session))

    async def replay_if_needed(self, stop: asyncio.Event) -> None:
        """Background task: replay the topics into a read model recreated at start."""
        if not self.needs_replay:
            return
        self.needs_replay = False
        self.state = RebuildState(state="running", started_at=self.tx.clock.now())
        await self._run(self.state, drop=False)

    def start(self) -> bool:
        """Start a rebuild in the background; False when one is running already."""
        if self.state.state == "running":
            return False
        self.state = RebuildState(state="running", started_at=self.tx.clock.now())
        self.state.task = asyncio.create_task(self._run(self.state))
        return True

    async def _run(self, state: RebuildState, *, drop: bool = True) -> None:
        try:
            if drop:
                report = await rebuild(self.tx, self.bootstrap, self.topics)
            else:
                report = await replay(self.tx, self.bootstrap, self.topics)
            state.records, state.skipped, state.state = report.records, report.skipped, "done"
        except Exception as exc:
            log.exception("read model rebuild failed")
            state.state, state.error = "failed", type(exc).__name__
        finally:
            state.finished_at = self.tx.clock.now()
