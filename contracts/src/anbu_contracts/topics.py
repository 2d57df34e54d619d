"""The topic registry: every topic's name, key, partitions, cleanup policy, retention, model.

All household-keyed topics that the detector joins (signals, registry households, outreach
outcomes) share one partition count, so that one detector instance owns all of a household's
events. Change ``HOUSEHOLD_PARTITIONS`` only together with a re-partitioning plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from .cases import CaseEvent
from .detector import AlertEvent, EscalationEvent
from .jobs import JobProgress
from .notify import NotificationRequest, NotificationStatusEvent
from .outreach import OutcomeEvent, TaskEvent
from .registry import HouseholdSnapshot, WorkerSnapshot
from .signals import SIGNAL_MODELS, Signal, SignalKind

HOUSEHOLD_PARTITIONS = 12
DAY_MS = 24 * 60 * 60 * 1000

CleanupPolicy = Literal["delete", "compact"]


@dataclass(frozen=True)
class Topic:
    name: str
    model: type[BaseModel]
    key_field: str
    partitions: int
    cleanup_policy: CleanupPolicy
    retention_ms: int | None
    description: str
    dead_letter: bool = True
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def dlq_name(self) -> str:
        return f"{self.name}.dlq"

    def key_of(self, event: BaseModel) -> bytes:
        """The record key for ``event``: the value of this topic's key field, UTF-8."""
        value = getattr(event, self.key_field)
        return str(value).encode()

    def config(self) -> dict[str, str]:
        """Topic-level configs for creation."""
        cfg = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


def _signal_topic(kind: SignalKind, model: type[Signal]) -> Topic:
    return Topic(
        name=f"signals.{kind.value.replace('_', '-')}.v1",
        model=model,
        key_field="household_id",
        partitions=HOUSEHOLD_PARTITIONS,
        cleanup_policy="delete",
        retention_ms=14 * DAY_MS,
        description=f"Partner signals of kind '{kind.value}', keyed by household id.",
    )


SIGNAL_TOPICS: dict[SignalKind, Topic] = {
    kind: _signal_topic(kind, model) for kind, model in SIGNAL_MODELS.items()
}

REGISTRY_HOUSEHOLD = Topic(
    name="registry.household.v1",
    model=HouseholdSnapshot,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="compact",
    retention_ms=None,
    description="Latest snapshot of every household (no PII); tombstone on deletion.",
    extra_config={"min.compaction.lag.ms": "60000"},
)
REGISTRY_WORKER = Topic(
    name="registry.worker.v1",
    model=WorkerSnapshot,
    key_field="worker_id",
    partitions=3,
    cleanup_policy="compact",
    retention_ms=None,
    description="Latest snapshot of every staff member and volunteer (no PII).",
    extra_config={"min.compaction.lag.ms": "60000"},
)
REGISTRY_CASE = Topic(
    name="registry.case.v1",
    model=CaseEvent,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="delete",
    # A case runs for months: keep its events a year, so that a read model rebuilt from
    # the topics still counts the cases opened and linked this year.
    retention_ms=365 * DAY_MS,
    description="Case lifecycle changes (no personal data): discovered, opened, moved along "
    "the workflow, transferred between dongs, services linked, closed.",
)
DETECTOR_ALERT = Topic(
    name="detector.alert.v1",
    model=AlertEvent,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="Alert changes with the rule and evidence that decided them.",
)
DETECTOR_ESCALATION = Topic(
    name="detector.escalation.v1",
    model=EscalationEvent,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="Escalation protocol changes: started, step executed (with actions), closed.",
)
OUTREACH_TASK = Topic(
    name="outreach.task.v1",
    model=TaskEvent,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="Outreach task changes: offered, accepted, completed, unassigned and so on.",
)
OUTREACH_OUTCOME = Topic(
    name="outreach.outcome.v1",
    model=OutcomeEvent,
    key_field="household_id",
    partitions=HOUSEHOLD_PARTITIONS,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="What field staff found; closes or advances protocols.",
)
NOTIFY_REQUEST = Topic(
    name="notify.request.v1",
    model=NotificationRequest,
    key_field="request_key",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    description="Requests to reach a person, by reference; keyed by idempotency key.",
)
NOTIFY_STATUS = Topic(
    name="notify.status.v1",
    model=NotificationStatusEvent,
    key_field="request_key",
    partitions=6,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="Delivery status of notification requests: queued, sent, delivered, failed.",
)
OPS_JOB = Topic(
    name="ops.job.v1",
    model=JobProgress,
    key_field="job_id",
    partitions=1,
    cleanup_policy="compact",
    retention_ms=None,
    description="Progress of long file work (partner files at the gateway, household imports "
    "at the registry): counts, rate and ETA, no personal data; the newest per job wins.",
    extra_config={"min.compaction.lag.ms": "60000"},
)

TOPICS: tuple[Topic, ...] = (
    *SIGNAL_TOPICS.values(),
    REGISTRY_HOUSEHOLD,
    REGISTRY_WORKER,
    REGISTRY_CASE,
    DETECTOR_ALERT,
    DETECTOR_ESCALATION,
    OUTREACH_TASK,
    OUTREACH_OUTCOME,
    NOTIFY_REQUEST,
    NOTIFY_STATUS,
    OPS_JOB,
)
TOPICS_BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}

DLQ_PARTITIONS = 1
DLQ_RETENTION_MS = 30 * DAY_MS


def dead_letter_topic(topic: Topic) -> Topic:
    """The dead-letter topic beside ``topic``: original bytes, headers and the error."""
    return Topic(
        name=topic.dlq_name,
        model=topic.model,
        key_field=topic.key_field,
        partitions=DLQ_PARTITIONS,
        cleanup_policy="delete",
        retention_ms=DLQ_RETENTION_MS,
        description=f"Dead letters of {topic.name}: undecodable or contract-violating records.",
        dead_letter=False,
    )


def all_topics() -> list[Topic]:
    """Every topic to create, dead-letter topics included."""
    result: list[Topic] = []
    for topic in TOPICS:
        result.append(topic)
        if topic.dead_letter:
            result.append(dead_letter_topic(topic))
    return result


def signal_topic_names() -> list[str]:
    return [t.name for t in SIGNAL_TOPICS.values()]


def describe() -> list[dict[str, Any]]:
    """The registry as plain data, for docs and for the topic-creation command."""
    return [
        {
            "name": t.name,
            "model": t.model.__name__,
            "key": t.key_field,
            "partitions": t.partitions,
            "cleanup_policy": t.cleanup_policy,
            "retention_ms": t.retention_ms,
            "description": t.description,
        }
        for t in all_topics()
    ]
