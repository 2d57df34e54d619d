"""NDJSON batch bodies read off the event loop: parsed, validated, serialised and their keys
hashed in a worker process, so the gateway's process only receives prepared records.

Handing a body to a worker costs the gateway's process a fixed ~170 µs (the call, pickling
the body, unpickling the result) plus ~2–5 µs a line, against ~20 µs a line to read it
inline (docs/performance.md, "NDJSON bodies off the loop"): the two cross at ~10–20 lines,
so a small body is read in the event loop (which it holds for well under a millisecond,
and its answer comes ~0.3 ms sooner), a large one in a worker.
"""

from __future__ import annotations

from datetime import datetime

from ..domain.batches import Parsed, parse_ndjson
from .key_hashes import hash_keys
from .validation_pool import ValidationPool

# Below this many bytes (~16 lines of a typical signal) a body is read in the event loop.
INLINE_BELOW_BYTES = 4096


def check_body(body: bytes, partner_id: str, now: datetime) -> Parsed:
    """Every line of ``body`` validated and serialised, the keys hashed (in a worker)."""
    parsed = parse_ndjson(body, partner_id, now)
    parsed.key_hashes = hash_keys(parsed.candidates)
    return parsed


async def read_body(
    pool: ValidationPool,
    body: bytes,
    partner_id: str,
    now: datetime,
    inline_below: int = INLINE_BELOW_BYTES,
) -> Parsed:
    """``body`` parsed inline when it is small, else in a worker; the same records either way."""
    if len(body) < inline_below:
        return parse_ndjson(body, partner_id, now)
    return await pool.run(check_body, body, partner_id, now)
