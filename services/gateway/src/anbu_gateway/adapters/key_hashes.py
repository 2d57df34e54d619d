"""Record keys hashed for partitioning where the records are prepared (a worker process).

aiokafka's default partitioner hashes every key with a pure-Python murmur2 (~6 µs a key):
done in the gateway's process it was its costliest step per record. Workers hash the keys
of what they prepare; ``kafka_batches.hashed_partitioner`` then picks the partition the
default partitioner would have picked. Imports only aiokafka's partitioner (worker-light).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.partitioner import murmur2

from ..domain.prepared import Prepared


def hash_keys(records: Iterable[Prepared]) -> dict[bytes, int]:
    """Every distinct key's murmur2 hash, masked positive as the default partitioner does."""
    return {key: murmur2(key) & 0x7FFFFFFF for key in {p.key for p in records}}
