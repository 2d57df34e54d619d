"""Password guessing: failed logins lock the account and the address, on the wall clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from anbu_registry.adapters.orm import LoginThrottleRow, metadata
from anbu_registry.adapters.repository import Repositories
from anbu_registry.domain.login_throttle import ACCOUNT, FailureCount, after_failure
from anbu_registry.handlers import users
from anbu_registry.handlers.common import Context
from anbu_runtime.clock import SystemClock
from anbu_runtime.db import Database
from anbu_runtime.outbox import Outbox, install
from anbu_runtime.uow import Transactions

from .conftest import Registry

PASSWORD = "right-password-2026"
_numbers = count(1)


class WallClock:
    """The registry's wall clock, stepped by the test instead of slept through."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def wall(registry: Registry) -> Iterator[WallClock]:
    ctx: Context = registry.client.app.state.registry_context  # type: ignore[attr-defined]
    clock, before = WallClock(), ctx.wall_clock
    ctx.wall_clock = clock
    yield clock
    ctx.wall_clock = before


def new_user(registry: Registry) -> tuple[str, str]:
    username = f"throttle-{next(_numbers)}-{id(registry) % 10_000}"
    response = registry.client.post(
        "/v1/users",
        headers=registry.service,
        json={"username": username, "password": PASSWORD, "role": "admin"},
    )
    assert response.status_code == 201, response.text
    return username, str(response.json()["id"])


def new_address() -> str:
    return f"198.51.100.{next(_numbers) % 250 + 1}-{next(_numbers)}"


def attempt(registry: Registry, username: str, password: str, address: str) -> httpx.Response:
    """A login as the console makes it for a person at ``address``."""
    return registry.client.post(
        "/v1/auth/login",
        json={"username": username, "password": password},
        headers={**registry.service, "X-Anbu-Client-Address": address},
    )


def statuses(registry: Registry, username: str, times: int, address: str) -> list[int]:
    return [attempt(registry, username, "wrong-guess", address).status_code for _ in range(times)]


def test_forty_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(
    registry: Registry, wall: WallClock
) -> None:
    username, _ = new_user(registry)
    address = new_address()
    assert statuses(registry, username, 40, address) == [401] * 5 + [429] * 35
    right = attempt(registry, username, PASSWORD, address)
    assert right.status_code == 429
    assert right.headers["content-type"] == "application/problem+json"
    assert int(right.headers["Retry-After"]) == 300 == right.json()["retry_after"]
    # From another address too: the lock is the account's, and it does not tell whether the
    # password was right.
    elsewhere = attempt(registry, username, PASSWORD, new_address())
    assert elsewhere.status_code == 429
    assert elsewhere.json()["detail"] == right.json()["detail"]


def test_after_the_lock_the_right_password_works_and_a_repeated_lock_is_longer(
    registry: Registry, wall: WallClock
) -> None:
    username, _ = new_user(registry)
    address = new_address()
    statuses(registry, username, 5, address)
    wall.advance(minutes=4, seconds=50)
    assert int(attempt(registry, username, PASSWORD, address).headers["Retry-After"]) == 10
    wall.advance(seconds=11)
    assert statuses(registry, username, 5, address) == [401] * 5  # a second lock...
    again = attempt(registry, username, PASSWORD, address)
    assert int(again.headers["Retry-After"]) == 600  # ...twice as long
    wall.advance(minutes=10, seconds=1)
    assert attempt(registry, username, PASSWORD, address).status_code == 200


def test_a_success_forgets_the_accounts_failures(registry: Registry, wall: WallClock) -> None:
    username, _ = new_user(registry)
    address = new_address()
    assert statuses(registry, username, 4, address) == [401] * 4
    assert attempt(registry, username, PASSWORD, address).status_code == 200
    assert statuses(registry, username, 4, address) == [401] * 4
    assert attempt(registry, username, PASSWORD, address).status_code == 200


def test_an_administrator_unlocks_a_locked_account_and_it_is_audited(
    registry: Registry, wall: WallClock
) -> None:
    username, user_id = new_user(registry)
    address = new_address()
    statuses(registry, username, 5, address)
    assert attempt(registry, username, PASSWORD, address).status_code == 429
    official = bearer(attempt(registry, "official-515", "anbu-demo-2026", new_address()))
    refused = registry.client.post(f"/v1/users/{user_id}/unlock", headers=official)
    assert refused.status_code == 403
    admin = bearer(attempt(registry, "admin", "anbu-demo-2026", new_address()))
    unlocked = registry.client.post(f"/v1/users/{user_id}/unlock", headers=admin)
    assert unlocked.status_code == 204
    assert attempt(registry, username, PASSWORD, address).status_code == 200
    assert registry.client.post("/v1/users/U-NOBODY/unlock", headers=admin).status_code == 404
    audit = registry.client.get("/v1/audit", headers=admin, params={"limit": 1000}).json()
    actions = {(e["action"], e["subject"]) for e in audit}
    assert ("login.locked", username) in actions
    assert ("user.unlock", user_id) in actions
    assert ("login.failed", username) in actions  # failures are kept, not rolled back


def test_an_address_failing_across_many_accounts_is_blocked(
    registry: Registry, wall: WallClock
) -> None:
    username, _ = new_user(registry)
    address = new_address()
    for n in range(20):  # one guess per account: no account lock
        assert attempt(registry, f"guess-{n}", "wrong-guess", address).status_code == 401
    blocked = attempt(registry, username, PASSWORD, address)
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) == 900
    assert attempt(registry, username, PASSWORD, new_address()).status_code == 200
    wall.advance(minutes=15, seconds=1)
    assert attempt(registry, username, PASSWORD, address).status_code == 200


def test_only_a_service_may_say_whose_address_a_login_comes_from(
    registry: Registry, wall: WallClock
) -> None:
    username, _ = new_user(registry)
    claimed = new_address()
    for n in range(5):
        response = registry.client.post(
            "/v1/auth/login",
            json={"username": f"claim-{n}", "password": "wrong-guess"},
            headers={"X-Anbu-Client-Address": claimed},  # no service token: not believed
        )
        assert response.status_code == 401
    for n in range(15):
        attempt(registry, f"spray-{n}", "wrong-guess", claimed)
    # 15 failures counted on the claimed address, not 20: it is not blocked.
    assert attempt(registry, username, PASSWORD, claimed).status_code == 200


def bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return {"Authorization": f"Bearer {body['access_token']}"}


def test_failure_counts_nobody_needs_any_more_are_deleted(
    registry: Registry, wall: WallClock
) -> None:
    db: Database = registry.client.app.state.runtime.db  # type: ignore[attr-defined]
    ctx: Context = registry.client.app.state.registry_context  # type: ignore[attr-defined]
    tx = Transactions(
        db, Outbox(install(metadata), "registry"), SystemClock(), lambda s: Repositories(s, ctx)
    )

    def keys() -> set[str]:
        with Session(db.engine) as session:
            return set(session.exec(select(LoginThrottleRow.key)).all())

    others = keys()  # other tests' counts, on the registry these tests share
    quiet, _ = new_user(registry)
    assert statuses(registry, quiet, 2, new_address()) == [401, 401]
    quiet_keys = keys() - others
    wall.advance(hours=25)
    busy, _ = new_user(registry)
    assert statuses(registry, busy, 2, new_address()) == [401, 401]
    busy_keys = keys() - others - quiet_keys
    assert len(quiet_keys) == len(busy_keys) == 2  # an account and an address each

    assert tx.run_sync(users.forget_old_failures) >= 2
    assert busy_keys <= keys() and not quiet_keys & keys()
    # the quiet account starts again from nothing, as its old count would have let it
    assert statuses(registry, quiet, ACCOUNT.max_failures - 1, new_address()) == [401] * 4
    assert statuses(registry, busy, 4, new_address()) == [401, 401, 401, 429]  # counted on


def test_failures_outside_the_window_do_not_add_up() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    state = FailureCount()
    for minute in range(0, 80, 16):  # five failures, each more than 15 minutes apart
        state, lock = after_failure(state, ACCOUNT, now + timedelta(minutes=minute))
        assert lock is None and state.failures == 1


def test_locks_double_up_to_an_hour_and_are_forgotten_after_a_quiet_day() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    state, locks = FailureCount(), []
    for _ in range(6):
        for _ in range(ACCOUNT.max_failures):
            state, lock = after_failure(state, ACCOUNT, now)
        assert lock is not None and state.retry_after(now) == lock
        locks.append(lock.total_seconds() / 60)
        now = state.locked_until or now
    assert locks == [5, 10, 20, 40, 60, 60]
    now += timedelta(hours=25)
    for _ in range(ACCOUNT.max_failures):
        state, lock = after_failure(state, ACCOUNT, now)
    assert lock == timedelta(minutes=5)


async def test_the_pages_log_people_in_with_their_own_address_and_show_a_lock(
    registry: Registry, wall: WallClock
) -> None:
    """The console and the field app log people in through ``registry_login``: with the
    service token they pass the person's address, so one person's failures lock that person's
    address, not every user of the console (which would all share the console's address)."""
    from anbu_runtime.web_login import LoginLocked, registry_login

    from .conftest import SERVICE_TOKEN

    username, _ = new_user(registry)
    guessing, honest = new_address(), new_address()
    transport = httpx.ASGITransport(app=registry.client.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry") as client:

        async def log_in(user: str, password: str, address: str) -> object:
            return await registry_login(
                client, user, password, client_address=address, service_token=SERVICE_TOKEN
            )

        for n in range(20):
            assert await log_in(f"page-guess-{n}", "wrong-guess", guessing) is None
        with pytest.raises(LoginLocked) as locked:
            await log_in(username, PASSWORD, guessing)
        assert locked.value.retry_after == 900
        assert await log_in(username, PASSWORD, honest) is not None
