"""A small demo feed for `make run`: AI safety-call outcomes for the seed households.

Every cycle each seed household gets a call; most answer. One household at a time stops
answering, so that after three cycles its safety is "not confirmed", the detector opens an
alert and the day-1 step runs. The population simulator (issue 10) replaces this feed.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime
from uuid import uuid4

from anbu_contracts import CallOutcome, SafetyCallSignal, SignalKind
from anbu_contracts.topics import SIGNAL_TOPICS
from anbu_runtime.kafka import RecordProducer

HOUSEHOLDS = [f"HH-DEMO{i:06d}" for i in range(1, 41)]
PARTNER = "ai-call-demo"
CYCLE_S = float(os.environ.get("ANBU_DEMO_CYCLE_S", "10"))


async def main() -> None:
    producer = RecordProducer(
        os.environ.get("ANBU_KAFKA_BOOTSTRAP", "127.0.0.1:19092"), "demo-feed"
    )
    await producer.start()
    rng = random.Random(42)
    topic = SIGNAL_TOPICS[SignalKind.SAFETY_CALL]
    silent = rng.choice(HOUSEHOLDS)
    cycle = 0
    try:
        while True:
            cycle += 1
            if cycle % 6 == 0:
                silent = rng.choice(HOUSEHOLDS)
            now = datetime.now(UTC)
            for household in HOUSEHOLDS:
                outcome = CallOutcome.UNANSWERED if household == silent else CallOutcome.ANSWERED_OK
                signal = SafetyCallSignal(
                    occurred_at=now,
                    source=PARTNER,
                    household_id=household,
                    partner_id=PARTNER,
                    partner_event_id=str(uuid4()),
                    outcome=outcome,
                )
                await producer.publish(topic, signal)
            print(f"cycle {cycle}: {len(HOUSEHOLDS)} calls, {silent} not answering", flush=True)
            await asyncio.sleep(CYCLE_S)
    finally:
        await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
