"""Sending prepared signals with the runtime producer's batched path (``send_raw``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from anbu_runtime.kafka import Partitioner, RecordProducer

from ..domain.prepared import Prepared


async def send_prepared(
    producer: RecordProducer,
    topic_of: dict[str, str],
    records: Sequence[Prepared],
    key_hashes: Mapping[bytes, int] | None = None,
) -> None:
    """Send ``records`` (``topic_of`` maps a record's kind to its topic) and await every ack.

    ``key_hashes`` holds every record key's murmur2 hash (masked positive) when it was
    computed ahead, in a worker process; the partition is then the one the default
    partitioner would choose.
    """
    if records:
        await producer.send_raw(
            ((topic_of[r.kind], r.key, r.value, r.headers()) for r in records),
            hashed_partitioner(key_hashes) if key_hashes is not None else None,
        )


def hashed_partitioner(key_hashes: Mapping[bytes, int]) -> Partitioner:
    def partition(key: bytes | None, every: list[int], available: list[int]) -> int:
        assert key is not None  # every signal is keyed by its household
        return every[key_hashes[key] % len(every)]

    return partition
