"""The bulk consumer, decoding its batches in slices that give the event loop back.

The runtime's :class:`BatchConsumer` decodes a whole batch (the detector reads 5,000–10,000
records at once) in one go on the event loop: ~8 µs of contract validation a heartbeat, so
40–80 ms at a time during which nothing else in the process runs — not the priority lane's fetch,
not its commit, not the outbox relay that publishes its alert. py-spy showed that decode
holding the loop ~47 % of the time under a heartbeat backlog, and it is what kept the
lane's SOS p99 at seconds. Here the batch is decoded in slices of ``DECODE_SLICE`` records
before the runtime hands it on, with ``await asyncio.sleep(0)`` between slices, so work of
the lane waits for one slice at most. Everything else (dead letters, ordering, the commit
after the flush) stays the runtime's; ``_decode`` then answers from what was decoded.

(The runtime could do this itself for every batch consumer; it is here because the
detector is the one whose batches are large enough to matter.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from anbu_runtime.batch import BatchConsumer

DECODE_SLICE = 500  # ~4 ms of decoding between two yields


class SlicedBatchConsumer(BatchConsumer):
    """A :class:`BatchConsumer` whose batches are decoded in slices, yielding between them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._decoded: dict[int, BaseModel | Exception] = {}  # id(record) → its decoding

    async def _handle(self, consumer: AIOKafkaConsumer, batches: dict[Any, list[Any]]) -> None:
        done = 0
        try:
            for tp, records in batches.items():
                if tp.partition not in self.partitions:
                    continue  # the runtime seeks or skips it, undecoded
                for record in records:
                    self._decoded[id(record)] = BatchConsumer._decode(record)
                    done += 1
                    if done % DECODE_SLICE == 0:
                        await asyncio.sleep(0)
            await super()._handle(consumer, batches)
        finally:
            self._decoded.clear()

    def _decode(self, record: Any) -> BaseModel | Exception:  # type: ignore[override]
        decoded = self._decoded.pop(id(record), None)
        return decoded if decoded is not None else BatchConsumer._decode(record)
