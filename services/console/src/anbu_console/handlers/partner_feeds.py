"""Partner signals: when each partner last sent each kind, and how many per hour.

A batch's signals are folded together (one row update per partner and kind, one count per
partner, kind and hour), so a burst of heartbeats costs a few statements, not thousands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from anbu_contracts import Signal

from ..adapters.orm import PartnerFeedView, PartnerSignalHour, PartnerSignalSeen
from .common import Uow

# Signals per partner per hour are kept this long behind the newest hour counted: the
# trends page draws the last 48 hours; a week leaves room to look back at a quiet weekend.
SIGNAL_HOURS_KEPT = timedelta(days=7)


def on_signal(event: Signal, uow: Uow) -> None:
    fold_signals(uow, [event])


def fold_signals(uow: Uow, signals: Sequence[Signal]) -> None:
    """Fold signals (any order, duplicates allowed) into the feeds and the hourly counts."""
    feeds: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for event in signals:
        key = (event.partner_id, str(getattr(event, "kind", "")))
        old = feeds.get(key)
        feeds[key] = (
            max(old[0], event.occurred_at) if old else event.occurred_at,
            max(old[1], event.produced_at) if old else event.produced_at,
        )
    for (partner_id, kind), (observed, produced) in feeds.items():
        _partner_feed(uow, partner_id, kind, observed, produced)
    count_signals(uow, signals)


def _partner_feed(
    uow: Uow, partner_id: str, kind: str, observed: datetime, produced: datetime
) -> None:
    row = uow.repos.get(PartnerFeedView, (partner_id, kind))
    if row is None:
        row = PartnerFeedView(
            partner_id=partner_id, kind=kind, last_observed_at=observed, last_produced_at=produced
        )
    else:
        row.last_observed_at = max(row.last_observed_at, observed)
        row.last_produced_at = max(row.last_produced_at, produced)
    uow.repos.add(row)


def signal_hour(at: datetime) -> datetime:
    """The UTC hour a signal is counted in."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def count_signals(uow: Uow, signals: Sequence[Signal]) -> None:
    """Add each signal not counted before to its partner's, kind's and hour's count.

    A signal is counted once per (partner, partner's event id), the contract's idempotency
    key, whichever batch or replay brings it again. Hours older than ``SIGNAL_HOURS_KEPT``
    behind the newest hour counted are dropped, and signals that old are not counted, so a
    replay from the beginning of the topics ends with the same window as the live fold.
    """
    if not signals:
        return
    repos = uow.repos
    newest = repos.newest_signal_hour()
    batch_newest = max(signal_hour(s.produced_at) for s in signals)
    newest = batch_newest if newest is None else max(signal_hour(newest), batch_newest)
    cutoff = newest - SIGNAL_HOURS_KEPT
    fresh = {(s.partner_id, s.partner_event_id): s for s in signals}
    fresh = {key: s for key, s in fresh.items() if signal_hour(s.produced_at) >= cutoff}
    for key in repos.seen_signals(event_id for _, event_id in fresh):
        fresh.pop(key, None)
    counts: Counter[tuple[str, str, datetime]] = Counter()
    for (partner_id, event_id), signal in fresh.items():
        hour = signal_hour(signal.produced_at)
        repos.add(PartnerSignalSeen(partner_id=partner_id, partner_event_id=event_id, hour=hour))
        counts[(partner_id, str(getattr(signal, "kind", "")), hour)] += 1
    for (partner_id, kind, hour), n in counts.items():
        row = repos.get(PartnerSignalHour, (partner_id, kind, hour))
        row = row or PartnerSignalHour(partner_id=partner_id, kind=kind, hour=hour, count=0)
        row.count += n
        repos.add(row)
    repos.forget_signal_hours_before(cutoff)
