"""The detector's Kafka entrypoint: one consumer over every topic it joins.

Signals, registry household snapshots and outreach outcomes are co-partitioned by household
id; one subscriber reads them all with the range assignor, so one detector instance owns
every event of a household.
"""

from __future__ import annotations

from anbu_contracts import HouseholdSnapshot, OutcomeEvent, SafetyCallSignal, SignalKind
from anbu_contracts.topics import OUTREACH_OUTCOME, REGISTRY_HOUSEHOLD, SIGNAL_TOPICS
from anbu_runtime.kafka import Tombstone, message_id, subscriber_options
from anbu_runtime.logs import get_logger
from anbu_runtime.service import ServiceRuntime

from ..handlers import Detector

log = get_logger(__name__)

GROUP = "detector"
INPUT_TOPICS = (
    SIGNAL_TOPICS[SignalKind.SAFETY_CALL].name,
    REGISTRY_HOUSEHOLD.name,
    OUTREACH_OUTCOME.name,
)

DetectorInput = SafetyCallSignal | HouseholdSnapshot | OutcomeEvent | Tombstone


def register(runtime: ServiceRuntime, detector: Detector) -> None:
    inbox = runtime.inbox(GROUP)

    @runtime.broker.subscriber(
        *INPUT_TOPICS,
        **subscriber_options(
            GROUP,
            title="detector",
            description="Signals, household snapshots and outcomes, co-partitioned by household.",
        ),
    )
    async def on_event(event: DetectorInput) -> None:
        if isinstance(event, Tombstone):
            return  # a deleted household: nothing arrives for it any more
        if isinstance(event, SafetyCallSignal):
            signal = event
            await runtime.apply_once(
                inbox, message_id(signal), lambda s: detector.on_safety_call(s, signal)
            )
        elif isinstance(event, HouseholdSnapshot):
            snapshot = event
            await runtime.apply_once(
                inbox, message_id(snapshot), lambda s: detector.on_household(s, snapshot)
            )
        else:
            outcome = event
            await runtime.apply_once(
                inbox, message_id(outcome), lambda s: detector.on_outcome(s, outcome)
            )
