"""Simulated field staff: seeded people who log in, accept their offers and record outcomes.

Each person logs in to the registry with their demo account (``POST /v1/auth/login``),
polls outreach for their open tasks (``GET /v1/tasks``), accepts an offer after a short,
human delay, sets out once the whole team has accepted (``/start``), and after the work
records what the simulated world holds for the household (``/outcome``): a death is found
by a visit, not by a phone call, and so on (``domain.field_work``). Delays are simulated
time on the shared clock, so the loop runs at the demo's speed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from anbu_contracts import TaskType
from anbu_runtime.clock import Clock
from anbu_runtime.logs import get_logger

from ..domain.crises import Crisis
from ..domain.field_work import what_staff_find

log = get_logger(__name__)


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    worker_id: str


def logins_from_seed(seed: Mapping[str, Any]) -> list[Login]:
    """Every seeded account that is a worker (has a ``worker_id``)."""
    return [
        Login(str(u["username"]), str(u["password"]), str(u["worker_id"]))
        for u in seed.get("users", ())
        if u.get("worker_id") and u.get("password")
    ]


@dataclass
class _Person:
    login: Login
    token: str | None = None
    # task id → simulated instant to act at (accept, then record the outcome)
    accept_at: dict[str, datetime] = field(default_factory=dict)
    finish_at: dict[str, datetime] = field(default_factory=dict)


@dataclass
class FieldStaff:
    registry_url: str
    outreach_url: str
    logins: Sequence[Login]
    clock: Clock
    crisis_of: Callable[[str, datetime], Crisis | None]
    seed: int | str = 1
    poll_seconds: float = 2.0
    accept_delay: tuple[float, float] = (5, 40)  # simulated minutes
    work_time: tuple[float, float] = (20, 90)  # simulated minutes
    done: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"field-staff:{self.seed}")
        self._people = [_Person(login) for login in self.logins]

    async def run(self) -> None:
        """Poll and act until cancelled; a failing request is logged and retried later."""
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                for person in self._people:
                    try:
                        await self._act(client, person)
                    except httpx.HTTPError as exc:
                        log.warning(
                            "field staff request failed",
                            user=person.login.username,
                            error=repr(exc),
                        )
                await asyncio.sleep(self.poll_seconds)

    async def _login(self, client: httpx.AsyncClient, person: _Person) -> str:
        response = await client.post(
            f"{self.registry_url}/v1/auth/login",
            json={"username": person.login.username, "password": person.login.password},
        )
        response.raise_for_status()
        person.token = str(response.json()["access_token"])
        return person.token

    async def _call(
        self, client: httpx.AsyncClient, person: _Person, method: str, path: str, body: Any = None
    ) -> httpx.Response:
        for attempt in range(2):
            token = person.token or await self._login(client, person)
            response = await client.request(
                method,
                f"{self.outreach_url}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code != 401 or attempt:
                return response
            person.token = None  # expired: log in again
        return response

    async def _act(self, client: httpx.AsyncClient, person: _Person) -> None:
        response = await self._call(client, person, "GET", "/v1/tasks")
        if response.status_code != 200:
            return
        now = self.clock.now()
        me = person.login.worker_id
        for task in response.json():
            task_id = str(task["task_id"])
            mine = [s for s in task.get("slots", ()) if s.get("worker_id") == me]
            if any(s.get("state") == "offered" for s in mine):
                when = person.accept_at.setdefault(task_id, now + self._minutes(self.accept_delay))
                if now >= when:
                    r = await self._call(client, person, "POST", f"/v1/tasks/{task_id}/accept", {})
                    log.info(
                        "field staff accepted",
                        user=person.login.username,
                        task_id=task_id,
                        status=r.status_code,
                    )
                continue
            accepted = sorted(task.get("accepted_by") or ())
            if not accepted or accepted[0] != me:
                continue  # the first of the team records for everyone
            if task["status"] == "accepted":
                await self._call(
                    client,
                    person,
                    "POST",
                    f"/v1/tasks/{task_id}/start",
                    {"confirmed": list(task.get("preconditions") or ())},
                )
                person.finish_at.setdefault(task_id, now + self._minutes(self.work_time))
            elif task["status"] == "started":
                when = person.finish_at.setdefault(task_id, now + self._minutes(self.work_time))
                if now >= when:
                    await self._record(client, person, task, now)

    async def _record(
        self, client: httpx.AsyncClient, person: _Person, task: dict[str, Any], now: datetime
    ) -> None:
        task_type = TaskType(task["task_type"])
        finding = what_staff_find(task_type, self.crisis_of(task["household_id"], now), now)
        body = {
            "result": finding.result.value,
            "contact_mode": finding.contact_mode.value,
            "needs": [n.value for n in finding.needs],
            "follow_up": finding.follow_up,
            "note": "simulated field visit",
        }
        response = await self._call(
            client, person, "POST", f"/v1/tasks/{task['task_id']}/outcome", body
        )
        log.info(
            "field staff recorded an outcome",
            user=person.login.username,
            task_id=task["task_id"],
            task_type=task_type.value,
            result=finding.result.value,
            status=response.status_code,
        )
        if response.status_code == 201:
            self.done[finding.result.value] = self.done.get(finding.result.value, 0) + 1

    def _minutes(self, span: tuple[float, float]) -> timedelta:
        return timedelta(minutes=self._rng.uniform(*span))
