"""Time passes: lapsed offers move on, vacancies are retried, stale tasks expire."""

from __future__ import annotations

from anbu_contracts import TaskStatus

from .. import metrics
from ..adapters.repository import Uow
from .offering import announce, describe, end_task, fill, settle


def sweep_offers(uow: Uow, limit: int = 100) -> int:
    """Offers whose window has passed go to the next candidate (or the duty officer).

    Restart-safe (the offers and their expiry are rows) and safe with several instances:
    each task is locked while it changes and skipped if another instance holds it.
    """
    now, repos = uow.now, uow.repos
    handled = 0
    for task_id in repos.tasks_with_lapsed_offers(now, limit):
        if not repos.lock_if_free(task_id):
            continue  # another instance is on it
        loaded = repos.load(task_id, lock=False)
        lapsed = loaded.assignment.expire_offers(now)
        if not lapsed:
            continue
        metrics.OFFERS_EXPIRED.inc(len(lapsed))
        change = fill(uow, loaded, repos.household_context(loaded.task.household_id))
        who = ", ".join(o.worker_id for o in lapsed)
        loaded.task.reason = f"offer to {who} expired; {describe(change, loaded.assignment)}"[:256]
        settle(uow, loaded)
        announce(uow, loaded, change, None)
        handled += 1
    return handled


def retry_vacancies(uow: Uow, limit: int = 100) -> int:
    """Unassigned tasks try again for their vacant slots every ``vacancy_retry``: the
    morning shift starts, a worker's load drops, a late household snapshot gives the area.
    Only a slot that finds someone makes news; the duty officer was told already."""
    now, repos = uow.now, uow.repos
    filled = 0
    for task_id in repos.unassigned_since(now - repos.ctx.policy.vacancy_retry, limit):
        loaded = repos.load(task_id)
        household = repos.household_context(loaded.task.household_id)
        if loaded.task.dong_code is None and household.dong_code is not None:
            loaded.task.dong_code = household.dong_code  # the snapshot arrived since
        change = fill(uow, loaded, household)
        loaded.task.updated_at = now
        if not change.offered:
            repos.add(loaded.task)
            continue
        loaded.task.reason = f"retried: {describe(change, loaded.assignment)}"[:256]
        settle(uow, loaded)
        change.became_vacant = []  # still vacant slots were reported already
        announce(uow, loaded, change, None)
        filled += 1
    return filled


def expire_stale(uow: Uow, limit: int = 100) -> int:
    """Tasks nobody accepted expire a grace period after their deadline."""
    now, repos = uow.now, uow.repos
    grace = repos.ctx.policy.task_expiry_grace
    expired = 0
    for task_id in repos.unaccepted_past(now - grace, limit):
        loaded = repos.load(task_id)
        if loaded.assignment.is_stale(loaded.task.deadline, now, grace):
            end_task(uow, loaded, TaskStatus.EXPIRED, "nobody accepted by the deadline", None)
            expired += 1
    return expired
