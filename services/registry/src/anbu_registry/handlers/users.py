"""People who log in: argon2 password hashes, roles, areas, short-lived tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from anbu_runtime.auth import Principal, UserRole, issue_token
from anbu_runtime.logs import get_logger

from ..adapters.orm import LoginThrottleRow, UserRow
from ..adapters.repository import Repositories, UoW
from ..domain.identifiers import new_id
from ..domain.login_throttle import (
    ACCOUNT,
    ADDRESS,
    FailureCount,
    ThrottlePolicy,
    after_failure,
    forgotten_before,
)
from ..domain.model import UserIn
from .common import Conflict, NotFound, audit, require

_hasher = PasswordHasher()
# Verifying against a dummy hash keeps the time of a failed login independent of whether
# the user exists.
_DUMMY = _hasher.hash("not-a-real-password-0000")


log = get_logger(__name__)


@dataclass(frozen=True)
class Refusal:
    """A refused login. A value, not an exception: the failure counts it changed and its
    audit entries must commit with the transaction."""

    retry_after: timedelta | None = None  # set while the account or the address is locked


def create(uow: UoW, data: UserIn, principal: Principal) -> str:
    require(principal.is_admin, "only administrators create users")
    if uow.repos.user_named(data.username):
        raise Conflict(f"user {data.username} already exists")
    if (
        data.role in (UserRole.DONG_OFFICIAL, UserRole.FIELD_WORKER, UserRole.VOLUNTEER)
        and not data.dong_codes
    ):
        raise Conflict(f"a {data.role.value} needs the dong_codes they serve")
    if data.role is UserRole.OPERATOR and not data.district_codes:
        raise Conflict("an operator needs the district_codes they serve")
    user_id = new_id("U-", 10)
    uow.session.add(
        UserRow(
            user_id=user_id,
            username=data.username,
            password_hash=_hasher.hash(data.password),
            role=data.role.value,
            dong_codes=data.dong_codes,
            district_codes=data.district_codes,
            worker_id=data.worker_id,
            created_at=uow.now,
        )
    )
    audit(uow, principal, "user.create", user_id, "account", {"role": data.role.value})
    return user_id


def principal_of(row: UserRow) -> Principal:
    return Principal(
        subject=row.user_id,
        role=UserRole(row.role),
        dong_codes=frozenset(row.dong_codes),
        district_codes=frozenset(row.district_codes),
        worker_id=row.worker_id,
    )


def login(
    uow: UoW,
    username: str,
    password: str,
    secret: str,
    ttl: timedelta,
    address: str,
) -> tuple[str, Principal] | Refusal:
    """A token for the right password, unless the account or the address is locked.

    A lock refuses before the password is even checked, so the answer says nothing about it.
    """
    now = uow.repos.wall_clock()
    keys = {_account_key(username): ACCOUNT, _address_key(address): ADDRESS}
    waits = [
        wait
        for key in keys
        if (throttle := uow.session.get(LoginThrottleRow, key)) is not None
        and (wait := _count_of(throttle).retry_after(now)) is not None
    ]
    if waits:
        return Refusal(retry_after=max(waits))
    row = uow.repos.user_named(username)
    right: bool
    try:
        right = _hasher.verify(row.password_hash if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        right = False
    if row is None or not row.active or not right:
        audit(uow, username, "login.failed", username, "authentication")
        for key, policy in keys.items():
            _count_failure(uow, key, policy, username, address)
        return Refusal()
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
        uow.session.add(row)
    # A success forgets the account's failures; the address keeps its count, or an attacker
    # with one account of their own could wash their address clean between guesses.
    if (done := uow.session.get(LoginThrottleRow, _account_key(username))) is not None:
        uow.session.delete(done)
    principal = principal_of(row)
    audit(uow, principal, "login", row.user_id, "authentication")
    # Every service checks tokens against the wall clock, so they are issued on it too, even
    # when the service clock is accelerated (a demo or an end-to-end run).
    return issue_token(secret, principal, ttl, now), principal


def unlock(uow: UoW, user_id: str, principal: Principal) -> None:
    """Lift an account's login lock and forget its failures (audited)."""
    require(principal.is_admin, "only administrators unlock accounts")
    user = uow.session.get(UserRow, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    row = uow.session.get(LoginThrottleRow, _account_key(user.username))
    locked = row is not None and _count_of(row).retry_after(uow.repos.wall_clock()) is not None
    if row is not None:
        uow.session.delete(row)
    audit(uow, principal, "user.unlock", user_id, "account", {"was_locked": locked})


def _account_key(username: str) -> str:
    # A digest keeps attacker-chosen names out of the key (and its length bounded).
    return "account:" + hashlib.sha256(username.encode()).hexdigest()


def _address_key(address: str) -> str:
    return f"address:{address}"[:80]


def _count_of(row: LoginThrottleRow) -> FailureCount:
    return FailureCount(
        failures=row.failures,
        window_start=row.window_start,
        last_failure_at=row.last_failure_at,
        locked_until=row.locked_until,
        lockouts=row.lockouts,
    )


def _count_failure(
    uow: UoW,
    key: str,
    policy: ThrottlePolicy,
    username: str,
    address: str,
) -> None:
    """One more failure for ``key``, under a row lock so that registry instances agree."""
    row = uow.repos.locked_throttle(key)
    now = uow.repos.wall_clock()
    count, lock = after_failure(_count_of(row), policy, now)
    row.failures = count.failures
    row.window_start = count.window_start
    row.last_failure_at = count.last_failure_at
    row.locked_until = count.locked_until
    row.lockouts = count.lockouts
    uow.session.add(row)
    if lock is None:
        return
    scope = "account" if policy is ACCOUNT else "address"
    audit(
        uow,
        "registry",
        "login.locked",
        username if scope == "account" else f"address:{address}"[:128],
        "authentication",
        {
            "scope": scope,
            "until": count.locked_until.isoformat() if count.locked_until else None,
            "minutes": round(lock.total_seconds() / 60, 1),
            "lockout": count.lockouts,
        },
    )
    log.warning(
        "login locked", scope=scope, lock_seconds=int(lock.total_seconds()), lockout=count.lockouts
    )


def forget_old_failures(uow: UoW) -> int:
    """Delete failure counts nobody needs any more (no lock, no failure for a day)."""
    now = uow.repos.wall_clock()
    return uow.repos.forget_throttles(failed_before=forgotten_before(now), now=now)


def listing(repos: Repositories, principal: Principal) -> Sequence[UserRow]:
    require(principal.is_admin, "only administrators list users")
    return repos.users()
