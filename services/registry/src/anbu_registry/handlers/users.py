"""People who log in: argon2 password hashes, roles, areas, short-lived tokens."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from anbu_runtime.auth import Principal, UserRole, issue_token
from anbu_runtime.logs import get_logger

from ..adapters.orm import LoginThrottleRow, UserRow
from ..domain.identifiers import new_id
from ..domain.login_throttle import ACCOUNT, ADDRESS, FailureCount, ThrottlePolicy, after_failure
from ..domain.model import UserIn
from .common import Conflict, Context, NotFound, require

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


def create(ctx: Context, session: Session, data: UserIn, principal: Principal) -> str:
    require(principal.is_admin, "only administrators create users")
    if session.exec(select(UserRow).where(UserRow.username == data.username)).first():
        raise Conflict(f"user {data.username} already exists")
    if (
        data.role in (UserRole.DONG_OFFICIAL, UserRole.FIELD_WORKER, UserRole.VOLUNTEER)
        and not data.dong_codes
    ):
        raise Conflict(f"a {data.role.value} needs the dong_codes they serve")
    if data.role is UserRole.OPERATOR and not data.district_codes:
        raise Conflict("an operator needs the district_codes they serve")
    user_id = new_id("U-", 10)
    session.add(
        UserRow(
            user_id=user_id,
            username=data.username,
            password_hash=_hasher.hash(data.password),
            role=data.role.value,
            dong_codes=data.dong_codes,
            district_codes=data.district_codes,
            worker_id=data.worker_id,
            created_at=ctx.now(),
        )
    )
    ctx.audit(session, principal, "user.create", user_id, "account", {"role": data.role.value})
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
    ctx: Context,
    session: Session,
    username: str,
    password: str,
    secret: str,
    ttl: timedelta,
    address: str,
) -> tuple[str, Principal] | Refusal:
    """A token for the right password, unless the account or the address is locked.

    A lock refuses before the password is even checked, so the answer says nothing about it.
    """
    now = ctx.wall_clock()
    keys = {_account_key(username): ACCOUNT, _address_key(address): ADDRESS}
    waits = [
        wait
        for key in keys
        if (throttle := session.get(LoginThrottleRow, key)) is not None
        and (wait := _count_of(throttle).retry_after(now)) is not None
    ]
    if waits:
        return Refusal(retry_after=max(waits))
    row = session.exec(select(UserRow).where(UserRow.username == username)).first()
    right: bool
    try:
        right = _hasher.verify(row.password_hash if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        right = False
    if row is None or not row.active or not right:
        ctx.audit(session, username, "login.failed", username, "authentication")
        for key, policy in keys.items():
            _count_failure(ctx, session, key, policy, username, address)
        return Refusal()
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
        session.add(row)
    # A success forgets the account's failures; the address keeps its count, or an attacker
    # with one account of their own could wash their address clean between guesses.
    if (done := session.get(LoginThrottleRow, _account_key(username))) is not None:
        session.delete(done)
    principal = principal_of(row)
    ctx.audit(session, principal, "login", row.user_id, "authentication")
    # Every service checks tokens against the wall clock, so they are issued on it too, even
    # when the service clock is accelerated (a demo or an end-to-end run).
    return issue_token(secret, principal, ttl, now), principal


def unlock(ctx: Context, session: Session, user_id: str, principal: Principal) -> None:
    """Lift an account's login lock and forget its failures (audited)."""
    require(principal.is_admin, "only administrators unlock accounts")
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    row = session.get(LoginThrottleRow, _account_key(user.username))
    locked = row is not None and _count_of(row).retry_after(ctx.wall_clock()) is not None
    if row is not None:
        session.delete(row)
    ctx.audit(session, principal, "user.unlock", user_id, "account", {"was_locked": locked})


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
    ctx: Context,
    session: Session,
    key: str,
    policy: ThrottlePolicy,
    username: str,
    address: str,
) -> None:
    """One more failure for ``key``, under a row lock so that registry instances agree."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottleRow.__table__)  # type: ignore[attr-defined]
        .values(key=key, failures=0, lockouts=0)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.exec(
        select(LoginThrottleRow)
        .where(LoginThrottleRow.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    now = ctx.wall_clock()
    count, lock = after_failure(_count_of(row), policy, now)
    row.failures = count.failures
    row.window_start = count.window_start
    row.last_failure_at = count.last_failure_at
    row.locked_until = count.locked_until
    row.lockouts = count.lockouts
    session.add(row)
    if lock is None:
        return
    scope = "account" if policy is ACCOUNT else "address"
    ctx.audit(
        session,
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


def listing(session: Session, principal: Principal) -> Sequence[UserRow]:
    require(principal.is_admin, "only administrators list users")
    return session.exec(select(UserRow).order_by(col(UserRow.username))).all()
