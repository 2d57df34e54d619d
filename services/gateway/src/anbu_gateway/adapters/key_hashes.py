"""Record keys hashed for partitioning where the records are prepared (a worker process).

aiokafka's default partitioner hashes every key with a pure-Python murmur2 (~6 µs a key):
done in the gateway's process it was its costliest step per record. Workers hash the keys
of what they prepare; ``kafka_batches.hashed_partitioner`` then picks the partition the
default partitioner would have picked.

The hash is Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``, as
``aiokafka.partitioner.murmur2`` computes it; tested equal on every key length). There is
no maintained C wheel of Kafka's variant; this one reads the key's 4-byte words with one
``struct`` call instead of byte by byte (about twice as fast, docs/performance.md), and
spares a worker process importing aiokafka (~6 MiB a worker). Imports only the domain.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from functools import lru_cache

from ..domain.prepared import Prepared

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@lru_cache(maxsize=256)
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 of ``data`` (unsigned 32 bits, before the partitioner's mask)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    for k in _words(length >> 2).unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = length & 3
    if tail:
        at = length - tail
        if tail == 3:
            h ^= data[at + 2] << 16
        if tail >= 2:
            h ^= data[at + 1] << 8
        h = ((h ^ data[at]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def hash_keys(records: Iterable[Prepared]) -> dict[bytes, int]:
    """Every distinct key's murmur2 hash, masked positive as the default partitioner does."""
    return {key: murmur2(key) & 0x7FFFFFFF for key in {p.key for p in records}}
