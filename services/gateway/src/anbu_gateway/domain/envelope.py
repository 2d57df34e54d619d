"""Turn a partner's submission into a contract signal.

Partners send the signal's own fields; the gateway fills in the envelope: the partner id
from the authenticated key, the source, the produced-at time and an event id derived from
the partner and its event id, so that a resent signal keeps the same identity.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any, cast
from uuid import NAMESPACE_URL, UUID, SafeUUID, uuid5

from pydantic import TypeAdapter

from anbu_contracts import SIGNAL_MODELS, AnySignal, Signal, SignalKind, any_signal_adapter

SIGNAL_NAMESPACE = uuid5(NAMESPACE_URL, "https://anbu.example/signals")
ENVELOPE_FIELDS = ("event_id", "produced_at", "source", "schema_version")
_ENVELOPE_SET = frozenset(ENVELOPE_FIELDS)
# Fields that do not change what was observed: a resend may differ in them.
_NOT_CONTENT = {"event_id", "produced_at", "correlation_id", "causation_id"}

_ADAPTERS: dict[SignalKind, TypeAdapter[Any]] = {
    kind: TypeAdapter(model) for kind, model in SIGNAL_MODELS.items()
}


class WrongPartner(ValueError):
    """A body claims a partner id other than the authenticated key's."""


_NAMESPACE_BYTES = SIGNAL_NAMESPACE.bytes
# uuid5's version (5) and variant (RFC 4122) bits, set on the first 16 bytes of the SHA-1
_KEEP = 0xFFFFFFFF_FFFF_0FFF_3FFF_FFFFFFFFFFFF
_VERSION_5 = 0x00000000_0000_5000_8000_000000000000
_new_uuid = object.__new__
_set_slot = object.__setattr__


def signal_event_id(partner_id: str, partner_event_id: str) -> UUID:
    """The envelope id of a partner's observation: the same for every resend.

    ``uuid5(SIGNAL_NAMESPACE, f"{partner_id}:{partner_event_id}")``, built without
    ``UUID.__init__``'s argument checks (half of uuid5's ~3 µs, once per file row; the same
    value and ``is_safe``, tested against ``uuid5``).
    """
    name = f"{partner_id}:{partner_event_id}".encode()
    digest = hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()
    value = int.from_bytes(digest[:16]) & _KEEP | _VERSION_5
    uuid = _new_uuid(UUID)
    _set_slot(uuid, "int", value)
    _set_slot(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def _envelope(body: dict[str, Any], partner_id: str, now: datetime) -> dict[str, Any]:
    claimed = body.get("partner_id")
    if claimed is not None and claimed != partner_id:
        raise WrongPartner(f"this key belongs to {partner_id}, not {claimed}")
    # a file row's body never has envelope fields (its columns are fixed): copied at C speed
    if _ENVELOPE_SET.isdisjoint(body):
        data = body.copy()
    else:
        data = {k: v for k, v in body.items() if k not in ENVELOPE_FIELDS}
    data["partner_id"] = partner_id
    data["source"] = partner_id
    data["produced_at"] = now
    partner_event_id = data.get("partner_event_id")
    if isinstance(partner_event_id, str) and partner_event_id:
        data["event_id"] = signal_event_id(partner_id, partner_event_id)
    return data


def to_signal(body: dict[str, Any], partner_id: str, now: datetime) -> AnySignal:
    """Validate ``body`` as the signal of its ``kind``; raises pydantic's ValidationError."""
    return any_signal_adapter.validate_python(_envelope(body, partner_id, now))


def to_signal_of_kind(
    kind: SignalKind, body: dict[str, Any], partner_id: str, now: datetime
) -> Signal:
    """Validate ``body`` as a signal of ``kind`` (file rows: the kind is the file's)."""
    data = _envelope(body, partner_id, now)
    data["kind"] = kind.value
    signal: Signal = _ADAPTERS[kind].validate_python(data)
    return signal


def kind_of(signal: Signal) -> SignalKind:
    """The kind of a validated signal (every concrete signal model has one)."""
    kind: str = cast(Any, signal).kind
    return SignalKind(kind)


def content_digest(signal: Signal) -> str:
    """A short digest of what was observed, to tell a resend from a reused partner event id.

    Field order is the model's, so the same observation always serialises the same way.
    """
    canonical = signal.model_dump_json(exclude=_NOT_CONTENT)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# A signal's JSON begins with the envelope in the model's field order. When it carries no
# correlation or causation id, the fields the digest leaves out sit at known places in that
# prefix, so the digest's canonical text is the value with them cut out: one serialisation
# per record instead of two (the costliest step of a file row, docs/performance.md). Any
# other shape falls back to serialising again; both give the same text.
_ENVELOPE_PREFIX = re.compile(
    rb'\{"event_id":"[0-9a-f-]{36}",("schema_version":\d+,"occurred_at":"[^"\\]*",)'
    rb'"produced_at":"[^"\\]*",("source":"[^"\\]*",)"correlation_id":null,"causation_id":null,'
)


def serialised(signal: Signal) -> tuple[bytes, str]:
    """The signal's JSON value and its :func:`content_digest`, from one serialisation.

    The value is ``model_dump_json()`` as bytes, straight from the serializer (no decoding
    to text and encoding back); the digest is fed the value's pieces, not a copy of them.
    """
    value: bytes = signal.__pydantic_serializer__.to_json(signal)
    prefix = _ENVELOPE_PREFIX.match(value)
    if prefix is None:
        return value, content_digest(signal)
    digest = hashlib.sha256(b"{")
    digest.update(prefix[1])
    digest.update(prefix[2])
    digest.update(memoryview(value)[prefix.end() :])
    return value, digest.hexdigest()[:16]
