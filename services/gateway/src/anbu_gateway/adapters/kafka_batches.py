"""Sending prepared signals with the runtime producer's batched path (``send_raw``)."""

from __future__ import annotations

from collections.abc import Sequence

from anbu_runtime.kafka import RecordProducer

from ..domain.prepared import Prepared


async def send_prepared(
    producer: RecordProducer, topic_of: dict[str, str], records: Sequence[Prepared]
) -> None:
    """Send ``records`` (``topic_of`` maps a record's kind to its topic) and await every ack."""
    if records:
        await producer.send_raw((topic_of[r.kind], r.key, r.value, r.headers()) for r in records)
