"""Create every topic of the topic registry on the broker (idempotent).

anbu-topics create [--bootstrap HOST:PORT] [--wait SECONDS] [--replication-factor N]
anbu-topics list
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from anbu_contracts.topics import all_topics

from .settings import CommonSettings


async def _admin(bootstrap: str, wait_s: float) -> AIOKafkaAdminClient:
    deadline = time.monotonic() + wait_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="anbu-topics")
        try:
            await admin.start()
            return admin
        except Exception as exc:
            await admin.close()
            if time.monotonic() > deadline:
                raise SystemExit(f"broker at {bootstrap} not reachable: {exc}") from exc
            await asyncio.sleep(1.0)


async def create(bootstrap: str, wait_s: float, replication_factor: int = 1) -> int:
    admin = await _admin(bootstrap, wait_s)
    try:
        existing = set(await admin.list_topics())
        wanted = all_topics()
        missing = [t for t in wanted if t.name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(
                        name=t.name,
                        num_partitions=t.partitions,
                        replication_factor=replication_factor,
                        topic_configs=t.config(),
                    )
                    for t in missing
                ]
            )
        # New topics take a moment to show their partitions in the metadata.
        for _ in range(40):
            described = await admin.describe_topics([t.name for t in wanted])
            partitions = {d["topic"]: len(d["partitions"]) for d in described}
            wrong = [t.name for t in wanted if partitions.get(t.name) != t.partitions]
            if not wrong or not missing:
                break
            await asyncio.sleep(0.25)
        print(f"topics: {len(wanted)} in registry, {len(missing)} created, {len(wrong)} mismatched")
        for name in wrong:
            want = next(t.partitions for t in wanted if t.name == name)
            print(f"  {name}: has {partitions.get(name)} partitions, registry says {want}")
        return 1 if wrong else 0
    finally:
        await admin.close()


async def list_topics(bootstrap: str, wait_s: float) -> int:
    admin = await _admin(bootstrap, wait_s)
    try:
        for name in sorted(await admin.list_topics()):
            print(name)
        return 0
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="anbu-topics", description=__doc__)
    parser.add_argument("command", choices=["create", "list"])
    parser.add_argument("--bootstrap", default=CommonSettings().kafka_bootstrap)
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the broker")
    # A production cluster gives 3 (with the brokers' min.insync.replicas=2, so that a write
    # acknowledged by acks=all survives the loss of one broker); one broker takes 1.
    parser.add_argument("--replication-factor", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "create":
        return asyncio.run(create(args.bootstrap, args.wait, args.replication_factor))
    return asyncio.run(list_topics(args.bootstrap, args.wait))


if __name__ == "__main__":
    sys.exit(main())
