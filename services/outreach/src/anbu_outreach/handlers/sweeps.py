"""Time passes: lapsed offers move on, vacancies are retried, stale tasks expire."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from anbu_contracts import TaskStatus

from .. import metrics
from ..adapters.orm import OfferRow, TaskRow
from ..domain.offers import OfferState
from .caches import household_context
from .context import Context
from .offering import announce, describe, end_task, fill, load, settle


def sweep_offers(ctx: Context, session: Session, limit: int = 100) -> int:
    """Offers whose window has passed go to the next candidate (or the duty officer).

    Restart-safe (the offers and their expiry are rows) and safe with several instances:
    each task is locked while it changes and skipped if another instance holds it.
    """
    now = ctx.now()
    task_ids = session.exec(
        select(OfferRow.task_id)
        .where(OfferRow.state == OfferState.OFFERED.value, col(OfferRow.expires_at) <= now)
        .group_by(col(OfferRow.task_id))
        .order_by(func.min(OfferRow.expires_at))
        .limit(limit)
    ).all()
    handled = 0
    for task_id in task_ids:
        locked = session.exec(
            select(TaskRow.task_id)
            .where(TaskRow.task_id == task_id)
            .with_for_update(skip_locked=True)
        ).first()
        if locked is None:
            continue  # another instance is on it
        loaded = load(session, task_id, lock=False)
        lapsed = loaded.assignment.expire_offers(now)
        if not lapsed:
            continue
        metrics.OFFERS_EXPIRED.inc(len(lapsed))
        change = fill(ctx, session, loaded, household_context(session, loaded.task.household_id))
        who = ", ".join(o.worker_id for o in lapsed)
        loaded.task.reason = f"offer to {who} expired; {describe(change, loaded.assignment)}"[:256]
        settle(ctx, loaded)
        announce(ctx, session, loaded, change, None)
        handled += 1
    return handled


def retry_vacancies(ctx: Context, session: Session, limit: int = 100) -> int:
    """Unassigned tasks try again for their vacant slots every ``vacancy_retry``: the
    morning shift starts, a worker's load drops, a late household snapshot gives the area.
    Only a slot that finds someone makes news; the duty officer was told already."""
    now = ctx.now()
    ids = session.exec(
        select(TaskRow.task_id)
        .where(
            TaskRow.status == TaskStatus.UNASSIGNED.value,
            col(TaskRow.updated_at) <= now - ctx.policy.vacancy_retry,
        )
        .order_by(col(TaskRow.updated_at))
        .limit(limit)
    ).all()
    filled = 0
    for task_id in ids:
        loaded = load(session, task_id)
        household = household_context(session, loaded.task.household_id)
        if loaded.task.dong_code is None and household.dong_code is not None:
            loaded.task.dong_code = household.dong_code  # the snapshot arrived since
        change = fill(ctx, session, loaded, household)
        loaded.task.updated_at = now
        if not change.offered:
            session.add(loaded.task)
            continue
        loaded.task.reason = f"retried: {describe(change, loaded.assignment)}"[:256]
        settle(ctx, loaded)
        change.became_vacant = []  # still vacant slots were reported already
        announce(ctx, session, loaded, change, None)
        filled += 1
    return filled


def expire_stale(ctx: Context, session: Session, limit: int = 100) -> int:
    """Tasks nobody accepted expire a grace period after their deadline."""
    now = ctx.now()
    cutoff = now - ctx.policy.task_expiry_grace
    ids = session.exec(
        select(TaskRow.task_id)
        .where(
            col(TaskRow.status).in_((TaskStatus.OFFERED.value, TaskStatus.UNASSIGNED.value)),
            col(TaskRow.deadline) <= cutoff,
        )
        .limit(limit)
    ).all()
    expired = 0
    for task_id in ids:
        loaded = load(session, task_id)
        if loaded.assignment.is_stale(loaded.task.deadline, now, ctx.policy.task_expiry_grace):
            end_task(
                ctx, session, loaded, TaskStatus.EXPIRED, "nobody accepted by the deadline", None
            )
            expired += 1
    return expired
