"""People who log in: argon2 password hashes, roles, areas, short-lived tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from anbu_runtime.auth import Principal, UserRole, issue_token

from ..adapters.orm import UserRow
from ..domain.identifiers import new_id
from ..domain.model import UserIn
from .common import Conflict, Context, require

_hasher = PasswordHasher()
# Verifying against a dummy hash keeps the time of a failed login independent of whether
# the user exists.
_DUMMY = _hasher.hash("not-a-real-password-0000")


class LoginFailed(PermissionError):
    pass


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
    ctx: Context, session: Session, username: str, password: str, secret: str, ttl: timedelta
) -> tuple[str, Principal]:
    row = session.exec(select(UserRow).where(UserRow.username == username)).first()
    try:
        _hasher.verify(row.password_hash if row else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        ctx.audit(session, username, "login.failed", username, "authentication")
        raise LoginFailed("wrong username or password") from None
    if row is None or not row.active:
        raise LoginFailed("wrong username or password")
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
        session.add(row)
    principal = principal_of(row)
    ctx.audit(session, principal, "login", row.user_id, "authentication")
    # Every service checks tokens against the wall clock, so they are issued on it too, even
    # when the service clock is accelerated (a demo or an end-to-end run).
    return issue_token(secret, principal, ttl, datetime.now(UTC)), principal


def listing(session: Session, principal: Principal) -> Sequence[UserRow]:
    require(principal.is_admin, "only administrators list users")
    return session.exec(select(UserRow).order_by(col(UserRow.username))).all()
