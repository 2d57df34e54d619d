"""The notifier's repository: delivery aggregates in and out of its tables, set-based.

One instance lives for one unit of work. It loads every aggregate a batch needs in two
statements (the requests, locked on PostgreSQL in key order, then their deliveries), keeps
them in an identity map while the handlers change them, and :meth:`save` writes back only
what changed — one ``executemany`` per table and statement kind, setting only the columns
the batch changed — and hands the status changes the aggregates recorded to the caller for
the outbox. Core statements (built once, in :mod:`.statements`), not ORM objects: at a
thousand messages a second the ORM's per-object bookkeeping was the cost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from anbu_contracts import DeliveryStatus

from ..domain.delivery import Delivery, Notification, StatusChange
from ..domain.model import DeliveryState
from .statements import (
    CLAIM,
    DELIVERIES,
    DELIVERIES_BY_MESSAGE,
    DELIVERY_COLUMNS,
    HELD_RECEIPTS,
    LOAD_DELIVERIES,
    LOAD_REQUESTS,
    RECEIPT_APPLIED,
    RECEIPTS,
    REQUEST_COLUMNS,
    REQUESTS,
    by_key,
)

MessageRef = tuple[str, str]  # (channel, provider message id)
Changed = tuple[dict[str, Any], set[str]]  # a row's values, the columns that changed


def _request_values(n: Notification) -> dict[str, Any]:
    fields = vars(n)
    values = {c: fields[c] for c in REQUEST_COLUMNS}
    values["status"] = n.status.value
    return values


def _delivery_values(d: Delivery) -> dict[str, Any]:
    fields = vars(d)
    values = {c: fields[c] for c in DELIVERY_COLUMNS}
    values["state"] = d.state.value
    return values


def _delivery(row: Any) -> tuple[Delivery, dict[str, Any]]:
    """A delivery from its row (columns in table order), and its values as loaded."""
    values = dict(zip(DELIVERY_COLUMNS, row, strict=True))
    values["plan"] = list(values["plan"] or [])
    return Delivery(**{**values, "state": DeliveryState(values["state"])}), values


def _notification(row: Any) -> tuple[Notification, dict[str, Any]]:
    """A request from its row (columns in table order), and its values as loaded."""
    values = dict(zip(REQUEST_COLUMNS, row, strict=True))
    return Notification(**{**values, "status": DeliveryStatus(values["status"])}), values


def _differing(values: dict[str, Any], before: dict[str, Any]) -> set[str]:
    """The columns whose values changed (none, cheaply, for an unchanged row)."""
    if values == before:
        return set()
    return {name for name, value in values.items() if value != before[name]}


def _by_provider(refs: Iterable[MessageRef]) -> dict[str, list[str]]:
    by_provider: dict[str, list[str]] = {}
    for provider, message_id in refs:
        by_provider.setdefault(provider, []).append(message_id)
    return by_provider


class NotifierRepository:
    """Requests, deliveries and receipts over one transaction's session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._map: dict[str, Notification] = {}
        self._new: set[str] = set()
        self._saved: dict[str, dict[str, Any]] = {}  # request key → values as loaded
        self._saved_deliveries: dict[tuple[str, str], dict[str, Any]] = {}
        self._new_receipts: set[MessageRef] = set()
        self._owners: dict[MessageRef, tuple[str, str]] = {}
        self._held: dict[MessageRef, tuple[str, str | None] | None] = {}
        self._applied: dict[MessageRef, datetime | None] = {}  # receipts (un)applied, by save

    # -- requests ------------------------------------------------------------------------

    def known(self, keys: Iterable[str]) -> dict[str, bool]:
        """Request keys already on file → whether that request was rejected."""
        wanted = list(set(keys))
        if not wanted:
            return {}
        rows = self.session.execute(
            select(REQUESTS.c.request_key, REQUESTS.c.rejected).where(
                REQUESTS.c.request_key.in_(wanted)
            )
        )
        return {key: bool(rejected) for key, rejected in rows}

    def forget(self, keys: Sequence[str]) -> None:
        """Remove requests (a rejected request whose key a corrected replay reuses)."""
        if keys:
            self.session.execute(delete(DELIVERIES).where(DELIVERIES.c.request_key.in_(keys)))
            self.session.execute(delete(REQUESTS).where(REQUESTS.c.request_key.in_(keys)))

    def add(self, notification: Notification) -> None:
        self._map[notification.request_key] = notification
        self._new.add(notification.request_key)

    def load(self, keys: Iterable[str], *, lock: bool = True) -> dict[str, Notification]:
        """The aggregates for ``keys`` that exist (locked for this transaction on PostgreSQL,
        in key order, so concurrent receipts and sends of one request take turns)."""
        wanted = sorted(set(keys) - set(self._map))
        if wanted:
            query = LOAD_REQUESTS.with_for_update() if lock else LOAD_REQUESTS
            for row in self.session.execute(query, {"keys": wanted}):
                self._loaded(row)
            self._load_deliveries([k for k in wanted if k in self._map])
        return {k: self._map[k] for k in keys if k in self._map}

    def _loaded(self, row: Any) -> Notification:
        """Take a request row into the identity map (as loaded, for :meth:`save`)."""
        notification, values = _notification(row)
        self._map[notification.request_key] = notification
        self._saved[notification.request_key] = values
        return notification

    def _load_deliveries(self, keys: list[str]) -> None:
        """Attach the deliveries of the requests ``keys`` (in the map already)."""
        if not keys:
            return
        for row in self.session.execute(LOAD_DELIVERIES, {"keys": keys}):
            delivery, values = _delivery(row)
            self._map[delivery.request_key].deliveries.append(delivery)
            self._saved_deliveries[(delivery.request_key, delivery.person_ref)] = values

    def get(self, key: str) -> Notification:
        found = self._map.get(key)  # most often loaded with its batch already
        if found is None:
            found = self.load([key]).get(key)
        if found is None:
            raise LookupError(f"request {key} vanished")
        return found

    def save(self) -> list[tuple[Notification, StatusChange]]:
        """Write what changed since loading; return the status changes to publish."""
        new_requests: list[dict[str, Any]] = []
        new_deliveries: list[dict[str, Any]] = []
        changed_requests: list[Changed] = []
        changed_deliveries: list[Changed] = []
        changes: list[tuple[Notification, StatusChange]] = []
        for key, notification in self._map.items():
            values = _request_values(notification)
            if key in self._new:
                new_requests.append(values)
            elif names := _differing(values, self._saved[key]):
                changed_requests.append((values, names))
            self._saved[key] = values
            for delivery in notification.deliveries:
                ref = (key, delivery.person_ref)
                d_values = _delivery_values(delivery)
                before = self._saved_deliveries.get(ref)
                if before is None:
                    new_deliveries.append(d_values)
                elif names := _differing(d_values, before):
                    changed_deliveries.append((d_values, names))
                self._saved_deliveries[ref] = d_values
            changes.extend((notification, change) for change in notification.changes)
            notification.changes.clear()
        self._new.clear()
        self._write(REQUESTS, new_requests, changed_requests)
        self._write(DELIVERIES, new_deliveries, changed_deliveries)
        if self._applied:
            self.session.execute(
                RECEIPT_APPLIED,
                [
                    {"b_provider": p, "b_message_id": m, "at": at}
                    for (p, m), at in self._applied.items()
                ],
            )
            self._applied.clear()
        return changes

    def _write(self, table: Table, new: list[dict[str, Any]], changed: list[Changed]) -> None:
        if new:
            self.session.execute(insert(table), new)
        if changed:
            # Only the columns some row of the batch changed (one statement for the batch):
            # rewriting every column, the request's JSON among them, was most of the cost.
            keys = [c.name for c in table.primary_key.columns]
            moved = set().union(*(names for _, names in changed))
            names = tuple(c.name for c in table.columns if c.name in moved)
            params = [
                {**{n: v[n] for n in names}, **{f"b_{k}": v[k] for k in keys}} for v, _ in changed
            ]
            self.session.execute(by_key(table, names), params)

    # -- claims --------------------------------------------------------------------------

    def claim(
        self,
        instance: str,
        limit: int,
        busy: frozenset[str],
        due_by: datetime,
        real_now: datetime,
        lease_until: datetime,
    ) -> list[Notification]:
        """Claim up to ``limit`` requests due by ``due_by`` (a lease until ``lease_until``;
        leases are about processes, so wall-clock time) and load them.

        One ``UPDATE … RETURNING`` picks, leases and reads the requests (it was a SELECT of
        candidates, an UPDATE and a reload); their deliveries follow in one SELECT. The
        UPDATE re-checks that each row is still free, so two instances never both claim
        a request; on PostgreSQL the pick skips rows another transaction holds locked.
        """
        locking = self.session.get_bind().dialect.name == "postgresql"  # SKIP LOCKED
        claimed = self.session.execute(
            CLAIM[locking],
            {
                "due_by": due_by,
                "real_now": real_now,
                "busy": sorted(busy),  # ours, in flight: a lease a slow send outlived
                "limit": limit,
                "instance": instance,
                "lease_until": lease_until,
            },
        ).all()
        if not claimed:
            return []
        notifications = [self._loaded(row) for row in claimed]
        self._load_deliveries(sorted(n.request_key for n in notifications))
        # RETURNING has no order: most urgent first, as the pick chose them
        return sorted(notifications, key=lambda n: (n.priority, n.next_at or real_now))

    def release_all(self, instance: str) -> int:
        result = self.session.execute(
            update(REQUESTS)
            .where(REQUESTS.c.claimed_by == instance)
            .values(claimed_by=None, lease_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # -- receipts ------------------------------------------------------------------------

    def add_receipts(self, rows: list[dict[str, Any]]) -> None:
        """Keep receipts not on file yet, in one statement that also says which were new
        (``INSERT … ON CONFLICT DO NOTHING RETURNING``: a duplicate is skipped, not read
        first); :meth:`first_receipt` answers from it."""
        if not rows:
            return
        dialect = self.session.get_bind().dialect.name
        kept = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(RECEIPTS)
        new = self.session.execute(
            kept.on_conflict_do_nothing().returning(RECEIPTS.c.provider, RECEIPTS.c.message_id),
            rows,
        )
        self._new_receipts.update((p, m) for p, m in new)

    def first_receipt(self, ref: MessageRef) -> bool:
        """True the first time this unit asks about a receipt it added (later: a duplicate)."""
        if ref in self._new_receipts:
            self._new_receipts.discard(ref)
            return True
        return False

    def delivery_of(self, ref: MessageRef) -> tuple[str, str] | None:
        """(request key, person ref) of the delivery ``ref`` names (looked up by
        :meth:`deliveries_for` for the batch)."""
        return self._owners.get(ref)

    def held_receipts(self, refs: Sequence[MessageRef]) -> dict[MessageRef, tuple[str, str | None]]:
        """Receipts on file for ``refs`` not applied yet → (status, reason)."""
        if not refs:
            return {}
        found = {
            (p, m): (status, reason)
            for p, m, status, reason in self._by_message(HELD_RECEIPTS, refs)
        }
        for ref in refs:
            self._held[ref] = found.get(ref)
        return found

    def held_receipt(self, ref: MessageRef) -> tuple[str, str | None] | None:
        """The receipt that overtook the commit recording ``ref`` (prefetched per batch)."""
        if ref not in self._held:
            self.held_receipts([ref])
        return self._held[ref]

    def receipts_applied(self, refs: Sequence[MessageRef], now: datetime | None) -> None:
        """Mark receipts applied (``None``: not applied after all; written by :meth:`save`,
        one statement for the batch)."""
        for ref in refs:
            self._applied[ref] = now

    def overtaken_receipts(self, limit: int) -> dict[MessageRef, tuple[str, str]]:
        """Receipts not applied whose delivery is on file now → (request key, person ref).

        A receipt and the commit of its own send can pass each other (each transaction
        looks for the other before either has committed, on PostgreSQL or across
        instances); the sweep that reads these applies them.
        """
        rows = self.session.execute(
            select(
                RECEIPTS.c.provider,
                RECEIPTS.c.message_id,
                DELIVERIES.c.request_key,
                DELIVERIES.c.person_ref,
            )
            .join(
                DELIVERIES,
                and_(
                    DELIVERIES.c.channel == RECEIPTS.c.provider,
                    DELIVERIES.c.provider_message_id == RECEIPTS.c.message_id,
                ),
            )
            .where(RECEIPTS.c.applied_at.is_(None))
            .limit(limit)
        )
        found = {(p, m): (k, r) for p, m, k, r in rows}
        self._owners.update(found)
        return found

    def deliveries_for(self, refs: Sequence[MessageRef]) -> dict[MessageRef, tuple[str, str]]:
        """(channel, provider message id) → (request key, person ref) of the delivery."""
        if not refs:
            return {}
        found = {(c, m): (k, p) for c, m, k, p in self._by_message(DELIVERIES_BY_MESSAGE, refs)}
        self._owners.update(found)
        return found

    def _by_message(self, statement: Any, refs: Iterable[MessageRef]) -> list[Any]:
        """``statement``'s rows for ``refs``, one execution per provider."""
        return [
            row
            for provider, ids in _by_provider(refs).items()
            for row in self.session.execute(statement, {"provider": provider, "ids": ids})
        ]
