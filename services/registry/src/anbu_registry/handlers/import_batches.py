"""One batch of an import, from CSV records to the rows to store: the CPU-bound half.

Validation, sealing (AES-GCM) and blind indexes (HMAC) take most of an import's time and
need no database, so :class:`BatchPreparer` runs them in worker processes while the parent
reads the file and writes the batches before (COPY). Each worker builds its own
:class:`PiiCipher` from the keys once; what comes back is plain rows, already sealed, and the
snapshots already serialised for the outbox.
"""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from anbu_contracts.topics import REGISTRY_HOUSEHOLD
from anbu_runtime.auth import Principal
from anbu_runtime.outbox import install

from ..adapters.copy_text import copy_rows
from ..adapters.events import SOURCE
from ..adapters.household_csv import Record, RecordBatch, to_household
from ..adapters.orm import metadata
from ..adapters.pii import PiiCipher
from ..adapters.snapshot_json import SnapshotWriter
from ..domain import access
from ..domain.identifiers import new_household_ids, new_person_ids
from ..domain.model import HouseholdIn
from .common import actor_name

install(metadata)  # the outbox table a batch's snapshots are copied into


# The columns a batch writes, by table, in the order of the tuples _BatchRows makes.
COLUMNS: dict[str, tuple[str, ...]] = {
    "household": (
        "household_id",
        "revision",
        "district_code",
        "dong_code",
        "timezone",
        "tier",
        "tier_reason",
        "status",
        "suspended_until",
        "suspension_reason",
        "channels",
        "quiet_start",
        "quiet_end",
        "programme",
        "rule_overrides",
        "medical_aid",
        "violence_risk",
        "responsible_worker_id",
        "matched_volunteer_id",
        "locale",
        "address_enc",
        "address_index",
        "created_at",
        "updated_at",
    ),
    "person": (
        "person_id",
        "household_id",
        "relation",
        "name_enc",
        "phone_enc",
        "phone_index",
        "email_enc",
        "rrn_index",
        "locale",
        "preferred_channel",
        "contact_hours",
    ),
    "tier_change": ("household_id", "tier", "reason", "changed_by", "at"),
    "consent": ("household_id", "channel", "given", "at", "recorded_by", "form"),
    "outbox": ("topic", "key", "value", "headers", "created_at"),
}


@dataclass
class Tables:
    """Rows for one batch, by table, as tuples in the order of :data:`COLUMNS`; the outbox
    rows carry the serialised snapshots."""

    household: list[tuple[Any, ...]] = field(default_factory=list)
    person: list[tuple[Any, ...]] = field(default_factory=list)
    tier_change: list[tuple[Any, ...]] = field(default_factory=list)
    consent: list[tuple[Any, ...]] = field(default_factory=list)
    outbox: list[tuple[Any, ...]] = field(default_factory=list)  # serialised snapshots

    @property
    def households(self) -> int:
        return len(self.household)

    @property
    def first_household_id(self) -> str:
        return str(self.household[0][0])

    def _tables(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        # households before what refers to them
        return [
            ("household", self.household),
            ("person", self.person),
            ("tier_change", self.tier_change),
            ("consent", self.consent),
            ("outbox", self.outbox),
        ]

    def by_table(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """(table, rows as dicts) in the order they are written."""
        return [
            (name, [dict(zip(COLUMNS[name], row, strict=True)) for row in rows])
            for name, rows in self._tables()
        ]

    def as_copy(self) -> CopyTables:
        """The same rows as PostgreSQL COPY text, one block a table (formatted here, in the
        worker, so that the writing process only copies bytes)."""
        return CopyTables(
            households=self.households,
            first_household_id=self.first_household_id,
            blocks=[
                (name, list(COLUMNS[name]), copy_rows(metadata.tables[name], COLUMNS[name], rows))
                for name, rows in self._tables()
                if rows
            ],
        )


@dataclass
class CopyTables:
    """A batch's rows as COPY text: (table, columns, text) in the order they are written."""

    households: int
    first_household_id: str
    blocks: list[tuple[str, list[str], bytes]]


@dataclass
class PreparedBatch:
    rows: int
    invalid: int
    # Only rows the parent must look at, in file order: those with errors, and those whose
    # valid household names its own id (the parent checks ids against the whole file and
    # the database). ``(line, errors, household_id given in the file if the row is valid)``.
    notes: list[tuple[int, list[str], str | None]]
    tables: Tables | CopyTables | None  # None for a dry run or a batch with an invalid row


def prepare_batch(
    cipher: PiiCipher,
    records: list[Record],
    principal: Principal,
    now: datetime,
    write: bool,
    copy: bool = False,
) -> PreparedBatch:
    """Validate ``records``; if all are valid and ``write``, build their rows (sealed), as
    COPY text if ``copy`` (for PostgreSQL)."""
    notes: list[tuple[int, list[str], str | None]] = []
    households: list[HouseholdIn] = []
    invalid = 0
    for line, problems, fields in records:
        errors = list(problems)
        household: HouseholdIn | None = None
        try:
            household = to_household(fields)
        except ValidationError as exc:
            errors += [
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
        if household is not None and not access.can_change_household(
            principal, household.dong_code
        ):
            errors.append(f"dong {household.dong_code} is outside your area")
        given_id = household.household_id if household is not None else None
        if errors or given_id:
            notes.append((line, errors, given_id))
        if errors or household is None:
            invalid += 1
        else:
            households.append(household)
    tables: Tables | CopyTables | None = None
    if write and not invalid and households:
        rows = _BatchRows(cipher, principal, now, households)
        for household in households:
            rows.add(household)
        tables = rows.tables.as_copy() if copy else rows.tables
    return PreparedBatch(rows=len(records), invalid=invalid, notes=notes, tables=tables)


class _BatchRows:
    """Builds a batch's rows, one household at a time, as tuples in :data:`COLUMNS` order."""

    def __init__(
        self, cipher: PiiCipher, principal: Principal, now: datetime, batch: list[HouseholdIn]
    ) -> None:
        self.tables = Tables()
        # The batch's new ids, drawn at once (one read of the random source a kind).
        self._household_ids = iter(new_household_ids(sum(not h.household_id for h in batch)))
        self._person_ids = iter(new_person_ids(sum(len(h.people) for h in batch)))
        self._cipher = cipher
        self._now = now
        self._actor = actor_name(principal)
        self._snapshots = SnapshotWriter(now, SOURCE)
        # A batch's households share few channel lists: each is made (and its JSON, for
        # COPY, encoded) once. Shared, never changed after.
        self._channel_lists: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def add(self, data: HouseholdIn) -> None:
        cipher, now, actor, tables = self._cipher, self._now, self._actor, self.tables
        household_id = data.household_id or next(self._household_ids)
        tier = data.tier.value
        address = data.address
        tables.household.append(
            (
                household_id,
                1,
                data.district_code,
                data.dong_code,
                data.timezone,
                tier,
                data.tier_reason,
                "active",
                None,
                None,
                self._channels(data),
                data.quiet_start,
                data.quiet_end,
                data.programme,
                _NO_OVERRIDES,
                data.medical_aid,
                data.violence_risk,
                data.responsible_worker_id,
                data.matched_volunteer_id,
                data.locale.value,
                cipher.seal(address, context="household.address") if address else None,
                cipher.blind_index(address, kind="address") if address else None,
                now,
                now,
            )
        )
        landlord = guardians = False
        for person in data.people:
            relation = person.relation.value
            landlord = landlord or relation == "landlord"
            guardians = guardians or relation == "guardian"
            phone = person.phone
            tables.person.append(
                (
                    next(self._person_ids),
                    household_id,
                    relation,
                    cipher.seal(person.name, context="person.name"),
                    cipher.seal(phone, context="person.phone") if phone else None,
                    cipher.blind_index(phone, kind="phone") if phone else None,
                    None,
                    None,
                    person.locale.value,
                    person.preferred_channel.value,
                    None,
                )
            )
        tables.tier_change.append(
            (household_id, tier, data.tier_reason or "bulk import", actor, now)
        )
        form = data.consent_form or "bulk import"
        tables.consent.extend(
            (household_id, c.channel.value, c.consent, now, actor, form) for c in data.channels
        )
        # Serialised here, in the worker, rather than in the parent, which only copies bytes.
        value, headers = self._snapshots.snapshot(household_id, data, landlord, guardians)
        tables.outbox.append((REGISTRY_HOUSEHOLD.name, household_id.encode(), value, headers, now))

    def _channels(self, data: HouseholdIn) -> list[dict[str, Any]]:
        key = tuple((c.channel, c.consent, c.window_hours) for c in data.channels)
        channels = self._channel_lists.get(key)
        if channels is None:
            channels = [c.model_dump(mode="json") for c in data.channels]
            self._channel_lists[key] = channels
        return channels


_NO_OVERRIDES: dict[str, float] = {}  # shared by every imported row; never changed


# -- running batches in worker processes -------------------------------------------------

_cipher: PiiCipher | None = None  # each worker process's own, from start_worker


def start_worker(cipher: PiiCipher) -> None:
    global _cipher
    _cipher = cipher
    # Everything imported so far lives as long as the worker: keeping it out of the
    # collector's scans takes a third off the CPU a batch costs (see docs/performance.md).
    gc.freeze()
    # A batch allocates ~100,000 objects that die by reference count when it is sent back;
    # the automatic collections they trigger cost a tenth of a batch's CPU. Collect once a
    # batch instead (_prepare_in_worker), which keeps any cycle from piling up.
    gc.disable()


def _prepare_in_worker(
    batch: RecordBatch, principal: Principal, now: datetime, write: bool, copy: bool
) -> PreparedBatch:
    assert _cipher is not None, "start_worker runs first in every worker"
    try:
        return prepare_batch(_cipher, batch.records, principal, now, write, copy)
    finally:
        gc.collect(1)


class BatchPreparer:
    """Prepares batches inline (``workers=0``) or in a pool of worker processes.

    The pool starts with the second batch, so a small file never pays for it. ``depth`` is
    how many batches may be in flight: it bounds the memory an import holds.
    """

    def __init__(self, cipher: PiiCipher, workers: int, start_method: str = "spawn") -> None:
        self._cipher = cipher
        self._workers = workers
        # spawn by default: the service would fork from a process with threads running; the
        # command line (one thread) forks, which saves each worker its imports.
        self._start_method = start_method
        self._pool: ProcessPoolExecutor | None = None
        self._submitted = 0
        self.depth = 2 * workers

    def submit(
        self,
        batch: RecordBatch,
        principal: Principal,
        now: datetime,
        write: bool,
        copy: bool = False,
    ) -> Future[PreparedBatch]:
        """Prepare ``batch``: in a worker (it crosses as its lines), or inline."""
        self._submitted += 1
        if self._workers and self._submitted > 1:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self._workers,
                    mp_context=multiprocessing.get_context(self._start_method),
                    initializer=start_worker,
                    initargs=(self._cipher,),
                )
            return self._pool.submit(_prepare_in_worker, batch, principal, now, write, copy)
        done: Future[PreparedBatch] = Future()
        done.set_result(prepare_batch(self._cipher, batch.records, principal, now, write, copy))
        return done

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> BatchPreparer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
