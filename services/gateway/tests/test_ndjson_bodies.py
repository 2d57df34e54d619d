"""NDJSON bodies read in a worker process give what reading them in the event loop gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from anbu_gateway.adapters.kafka_batches import hashed_partitioner
from anbu_gateway.adapters.ndjson_bodies import read_body
from anbu_gateway.adapters.validation_pool import ValidationPool
from anbu_gateway.domain.batches import Parsed

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
PARTNER = "p-bodies"


def call(n: int, **extra: Any) -> str:
    return json.dumps(
        {
            "kind": "safety_call",
            "household_id": f"HH-BODY{n:04d}",
            "partner_event_id": f"call-{n}",
            "occurred_at": "2026-11-25T09:00:00+09:00",
            "outcome": "unanswered",
            **extra,
        }
    )


def mixed_body() -> bytes:
    """Valid lines around every kind of refusal, blank lines and repeats."""
    lines = [call(1), call(2), "", "   ", "{broken", call(3, outcome="maybe")]
    lines += ["[1, 2]", call(4, partner_id="someone-else"), call(1), call(2, outcome="unreachable")]
    lines += [call(n) for n in range(5, 40)]
    raw = ("\n".join(lines) + "\r\n").encode()
    return raw + b'{"kind": "safety_call", "household_id": "\xff\xfe"}\n' + call(40).encode()


def view(parsed: Parsed) -> tuple[Any, ...]:
    return (
        parsed.candidates,
        [e.as_problem() for e in parsed.errors],
        parsed.kinds,
        parsed.records,
    )


async def test_a_body_read_in_a_worker_gives_the_records_and_refusals_of_reading_it_inline() -> (
    None
):
    body = mixed_body()
    pool = ValidationPool(1)  # a real spawned process, as in the gateway
    try:
        in_worker = await read_body(pool, body, PARTNER, NOW, inline_below=0)
        assert pool._executor is not None
    finally:
        await pool.close()
    inline = await read_body(ValidationPool(1), body, PARTNER, NOW, inline_below=len(body) + 1)

    assert view(in_worker) == view(inline)
    assert [(e.line, e.type) for e in inline.errors] == [
        (5, "invalid-json"),
        (6, "invalid-signal"),
        (7, "invalid-json"),
        (8, "wrong-partner"),
        (46, "invalid-json"),
    ]
    # repeats are the publisher's to judge (duplicate or reused id): both paths keep them
    assert [c.line for c in inline.candidates if c.partner_event_id == "call-1"] == [1, 9]
    assert [c.line for c in inline.candidates if c.partner_event_id == "call-2"] == [2, 10]
    assert inline.candidates[-1].line == 47 and inline.records == 45


async def test_a_small_body_is_read_inline_and_a_large_one_hashes_its_keys_in_the_worker() -> None:
    body = mixed_body()
    pool = ValidationPool(1)
    try:
        small = await read_body(pool, body, PARTNER, NOW, inline_below=len(body) + 1)
        assert pool._executor is None  # no worker started for it
        large = await read_body(pool, body, PARTNER, NOW, inline_below=len(body))
    finally:
        await pool.close()
    assert small.key_hashes is None  # the producer's own partitioner hashes them
    assert large.key_hashes is not None
    assert set(large.key_hashes) == {c.key for c in large.candidates}
    every = list(range(12))
    default = DefaultPartitioner()
    partition = hashed_partitioner(large.key_hashes)
    assert [partition(c.key, every, every) for c in large.candidates] == [
        default(c.key, every, every) for c in large.candidates
    ]
