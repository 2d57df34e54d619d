"""Group commit: many small state changes, one transaction.

Hundreds of sends finish at once; writing each outcome in a transaction of its own made
the database's single writer the notifier's ceiling (52 sends/s). A :class:`GroupCommit`
queues commands from any number of tasks and applies everything queued so far in ONE unit
of work: the aggregates they touch are loaded in two statements, each command is
dispatched through the use case's :class:`HandlerTable`, and what changed is written back
set-based. Each caller gets its own command's result (or exception) once the batch has
committed, so "recorded before the provider is called" still holds for every send.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from anbu_contracts import DeliveryStatus
from anbu_contracts.topics import NOTIFY_STATUS
from anbu_runtime.uow import HandlerTable, Transactions, UnitOfWork

from .. import metrics
from ..adapters.events import status_event
from ..adapters.repository import NotifierRepository

C = TypeVar("C", bound=BaseModel)
Uow = UnitOfWork[NotifierRepository]
Prefetch = Callable[[list[Any], Uow], None]


def publish_changes(uow: Uow) -> None:
    """Write back what the handlers changed and stage the statuses it adds up to."""
    changes = uow.repos.save()
    for notification, change in changes:
        if not notification.rejected and change.status is not DeliveryStatus.QUEUED:
            metrics.REQUESTS.labels(change.status.value).inc()
    if changes:
        uow.publish_many(NOTIFY_STATUS, [status_event(n, c) for n, c in changes])


def dispatch_all(
    handlers: HandlerTable[NotifierRepository], commands: Iterable[Any], uow: Uow
) -> list[Any]:
    """Each command through its handler; a command that is refused (a domain error raised
    before it changed anything) fails alone, the rest of the batch commits."""
    results: list[Any] = []
    for command in commands:
        try:
            results.append(handlers.dispatch(command, uow))
        except (LookupError, ValueError) as exc:
            results.append(exc)
    publish_changes(uow)
    return results


class GroupCommit(Generic[C]):
    def __init__(
        self,
        tx: Transactions[NotifierRepository],
        handlers: HandlerTable[NotifierRepository],
        prefetch: Prefetch,
        *,
        max_batch: int = 1000,
    ) -> None:
        self.tx = tx
        self.handlers = handlers
        self.prefetch = prefetch
        self.max_batch = max_batch
        self._queue: list[tuple[C, asyncio.Future[Any]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, command: C) -> Any:
        """Apply ``command`` in the next group transaction; its handler's result."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        self._start_writer()
        return await future

    async def submit_many(self, commands: list[C]) -> list[Any]:
        """Queue ``commands`` together (one group transaction unless it overflows
        ``max_batch``); their handlers' results, in order, a refused command's exception in
        its place."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = [loop.create_future() for _ in commands]
        self._queue.extend(zip(commands, futures, strict=True))
        self._start_writer()
        return await asyncio.gather(*futures, return_exceptions=True)

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="group-commit")

    async def _write(self) -> None:
        await asyncio.sleep(0)  # let the tasks that finish together queue theirs too
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            commands = [c for c, _ in batch]

            def work(uow: Uow, commands: list[C] = commands) -> list[Any]:
                self.prefetch(commands, uow)
                return dispatch_all(self.handlers, commands, uow)

            try:
                results = await self.tx.run(work)
            except Exception as exc:  # the transaction failed: every caller hears of it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
