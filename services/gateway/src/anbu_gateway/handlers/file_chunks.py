"""A file's chunks, read and checked in the worker processes, handed out in the file's order.

The gateway cuts the stored file into spans (``adapters/csv_spans.py``); each span is read,
checked and serialised in a worker process, a few ahead of the chunk being published. What
comes back is ready to send: prepared records and refusals. A span is used only if it starts
where the one before it really ended; when a worker had to read past its guessed end (a
stray quote), the spans after it are dropped and cut again from the real end.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from anbu_contracts import SignalKind

from ..adapters import csv_files
from ..adapters.csv_spans import Chunk, FileToCheck, Span, check_span, next_span
from ..adapters.validation_pool import ValidationPool
from ..domain.csv_columns import Header


class FileChunks:
    """The checked chunks of one file in order, ``ahead`` of them in the works."""

    def __init__(
        self,
        pool: ValidationPool,
        file: FileToCheck,
        rows: int,
        ahead: int,
        now: Callable[[], datetime],
    ) -> None:
        self.pool = pool
        self.file = file
        self.rows = rows
        self.ahead = ahead
        self.now = now
        self.start, self.line = 0, 1  # where the next span to cut starts
        self.first_row = 0
        self.pending: deque[tuple[Span, asyncio.Task[Chunk]]] = deque()

    @classmethod
    async def open(
        cls,
        pool: ValidationPool,
        path: Path,
        codec: str,
        header: Header,
        kind: SignalKind,
        partner_id: str,
        after_line: int,
        *,
        rows: int,
        ahead: int,
        now: Callable[[], datetime],
    ) -> FileChunks:
        size = (await asyncio.to_thread(path.stat)).st_size
        ends = await asyncio.to_thread(csv_files.ends_with_line_break, path)
        file = FileToCheck(path, codec, size, ends, header, kind, partner_id, after_line)
        return cls(pool, file, rows, ahead, now)

    async def _fill(self) -> None:
        while self.start < self.file.size and len(self.pending) < self.ahead:
            span = await asyncio.to_thread(
                next_span, self.file.path, self.start, self.line, self.rows
            )
            task = asyncio.create_task(self.pool.run(check_span, self.file, span, self.now()))
            self.pending.append((span, task))
            self.start, self.line = span.end, span.end_line

    async def next(self) -> Chunk | None:
        """The next chunk of the file, or None after the last."""
        await self._fill()
        if not self.pending:
            return None
        span, task = self.pending.popleft()
        chunk = await task
        if chunk.span != span:  # read past its guessed end: cut the rest again from there
            await self.close()
            self.start, self.line = chunk.span.end, chunk.span.end_line
        chunk.first_row = self.first_row
        self.first_row += chunk.seen
        await self._fill()  # the next ones are checked while this one is published
        return chunk

    async def close(self) -> None:
        """Drop the chunks in the works (a worker's read must end before the file goes)."""
        while self.pending:
            _, task = self.pending.popleft()
            task.cancel()
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # retrieved: a dropped chunk's failure does not matter
