"""The repository's SQL: the notifier's tables and the statements its hot path runs,
built once.

``IN`` lists are expanding parameters, so a batch binds its keys instead of building (and
caching the key of) a new expression each time; the claim is one ``UPDATE … RETURNING``;
look-ups by (provider, message id) are written so that SQLite searches the index.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, and_, bindparam, or_, select, update
from sqlalchemy.sql.elements import BindParameter

from .orm import DeliveryRow, NotificationRow, ReceiptRow

REQUESTS: Table = NotificationRow.__table__  # type: ignore[attr-defined]
DELIVERIES: Table = DeliveryRow.__table__  # type: ignore[attr-defined]
RECEIPTS: Table = ReceiptRow.__table__  # type: ignore[attr-defined]
REQUEST_COLUMNS = tuple(c.name for c in REQUESTS.columns)
DELIVERY_COLUMNS = tuple(c.name for c in DELIVERIES.columns)

KEYS: BindParameter[Any] = bindparam("keys", expanding=True)
LOAD_REQUESTS = (
    select(REQUESTS).where(REQUESTS.c.request_key.in_(KEYS)).order_by(REQUESTS.c.request_key)
)
LOAD_DELIVERIES = (
    select(DELIVERIES)
    .where(DELIVERIES.c.request_key.in_(KEYS))
    .order_by(DELIVERIES.c.request_key, DELIVERIES.c.person_ref)
)
# (provider, message id) look-ups as ``provider = :p AND message_id IN (…)``, one per
# provider: SQLite answers a row-value IN by scanning the whole table (every receipt or
# delivery ever kept, once per batch); this form searches the index.
HELD_RECEIPTS = (
    select(RECEIPTS.c.provider, RECEIPTS.c.message_id, RECEIPTS.c.status, RECEIPTS.c.reason)
    .where(RECEIPTS.c.provider == bindparam("provider"))
    .where(RECEIPTS.c.message_id.in_(bindparam("ids", expanding=True)))
    .where(RECEIPTS.c.applied_at.is_(None))
)
DELIVERIES_BY_MESSAGE = select(
    DELIVERIES.c.channel,
    DELIVERIES.c.provider_message_id,
    DELIVERIES.c.request_key,
    DELIVERIES.c.person_ref,
).where(
    DELIVERIES.c.channel == bindparam("provider"),
    DELIVERIES.c.provider_message_id.in_(bindparam("ids", expanding=True)),
)
FREE = or_(REQUESTS.c.claimed_by.is_(None), REQUESTS.c.lease_until < bindparam("real_now"))
DUE = (
    select(REQUESTS.c.request_key)
    .where(
        REQUESTS.c.next_at <= bindparam("due_by"),
        FREE,
        REQUESTS.c.request_key.not_in(bindparam("busy", expanding=True)),
    )
    .order_by(REQUESTS.c.priority, REQUESTS.c.next_at)
    .limit(bindparam("limit"))
)


def claim(locking: bool) -> Any:
    """Pick, lease and read in one statement; the UPDATE re-checks that each row is still
    free, so two instances never both claim a request."""
    due = DUE.with_for_update(skip_locked=True) if locking else DUE
    return (
        update(REQUESTS)
        .where(REQUESTS.c.request_key.in_(due.scalar_subquery()), FREE)
        .values(claimed_by=bindparam("instance"), lease_until=bindparam("lease_until"))
        .returning(*REQUESTS.columns)
    )


CLAIM = {False: claim(False), True: claim(True)}  # by whether to SKIP LOCKED (PostgreSQL)


@cache
def by_key(table: Table, names: tuple[str, ...]) -> Any:
    """``UPDATE table SET … WHERE <primary key> = :b_<key>`` for ``executemany`` (built once
    per table and column set: building it per batch was a tenth of the write)."""
    keys = [c.name for c in table.primary_key.columns]
    return (
        update(table)
        .where(and_(*(table.c[k] == bindparam(f"b_{k}") for k in keys)))
        .values({n: bindparam(n) for n in names if n not in keys})
    )


RECEIPT_APPLIED = (
    update(RECEIPTS)
    .where(RECEIPTS.c.provider == bindparam("b_provider"))
    .where(RECEIPTS.c.message_id == bindparam("b_message_id"))
    .values(applied_at=bindparam("at"))
)
