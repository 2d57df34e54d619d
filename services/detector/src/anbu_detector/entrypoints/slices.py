"""The bulk consumer, decoding its batches in slices that give the event loop back.

The runtime's :class:`BatchConsumer` decodes a whole batch (the detector reads 5,000-10,000
records at once) in one go on the event loop: ~8 µs of contract validation a heartbeat on
a quiet machine, several times that on a busy one, so 40 ms to half a second during which
nothing else in the process runs — not the priority lane's fetch, not its commit, not the
outbox relay that publishes its alert. py-spy showed that decode holding the loop ~47 %
of the time under a heartbeat backlog, and it is what kept the lane's SOS p99 at seconds.
Here the batch is decoded in slices of ``DECODE_SLICE`` records before the runtime hands
it on, with a turn between slices (``Priority.turn``: the loop is given back, and while
the lane has a batch in flight the decode waits for it). Everything else (dead letters,
ordering, the commit after the flush) stays the runtime's; ``_decode`` then answers from
what was decoded.

(The runtime could do this itself for every batch consumer; it is here because the
detector is the one whose batches are large enough to matter.)
"""

from __future__ import annotations

from typing import Any

from aiokafka import AIOKafkaConsumer
from pydantic import BaseModel

from anbu_runtime.batch import BatchConsumer

from ..handlers.priority import Priority

DECODE_SLICE = 200  # ~2 ms of decoding on a quiet machine between two turns
FETCH_SLICE = 1000  # records one poll hands over at most


class SlicedBatchConsumer(BatchConsumer):
    """A :class:`BatchConsumer` whose batches are decoded in slices, yielding between them."""

    def __init__(self, *, priority: Priority, max_records: int = 5000, **kwargs: Any) -> None:
        # aiokafka builds a poll's records (``ConsumerRecord``s) in one synchronous stretch
        # that no slice can split: ~28 % of the loop's samples under a 10,000-record batch.
        # The configured batch size is a ceiling; a poll takes at most ``FETCH_SLICE``.
        super().__init__(max_records=min(max_records, FETCH_SLICE), **kwargs)
        self.priority = priority
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
                        await self.priority.turn()
            await super()._handle(consumer, batches)
        finally:
            self._decoded.clear()

    def _decode(self, record: Any) -> BaseModel | Exception:  # type: ignore[override]
        decoded = self._decoded.pop(id(record), None)
        return decoded if decoded is not None else BatchConsumer._decode(record)
