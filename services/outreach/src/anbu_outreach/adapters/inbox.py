"""The inbox check for a whole batch at once (the runtime's ``Inbox.first_time`` asks one
message at a time: a SELECT and an INSERT per record, a tenth of a burst's database time).

Written here for outreach's escalation consumer; same table and meaning as
:class:`anbu_runtime.outbox.Inbox` (a candidate to lift into the runtime).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import Session

from anbu_runtime.db import bulk_insert
from anbu_runtime.outbox import Inbox

# Ids per IN (...) list: well under the databases' limits on bound parameters.
_CHUNK = 5000


def first_times(session: Session, inbox: Inbox, message_ids: Sequence[str]) -> list[bool]:
    """For each id, whether this is its first application; records the new ones, inside
    the caller's transaction. A repeat within ``message_ids`` counts as applied."""
    table = inbox.table
    unique = list(dict.fromkeys(message_ids))
    seen: set[str] = set()
    for start in range(0, len(unique), _CHUNK):
        seen.update(
            session.execute(
                select(table.c.message_id).where(
                    table.c.consumer == inbox.consumer,
                    table.c.message_id.in_(unique[start : start + _CHUNK]),
                )
            ).scalars()
        )
    now = datetime.now(UTC)
    fresh = [m for m in unique if m not in seen]
    bulk_insert(
        session,
        table,
        [{"consumer": inbox.consumer, "message_id": m, "applied_at": now} for m in fresh],
    )
    first: list[bool] = []
    for message_id in message_ids:
        first.append(message_id not in seen)
        seen.add(message_id)
    return first
