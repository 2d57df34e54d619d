"""The same inactivity rule written with Quix Streams (what a team would otherwise pick).

    python bench/detector_quix.py BOOTSTRAP COUNT STATE_DIR

Reads signals.heartbeat.v1 as a new consumer group, keeps each household's last activity in
Quix's RocksDB state (with its changelog topic, as Quix recommends), computes the channel's
next deadline (24 h window, quiet hours 23:00–07:00 Asia/Seoul extend it), and stops after
COUNT records. Prints one JSON line: records, seconds, records_per_second.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from quixstreams import Application

SEOUL = ZoneInfo("Asia/Seoul")
WINDOW = timedelta(hours=24)


def deadline(last_active: datetime) -> datetime:
    end = last_active + WINDOW
    local = end.astimezone(SEOUL)
    if local.hour >= 23 or local.hour < 7:
        morning = local.replace(hour=7, minute=0, second=0, microsecond=0)
        if morning <= local:
            morning += timedelta(days=1)
        return morning
    return end


def main() -> None:
    bootstrap, count, state_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    app = Application(
        broker_address=bootstrap,
        consumer_group=f"bench-quix-{int(time.time())}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    topic = app.topic("signals.heartbeat.v1", value_deserializer="json")
    first: list[float] = []

    def apply(value: dict, state) -> dict:  # type: ignore[no-untyped-def,type-arg]
        if not first:
            first.append(time.perf_counter())
        seen = datetime.fromisoformat(value["last_active_at"])
        known = state.get("last_active")
        if known is None or seen.timestamp() > known:
            state.set("last_active", seen.timestamp())
            state.set("deadline", deadline(seen.astimezone(UTC)).timestamp())
        return value

    sdf = app.dataframe(topic).update(apply, stateful=True)
    app.run(sdf, count=count, collect=False)
    elapsed = time.perf_counter() - first[0]
    print(json.dumps({"records": count, "seconds": elapsed, "records_per_second": count / elapsed}))


if __name__ == "__main__":
    main()
