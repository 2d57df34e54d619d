"""Domain → contract: one function per event the detector publishes, built here only."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, SafeUUID

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from anbu_contracts import (
    AlertChange,
    AlertEvent,
    AlertReason,
    AlertResolution,
    AlertStatus,
    EscalationChange,
    EscalationClosure,
    EscalationEvent,
    EscalationStatus,
    Severity,
    StepRecord,
)

from ..domain.alerts import Alert
from ..domain.protocols import Escalation, StepSpec

SOURCE = "detector"

# uuid4's bits: version 4, RFC 4122 variant
_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_SET = (4 << 76) | (0x8000 << 48)
_IDS_AT_ONCE = 256


def _random_ids() -> Iterator[UUID]:
    """Random (version 4) UUIDs from one ``os.urandom`` read per 256: ``uuid4()`` reads
    the kernel's random source for each id and builds it through ``UUID.__init__`` — an
    alert storm makes five ids an alert, 5–7 % of its worker thread (py-spy). The same
    source, so ids are as unpredictable as ``uuid4()``'s; the UUID is built as pydantic
    builds one (its two slots set directly)."""
    new, setattr_ = object.__new__, object.__setattr__
    unknown = SafeUUID.unknown
    while True:
        block = os.urandom(16 * _IDS_AT_ONCE)
        for start in range(0, len(block), 16):
            uuid = new(UUID)
            setattr_(uuid, "int", int.from_bytes(block[start : start + 16]) & _CLEAR | _SET)
            setattr_(uuid, "is_safe", unknown)
            yield uuid


_ids = _random_ids()
_ids_lock = threading.Lock()


def _fresh_ids_after_fork() -> None:
    """A forked child must not hand out the ids left in its parent's block."""
    global _ids, _ids_lock
    _ids, _ids_lock = _random_ids(), threading.Lock()


os.register_at_fork(after_in_child=_fresh_ids_after_fork)


def new_id() -> UUID:
    """A new random id (what ``uuid4()`` gives, at about half its cost)."""
    with _ids_lock:
        return next(_ids)


E = TypeVar("E", AlertEvent, EscalationEvent)
# A field's name → its default, in the model's order (the order its JSON is written in)
_FIELDS: dict[type[BaseModel], list[tuple[str, Any]]] = {
    model: [(name, field.get_default(call_default_factory=False)) for name, field in fields]
    for model in (AlertEvent, EscalationEvent)
    if (fields := list(model.model_fields.items()))
}
_REQUIRED = {
    model: {name for name, default in fields if default is PydanticUndefined}
    for model, fields in _FIELDS.items()
}
# the instants either event carries (the nested models' were validated when built)
_INSTANTS = (
    "occurred_at",
    "produced_at",
    "opened_at",
    "resolved_at",
    "triggered_at",
    "next_step_due_at",
)
_LIMITED = ("correlation_id", "causation_id", "protocol_id", "previous_protocol_id")


def _event(model: type[E], **values: Any) -> E:
    """The event built from values the domain made from validated ones, without pydantic's
    validation of each (building the storm's three events an alert was a tenth of its worker
    thread, py-spy): its fields set as ``model_construct`` sets them, which is what
    validation gives for values already of their types (enum members, UUIDs, aware
    instants, contract models), so the JSON is the same bytes (``test_event_bytes.py``).
    What the domain does not check itself — the ids' lengths, the evidence's number, an
    instant's offset — is checked here; an event that fails it is validated as before
    (and refused)."""
    if (
        not _REQUIRED[model] <= values.keys()
        or any(len(values.get(name) or "") > 64 for name in _LIMITED)
        or len(values.get("evidence", ())) > 500
        or any((v := values.get(name)) is not None and v.tzinfo is None for name in _INSTANTS)
    ):
        return model(**values)
    event = object.__new__(model)
    state = {name: values.get(name, default) for name, default in _FIELDS[model]}
    object.__setattr__(event, "__dict__", state)
    object.__setattr__(event, "__pydantic_fields_set__", set(values))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def alert_event(
    alert: Alert, change: AlertChange, now: datetime, correlation: str, causation: str
) -> AlertEvent:
    return _event(
        AlertEvent,
        event_id=new_id(),
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=correlation,
        causation_id=causation,
        alert_id=alert.alert_id,
        household_id=alert.household_id,
        reason=AlertReason(alert.reason),
        change=change,
        severity=Severity(alert.severity),
        status=AlertStatus(alert.status),
        opened_at=alert.opened_at,
        resolved_at=alert.resolved_at,
        resolution=alert.resolution and AlertResolution(alert.resolution),
        rule=alert.rule,
        evidence=list(alert.evidence),
        protocol_id=alert.protocol_id,
    )


def escalation_event(
    escalation: Escalation,
    change: EscalationChange,
    step: StepRecord | None,
    upcoming: tuple[StepSpec, datetime] | None,
    now: datetime,
    correlation: str,
    causation: str,
    *,
    joined_alert_id: UUID | None = None,
    previous_protocol_id: str | None = None,
) -> EscalationEvent:
    """``upcoming`` is the next step and when it is due (``protocols.next_due``), if any;
    ``joined_alert_id`` and ``previous_protocol_id`` tell of a join or an upgrade."""
    return _event(
        EscalationEvent,
        event_id=new_id(),
        occurred_at=now,
        produced_at=now,
        source=SOURCE,
        correlation_id=correlation,
        causation_id=causation,
        escalation_id=escalation.escalation_id,
        alert_id=escalation.alert_id,
        household_id=escalation.household_id,
        protocol_id=escalation.protocol_id,
        protocol_version=escalation.protocol_version,
        change=change,
        status=EscalationStatus(escalation.status),
        triggered_at=escalation.triggered_at,
        step=step,
        next_step_id=upcoming[0].id if upcoming else None,
        next_step_due_at=upcoming[1] if upcoming else None,
        closure=escalation.closure and EscalationClosure(escalation.closure),
        joined_alert_id=joined_alert_id,
        previous_protocol_id=previous_protocol_id,
    )
