"""Which of a set of records are already on a topic (reconciling after a crash).

A record the gateway sent but could not mark as published before it died may or may not be
on the topic. Before sending such a record again, the gateway reads the topic's partitions
from the offsets at the record's last send attempt (minus a margin) up to the end, and looks
for its event id in the record headers. The scan is bounded by time: it stops in each
partition at records produced well after the last attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Set
from datetime import datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from anbu_contracts.topics import Topic

from ..domain.envelope import signal_event_id

MARGIN = timedelta(seconds=60)
# A send attempt's records reach the log within the producer's delivery timeout.
AFTER = timedelta(minutes=3)


async def already_on_topic(
    bootstrap: str,
    topic: Topic,
    partner_id: str,
    partner_event_ids: Set[str],
    since: datetime,
    until: datetime,
) -> set[str]:
    """The partner event ids among ``partner_event_ids`` whose record is on ``topic``."""
    if not partner_event_ids:
        return set()
    wanted = {str(signal_event_id(partner_id, pid)).encode(): pid for pid in partner_event_ids}
    start_ms = int((since - MARGIN).timestamp() * 1000)
    stop_ms = int((until + AFTER).timestamp() * 1000)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        client_id="gateway-reconcile",
        max_partition_fetch_bytes=4 << 20,
    )
    await consumer.start()
    found: set[str] = set()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        starts = await consumer.offsets_for_times({tp: start_ms for tp in partitions})
        ends = await consumer.end_offsets(partitions)
        open_parts: dict[TopicPartition, int] = {}
        for tp in partitions:
            first = starts.get(tp)
            if first is None or first.offset >= ends[tp]:
                continue
            consumer.seek(tp, first.offset)
            open_parts[tp] = ends[tp]
        while open_parts and len(found) < len(wanted):
            batches = await asyncio.wait_for(consumer.getmany(timeout_ms=500), timeout=30)
            for tp, records in batches.items():
                end = open_parts.get(tp)
                if end is None:
                    continue
                for record in records:
                    if record.offset >= end or record.timestamp > stop_ms:
                        open_parts.pop(tp, None)
                        break
                    for key, value in record.headers or ():
                        if key == "event_id" and value in wanted:
                            found.add(wanted[value])
                else:
                    if records and records[-1].offset >= end - 1:
                        open_parts.pop(tp, None)
            for tp in list(open_parts):
                if await consumer.position(tp) >= open_parts[tp]:
                    open_parts.pop(tp, None)
    finally:
        await consumer.stop()
    return found
