"""Turn a partner's submission into a contract signal.

Partners send the signal's own fields; the gateway fills in the envelope: the partner id
from the authenticated key, the source, the produced-at time and an event id derived from
the partner and its event id, so that a resent signal keeps the same identity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from anbu_contracts import AnySignal, any_signal_adapter

SIGNAL_NAMESPACE = uuid5(NAMESPACE_URL, "https://anbu.example/signals")
ENVELOPE_FIELDS = ("event_id", "produced_at", "source", "schema_version")


class WrongPartner(ValueError):
    pass


def signal_event_id(partner_id: str, partner_event_id: str) -> UUID:
    return uuid5(SIGNAL_NAMESPACE, f"{partner_id}:{partner_event_id}")


def to_signal(body: dict[str, Any], partner_id: str, now: datetime) -> AnySignal:
    """Validate ``body`` as the signal of its ``kind``; raises pydantic's ValidationError."""
    claimed = body.get("partner_id")
    if claimed is not None and claimed != partner_id:
        raise WrongPartner(f"this key belongs to {partner_id}, not {claimed}")
    data = {k: v for k, v in body.items() if k not in ENVELOPE_FIELDS}
    data["partner_id"] = partner_id
    data["source"] = partner_id
    data["produced_at"] = now
    partner_event_id = data.get("partner_event_id")
    if isinstance(partner_event_id, str) and partner_event_id:
        data["event_id"] = signal_event_id(partner_id, partner_event_id)
    return any_signal_adapter.validate_python(data)
