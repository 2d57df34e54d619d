"""Password guessing slowed down: failed logins counted per account and per address.

After ``max_failures`` failures within ``window`` the account (or the address) is locked for
``first_lock``, doubled at each further lockout up to ``max_lock``. A lock refuses every
attempt, the right password included, and says nothing about whether it was right. The
lockout count is forgotten after ``forget_after`` without failures, on a successful login
(accounts only: a success must not wash an attacker's address clean) and on an admin unlock;
a count forgotten that way is deleted (:func:`forgotten_before`), so sprayed addresses and
usernames do not pile up.
The times are wall-clock times: the accelerated demo clock must not shorten a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    first_lock: timedelta
    max_lock: timedelta
    forget_after: timedelta = timedelta(hours=24)

    def lock_for(self, lockouts_before: int) -> timedelta:
        """The length of the next lock after ``lockouts_before`` earlier ones."""
        return min(self.first_lock * (1 << min(lockouts_before, 32)), self.max_lock)


# An account: 5 wrong passwords in 15 minutes lock it for 5 minutes, then 10, 20, 40, 60.
ACCOUNT = ThrottlePolicy(
    max_failures=5,
    window=timedelta(minutes=15),
    first_lock=timedelta(minutes=5),
    max_lock=timedelta(hours=1),
)
# An address: 20 failures in 15 minutes, whatever the accounts, block it for 15 minutes, then
# 30, 60. Wide enough for an office behind one NAT address, narrow against spraying.
ADDRESS = ThrottlePolicy(
    max_failures=20,
    window=timedelta(minutes=15),
    first_lock=timedelta(minutes=15),
    max_lock=timedelta(hours=1),
)


@dataclass(frozen=True)
class FailureCount:
    """What is remembered about one account or one address."""

    failures: int = 0
    window_start: datetime | None = None
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None
    lockouts: int = 0

    def retry_after(self, now: datetime) -> timedelta | None:
        """How long the lock still holds at ``now``, or None when there is none."""
        if self.locked_until is None or self.locked_until <= now:
            return None
        return self.locked_until - now


def forgotten_before(now: datetime) -> datetime:
    """A count whose last failure is older than this (and whose lock has ended) holds
    nothing :func:`after_failure` would use: its row may go."""
    return now - max(ACCOUNT.forget_after, ADDRESS.forget_after)


def after_failure(
    count: FailureCount, policy: ThrottlePolicy, now: datetime
) -> tuple[FailureCount, timedelta | None]:
    """The count after one more failure at ``now``, and the lock it starts (if it does)."""
    lockouts = count.lockouts
    if count.last_failure_at is not None and now - count.last_failure_at > policy.forget_after:
        lockouts = 0
    failures, window_start = count.failures, count.window_start
    if window_start is None or now - window_start > policy.window or count.locked_until:
        # A new window: the old one ran out, or a lock ended (its failures were paid for).
        failures, window_start = 0, now
    failures += 1
    if failures < policy.max_failures:
        return (
            replace(
                count,
                failures=failures,
                window_start=window_start,
                last_failure_at=now,
                locked_until=None,
                lockouts=lockouts,
            ),
            None,
        )
    lock = policy.lock_for(lockouts)
    return (
        FailureCount(
            failures=failures,
            window_start=window_start,
            last_failure_at=now,
            locked_until=now + lock,
            lockouts=lockouts + 1,
        ),
        lock,
    )
