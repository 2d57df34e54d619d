"""A service given several brokers (``ANBU_KAFKA_BOOTSTRAP=host1:port,host2:port``, as a
production cluster is configured) reaches the cluster through any of them."""

from __future__ import annotations

import asyncio

import pytest

from anbu_runtime.kafka import RecordProducer, build_broker

pytestmark = pytest.mark.integration


async def test_a_comma_separated_bootstrap_list_connects_past_a_dead_first_server(
    kafka_bootstrap: str,
) -> None:
    # The first server refuses connections, like a broker that is down; the second answers.
    servers = f"127.0.0.1:1,{kafka_bootstrap}"
    producer = RecordProducer(servers, "bootstrap-list-test")
    broker = build_broker(servers, "bootstrap-list-test", producer)
    try:
        await asyncio.wait_for(broker.connect(), timeout=30)
    finally:
        await broker.stop()
