"""Publishing partner records exactly once per partner event id, through the submission log.

For a chunk of validated records:

1. one transaction classifies every record against the log and reserves the new ones as
   ``pending`` (a record already ``published`` is a duplicate; one ``pending`` under a live
   attempt is a duplicate in flight; one whose attempt was abandoned by a crash is taken
   over);
2. records taken over from a crashed attempt are looked for on their topic first, and only
   those not found there are sent again;
3. the chunk is sent with the idempotent producer (acks=all) and every acknowledgement
   awaited;
4. one transaction marks them ``published`` (together with the caller's own progress).

A crash between 1 and 4 leaves ``pending`` rows; the next attempt (the partner's retry, the
resumed file, or the sweeper for records that carry their payload) reconciles them with
the topic, so a record is neither lost nor published twice.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from anbu_contracts import SIGNAL_TOPICS, SignalKind
from anbu_contracts.topics import Topic
from anbu_runtime.logs import get_logger
from anbu_runtime.outbox import OutgoingRecord
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.uow import Transactions

from ..adapters.kafka_batches import send_prepared
from ..adapters.repository import GatewayRepository, Uow
from ..adapters.submission_log import PUBLISHED, LogEntry, NewEntry, StrandedRecord
from ..adapters.topic_scan import already_on_topic
from ..domain.prepared import Prepared
from ..domain.records import RecordError, reused_id, split_duplicates_within
from ..metrics import PUBLISH_SECONDS, RECONCILED

log = get_logger(__name__)


class KafkaUnavailable(Exception):
    """Kafka is not connected or did not acknowledge: nothing was marked published."""


class ReusedIds(Exception):
    """``refuse_reused`` and some records reuse a partner event id for other content: the
    classifying transaction was rolled back, nothing was reserved or sent."""

    def __init__(self, errors: list[RecordError]) -> None:
        super().__init__(f"{len(errors)} records reuse a partner event id")
        self.errors = errors


def real_now() -> datetime:
    """Wall-clock time: send attempts are compared with Kafka record timestamps."""
    return datetime.now(UTC)


TOPIC_OF: dict[str, str] = {kind.value: topic.name for kind, topic in SIGNAL_TOPICS.items()}


def topic_of(record: Prepared) -> Topic:
    return SIGNAL_TOPICS[SignalKind(record.kind)]


@dataclass
class ChunkResult:
    accepted: list[Prepared] = field(default_factory=list)
    duplicates: list[tuple[Prepared, str]] = field(default_factory=list)
    rejected: list[RecordError] = field(default_factory=list)


@dataclass
class _Plan:
    send: list[Prepared] = field(default_factory=list)
    doubtful: list[tuple[Prepared, datetime]] = field(default_factory=list)
    confirmed: list[Prepared] = field(default_factory=list)
    duplicates: list[tuple[Prepared, str]] = field(default_factory=list)
    rejected: list[RecordError] = field(default_factory=list)


class Publisher:
    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        lease: timedelta,
        tx: Transactions[GatewayRepository] | None = None,
    ) -> None:
        self.runtime = runtime  # Kafka: the producer, whether it is connected
        self.tx = tx or runtime.transactions(GatewayRepository)
        self.lease = lease

    def new_owner(self, prefix: str = "req") -> str:
        return f"{prefix}-{uuid.uuid4().hex[:24]}"

    async def publish(
        self,
        partner_id: str,
        owner: str,
        records: Sequence[Prepared],
        *,
        keep_payload: bool,
        on_commit: Callable[[Uow, ChunkResult], None] | None = None,
        key_hashes: Mapping[bytes, int] | None = None,
        refuse_reused: bool = False,
    ) -> ChunkResult:
        """Publish ``records`` of ``partner_id`` once each; see the module docstring.

        ``keep_payload`` stores the serialised record with its pending row (records that
        have no file to be read from again). ``on_commit`` runs in the transaction that
        marks the records published (in its unit of work). ``key_hashes``: the keys hashed
        ahead for partitioning (see ``send_prepared``). ``refuse_reused`` (all_or_nothing):
        raise :class:`ReusedIds` instead of publishing anything when a record reuses a
        partner event id for other content, checked in the classifying transaction itself
        (one read of the log per request, not a read and then the classification).
        """
        if not self.runtime.producer.started or not self.runtime.connected:
            raise KafkaUnavailable("Kafka is not connected yet")
        result = ChunkResult()
        prepared, repeats = split_duplicates_within(records)
        for later, first in repeats:
            if later.digest == first.digest:
                result.duplicates.append((later, f"repeats line {first.line} of this submission"))
            else:
                result.rejected.append(reused_id(later, first.line))
        refused = result.rejected if refuse_reused else None
        plan = await self.tx.run(
            lambda uow: self._classify(
                uow.repos, partner_id, owner, prepared, keep_payload, refused
            )
        )
        result.duplicates.extend(plan.duplicates)
        result.rejected.extend(plan.rejected)
        found: list[Prepared] = []
        if plan.doubtful:
            found, missing = await self._reconcile(partner_id, plan.doubtful)
            plan.send.extend(missing)
        if plan.send:
            started = time.perf_counter()
            try:
                await send_prepared(self.runtime.producer, TOPIC_OF, plan.send, key_hashes)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise KafkaUnavailable(f"Kafka did not acknowledge: {type(exc).__name__}") from exc
            PUBLISH_SECONDS.observe(time.perf_counter() - started)
        done = plan.send + found
        result.accepted.extend(plan.confirmed + done)
        result.accepted.sort(key=lambda c: c.line)
        ids = [p.partner_event_id for p in done]

        def commit(uow: Uow) -> None:
            uow.repos.mark_published(partner_id, ids, real_now())
            if on_commit is not None:
                on_commit(uow, result)

        await self.tx.run(commit)
        return result

    def _classify(
        self,
        repos: GatewayRepository,
        partner_id: str,
        owner: str,
        records: Sequence[Prepared],
        keep_payload: bool,
        refused: list[RecordError] | None = None,
    ) -> _Plan:
        plan = _Plan()
        now = real_now()
        known = repos.log_entries(partner_id, [p.partner_event_id for p in records])
        if refused is not None:
            reused = [
                reused_id(p)
                for p in records
                if (e := known.get(p.partner_event_id)) is not None and e.digest != p.digest
            ]
            if refused or reused:  # raised inside the transaction: it rolls back
                raise ReusedIds(refused + reused)
        new: list[Prepared] = []
        stale: list[tuple[Prepared, LogEntry]] = []
        for p in records:
            entry = known.get(p.partner_event_id)
            if entry is None:
                new.append(p)
            elif entry.digest != p.digest:
                plan.rejected.append(reused_id(p))
            elif entry.owner == owner and entry.line == p.line:
                if entry.status == PUBLISHED:
                    plan.confirmed.append(p)  # this submission's own, before a restart
                else:
                    plan.doubtful.append((p, entry.attempted_at))
            elif entry.status == PUBLISHED:
                plan.duplicates.append((p, "already accepted"))
            elif entry.attempted_at > now - self.lease:
                plan.duplicates.append((p, "already received; being published"))
            else:
                stale.append((p, entry))
        if stale:
            taken = repos.take_over(partner_id, owner, [e for _, e in stale], now)
            for p, entry in stale:
                if entry.partner_event_id in taken:
                    plan.doubtful.append((p, entry.attempted_at))
                else:
                    plan.duplicates.append((p, "already received; being published"))
        if plan.doubtful:
            repos.touch(partner_id, [p.partner_event_id for p, _ in plan.doubtful], now)
        inserted = repos.reserve(
            partner_id,
            owner,
            [
                NewEntry(
                    p.partner_event_id,
                    p.kind,
                    p.digest,
                    p.line if not keep_payload else None,
                    p.value if keep_payload else None,
                )
                for p in new
            ],
            now,
        )
        for p in new:
            if p.partner_event_id in inserted:
                plan.send.append(p)
            else:  # a concurrent request inserted it a moment ago
                plan.duplicates.append((p, "already received; being published"))
        return plan

    async def _reconcile(
        self, partner_id: str, doubtful: Sequence[tuple[Prepared, datetime]]
    ) -> tuple[list[Prepared], list[Prepared]]:
        """Split records whose earlier send is in doubt into (on the topic, not on it)."""
        by_topic: dict[str, list[tuple[Prepared, datetime]]] = defaultdict(list)
        for item in doubtful:
            by_topic[item[0].kind].append(item)
        found: list[Prepared] = []
        missing: list[Prepared] = []
        for items in by_topic.values():
            topic = topic_of(items[0][0])
            ids = {p.partner_event_id for p, _ in items}
            on_topic = await already_on_topic(
                self.runtime.common.kafka_bootstrap,
                topic,
                partner_id,
                ids,
                min(at for _, at in items),
                real_now(),
            )
            for p, _ in items:
                (found if p.partner_event_id in on_topic else missing).append(p)
        RECONCILED.labels("found_on_topic").inc(len(found))
        RECONCILED.labels("republished").inc(len(missing))
        log.info(
            "reconciled records of an interrupted attempt",
            partner=partner_id,
            found_on_topic=len(found),
            republished=len(missing),
        )
        return found, missing

    # -- the sweeper -------------------------------------------------------------------

    async def sweep(self, limit: int = 500) -> int:
        """Publish records a crashed request left pending (those stored with their payload).

        Returns how many were settled (found on the topic or published now).
        """
        if not self.runtime.producer.started or not self.runtime.connected:
            return 0
        now = real_now()
        owner = self.new_owner("sweep")
        candidates = await self.tx.read(lambda repos: repos.stranded(now - self.lease, limit))
        if not candidates:
            return 0

        def claim(uow: Uow) -> list[StrandedRecord]:
            return [r for r in candidates if uow.repos.claim_stranded(r, owner, now)]

        claimed = await self.tx.run(claim)
        settled = 0
        groups: dict[tuple[str, str], list[StrandedRecord]] = defaultdict(list)
        for record in claimed:
            groups[(record.partner_id, record.kind)].append(record)
        for (partner_id, kind), records in groups.items():
            topic = SIGNAL_TOPICS[SignalKind(kind)]
            ids = {r.partner_event_id for r in records}
            on_topic = await already_on_topic(
                self.runtime.common.kafka_bootstrap,
                topic,
                partner_id,
                ids,
                min(r.attempted_at for r in records),
                real_now(),
            )
            missing = [r for r in records if r.partner_event_id not in on_topic]
            await self.runtime.producer.send_batch([_stored_record(topic, r) for r in missing])
            RECONCILED.labels("found_on_topic").inc(len(records) - len(missing))
            RECONCILED.labels("republished").inc(len(missing))
            done = [r.partner_event_id for r in records]
            await self.tx.run(_marker(partner_id, done))
            settled += len(done)
        if settled:
            log.info("published records left pending by an interrupted request", records=settled)
        return settled


def _marker(partner_id: str, ids: list[str]) -> Callable[[Uow], None]:
    def mark(uow: Uow) -> None:
        uow.repos.mark_published(partner_id, ids, real_now())

    return mark


def _stored_record(topic: Topic, record: StrandedRecord) -> OutgoingRecord:
    doc = json.loads(record.payload)
    headers = {"event_id": str(doc["event_id"])}
    if doc.get("correlation_id"):
        headers["correlation_id"] = str(doc["correlation_id"])
    return OutgoingRecord(topic.name, str(doc["household_id"]).encode(), record.payload, headers)
