"""A bulk import's household snapshots written straight to JSON, for its outbox rows.

Building a :class:`~anbu_contracts.HouseholdSnapshot` for every imported row (validation,
nested models, enum lookups) and serialising it was a quarter of an import's CPU
(docs/performance.md, "Third pass"). Every value of an imported snapshot comes from a
:class:`~anbu_registry.domain.model.HouseholdIn` already validated against the same
constraints, or is a constant, so :class:`SnapshotWriter` writes the JSON text directly:
the bytes are those ``household_snapshot(...).model_dump_json()`` gives, because every
fragment other than the fixed keys is serialised by pydantic itself (remembered, as a batch
repeats few distinct values). ``test_import_snapshot_json`` compares the two on varied rows;
a field added to the contract fails it.
"""

from __future__ import annotations

import json
from datetime import datetime, time
from typing import Any
from uuid import uuid4

from pydantic import TypeAdapter
from pydantic_core import to_json

from anbu_contracts import ChannelEnrolment, HouseholdSnapshot, QuietHours
from anbu_contracts.envelope import UtcDatetime

from ..domain.model import HouseholdIn

_STAMP = TypeAdapter(UtcDatetime)
_CHANNELS = TypeAdapter(list[ChannelEnrolment])
_TYPE = HouseholdSnapshot.model_fields["type"].default
_REMEMBERED = 4096  # distinct fragments kept; a district's list repeats far fewer


class SnapshotWriter:
    """Outbox values and headers of imported households' snapshots, made at ``now``."""

    def __init__(self, now: datetime, source: str) -> None:
        stamp = _STAMP.dump_json(now).decode()
        self._head = (
            f'","schema_version":1,"occurred_at":{stamp},"produced_at":{stamp},'
            f'"source":{_json(source)},"correlation_id":null,"causation_id":null,'
            f'"type":{_json(_TYPE)},"household_id":"'
        )
        self._fragments: dict[Any, str] = {}

    def snapshot(
        self, household_id: str, data: HouseholdIn, landlord: bool, guardians: bool
    ) -> tuple[bytes, str]:
        """The outbox ``value`` and ``headers`` of a new household's snapshot (revision 1,
        active, no overrides), as ``outbox_row`` makes them from the contract model.
        ``household_id`` is an issued id (``HH-`` and ASCII letters and digits)."""
        event_id = str(uuid4())
        fragment = self._fragment
        value = (
            f'{{"event_id":"{event_id}{self._head}{household_id}","revision":1,'
            f'"district_code":{fragment(data.district_code)},'
            f'"dong_code":{fragment(data.dong_code)},"timezone":{fragment(data.timezone)},'
            f'"tier":{fragment(data.tier)},"status":"active","suspended_until":null,'
            f'"suspension_reason":null,"channels":{self._channels(data.channels)},'
            f'"quiet_hours":{self._quiet_hours(data.quiet_start, data.quiet_end)},'
            f'"programme":{fragment(data.programme)},"rule_overrides":{{}},'
            f'"medical_aid":{_BOOL[data.medical_aid]},'
            f'"violence_risk":{_BOOL[data.violence_risk]},'
            f'"landlord_on_file":{_BOOL[landlord]},"guardians_on_file":{_BOOL[guardians]},'
            f'"responsible_worker_id":{fragment(data.responsible_worker_id)},'
            f'"matched_volunteer_id":{fragment(data.matched_volunteer_id)},'
            f'"locale":{fragment(data.locale)}}}'
        )
        # json.dumps of event_headers(): {"type": ..., "event_id": ...}
        headers = f'{{"type": {_json_ascii(_TYPE)}, "event_id": "{event_id}"}}'
        return value.encode(), headers

    def _fragment(self, value: str | None) -> str:
        """A string (or enum, or None) as pydantic serialises it."""
        text = self._fragments.get(value)
        if text is None:
            text = _json(value)
            self._remember(value, text)
        return text

    def _channels(self, channels: list[ChannelEnrolment]) -> str:
        key = tuple((c.channel, c.consent, c.window_hours) for c in channels)
        text = self._fragments.get(key)
        if text is None:
            text = _CHANNELS.dump_json(channels).decode()
            self._remember(key, text)
        return text

    def _quiet_hours(self, start: time, end: time) -> str:
        key = ("quiet", start, end)
        text = self._fragments.get(key)
        if text is None:
            text = QuietHours(start=start, end=end).model_dump_json()
            self._remember(key, text)
        return text

    def _remember(self, key: Any, text: str) -> None:
        if len(self._fragments) >= _REMEMBERED:
            self._fragments.clear()  # bounded: a list of ever new values must not grow it
        self._fragments[key] = text


_BOOL = {False: "false", True: "true"}


def _json(value: Any) -> str:
    return to_json(value).decode()


def _json_ascii(value: str) -> str:
    return json.dumps(value)
