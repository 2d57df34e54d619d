"""The notifier's state path alone: CPU per send of its database work, without the network.

The notifier as its bootstrap wires it (SQLite in a temp dir, or ``--database-url``), its
SMS channel replaced by an in-process one that answers every call with a fresh message id:
requests accepted in batches of 250 (as the consumer does), the dispatcher's own rounds
(claim, plan, send, record, 64 in flight), a delivered receipt for every message in
batches of 100 (as the gateway posts them). Reports CPU per send of the whole process and
of the database thread (the transactions' thread time), sends/s, and checks that every
message was sent once and ended ``delivered``.

``bench/notifier_throughput.py`` measures the whole pipeline (Kafka, HTTP gateway,
receipts over HTTP) in separate processes; this one isolates what the group commits,
claims and receipts cost, so a change to them can be compared on a busy machine.

    uv run --frozen python bench/notifier_state_path.py --messages 3000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

from sqlalchemy import text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "services" / "notifier" / "tests"))

from notifier_fakes.directory import FakeDirectory  # noqa: E402
from notifier_fakes.world import T0, household_id, resident  # noqa: E402

from anbu_contracts import NotificationRequest, RecipientKind, RecipientRef, Urgency  # noqa: E402
from anbu_contracts.notify import Channel  # noqa: E402
from anbu_notifier.adapters.channels import OutgoingMessage, SendResult  # noqa: E402
from anbu_notifier.adapters.migrations import MIGRATIONS  # noqa: E402
from anbu_notifier.bootstrap import NotifierSettings, build  # noqa: E402
from anbu_notifier.handlers.receipts import RecordReceipt  # noqa: E402
from anbu_runtime.clock import ManualClock  # noqa: E402
from anbu_runtime.db import Database  # noqa: E402
from anbu_runtime.settings import CommonSettings  # noqa: E402


class InProcessSms:
    """An SMS gateway that accepts every message at once (a fresh id each)."""

    name = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        await asyncio.sleep(0)  # a call yields to the loop, as a network call would
        message_id = uuid4().hex
        self.sent.append(message_id)
        return SendResult(provider_message_id=message_id, delivered=False)

    async def close(self) -> None:
        return None


class ThreadCpu:
    """CPU time spent inside the database's transactions (on its worker thread)."""

    def __init__(self, db: Database) -> None:
        self.seconds = 0.0
        opened = db.session

        @contextmanager
        def session() -> Iterator[Session]:
            started = time.thread_time()
            try:
                with opened() as s:
                    yield s
            finally:
                self.seconds += time.thread_time() - started

        db.session = session  # type: ignore[method-assign]


def sent_left(session: Session) -> int:
    """Deliveries a provider accepted whose receipt is not applied yet."""
    return int(
        session.execute(text("SELECT count(*) FROM delivery WHERE state = 'sent'")).scalar_one()
    )


def requests_for(directory: FakeDirectory, count: int) -> list[NotificationRequest]:
    requests = []
    for _ in range(count):
        household = household_id()
        directory.add(household, RecipientKind.RESIDENT, resident())
        requests.append(
            NotificationRequest(
                occurred_at=T0,
                produced_at=T0,
                source="bench",
                request_id=uuid4(),
                request_key=f"bench:{uuid4()}",
                recipient=RecipientRef(kind=RecipientKind.RESIDENT, household_id=household),
                template="safety_check.day1_text",
                urgency=Urgency.HIGH,
                household_id=household,
            )
        )
    return requests


async def run(messages: int, database_url: str | None) -> dict[str, Any]:
    var_dir = Path(tempfile.mkdtemp(prefix="notifier-state-"))
    common = CommonSettings(var_dir=var_dir, kafka_bootstrap="127.0.0.1:9", instance_id="bench")
    settings = NotifierSettings(
        database_url=database_url or f"sqlite:///{var_dir / 'notifier.db'}",
        enabled_channels=[Channel.SMS],
        default_channel=Channel.SMS,
        sms={"base_url": "http://127.0.0.1:9", "api_key": "bench", "sender": "0212345678"},
        concurrency=64,
    )
    directory = FakeDirectory()
    service = build(common, settings, ManualClock(T0), directory)
    db = service.runtime.db
    with db.schema_lock():
        MIGRATIONS.upgrade(db)
    sms = InProcessSms()
    service.notifier.channels[Channel.SMS] = sms
    requests = requests_for(directory, messages)
    notifier, dispatcher = service.notifier, service.dispatcher
    db_cpu = ThreadCpu(db)
    cpu_at, wall_at = time.process_time(), time.perf_counter()
    for start in range(0, messages, 250):
        await notifier.accept_many(requests[start : start + 250])

    async def post_receipts() -> None:
        posted = 0
        while posted < messages:
            if len(sms.sent) - posted >= 100 or len(sms.sent) == messages:
                batch = sms.sent[posted : posted + 100]
                posted += len(batch)
                await notifier.record_receipts(
                    [
                        RecordReceipt(provider=Channel.SMS, message_id=m, status="delivered")
                        for m in batch
                    ]
                )
            else:
                await asyncio.sleep(0.001)

    stop = asyncio.Event()
    dispatching = asyncio.create_task(dispatcher.run(stop))
    await post_receipts()
    # Receipts that passed the commit of their own send wait for the sweep (on PostgreSQL
    # the transactions run side by side): run it until none is left, as the service would.
    for _ in range(1500):
        await notifier.apply_overtaken_receipts()
        if not await notifier.tx.read(lambda repos: sent_left(repos.session)):
            break
        await asyncio.sleep(0.01)
    cpu, wall = time.process_time() - cpu_at, time.perf_counter() - wall_at
    stop.set()
    await dispatching
    with db.session() as session:
        states = dict(
            session.execute(text("SELECT state, count(*) FROM delivery GROUP BY state")).all()
        )
    db.dispose()
    shutil.rmtree(var_dir, ignore_errors=True)
    return {
        "messages": messages,
        "database": "postgresql" if database_url else "sqlite",
        "sent": len(sms.sent),
        "sent_twice": len(sms.sent) - len(set(sms.sent)),
        "deliveries_by_state": states,
        "cpu_ms_per_send": round(1000 * cpu / messages, 3),
        "db_thread_cpu_ms_per_send": round(1000 * db_cpu.seconds / messages, 3),
        "sends_per_second": round(messages / wall, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    args = parser.parse_args()
    result = asyncio.run(run(args.messages, args.database_url))
    print(json.dumps(result))
    ok = result["sent"] == args.messages and result["sent_twice"] == 0
    return 0 if ok and result["deliveries_by_state"] == {"delivered": args.messages} else 1


if __name__ == "__main__":
    raise SystemExit(main())
