"""The REST API: a worker's own token acts for that worker only; the service token acts
for the worker it names (tests, operations); office staff see and dispatch their area."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from anbu_contracts import Role, TaskStatus, TaskType
from anbu_runtime.auth import UserRole

from .conftest import TOKEN, World, step_executed, task_action
from .roster_builders import DONG, NEIGHBOUR_DONG, T0, household, worker

SERVICE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def world(make_world: Any) -> World:
    return populated(make_world())


def populated(world: World) -> World:
    world.enrol(
        worker("W-OFF01", Role.OFFICIAL),
        worker("W-LSW01", Role.LIFE_SUPPORT_WORKER),
        worker("W-BLK01", Role.BLOCK_LEADER),
        household(responsible="W-OFF01"),
    )
    registry = world.registry
    registry.add_user(
        "official", "pw", "W-OFF01", role=UserRole.DONG_OFFICIAL, dong_codes=frozenset({DONG})
    )
    registry.add_user("carer", "pw", "W-LSW01", dong_codes=frozenset({DONG}))
    registry.add_user(
        "other-dong",
        "pw",
        "W-OFF99",
        role=UserRole.DONG_OFFICIAL,
        dong_codes=frozenset({NEIGHBOUR_DONG}),
    )
    action = task_action(
        "team-visit",
        TaskType.HOME_VISIT,
        [Role.OFFICIAL, Role.LIFE_SUPPORT_WORKER, Role.BLOCK_LEADER],
        T0 + timedelta(hours=3),
    )
    world.deliver(step_executed("HH-AAAAAA01", "day2.visit", [action]))
    return world


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        yield client


def bearer(world: World, username: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.registry.token_for(username)}"}


async def test_a_worker_sees_and_accepts_their_own_task_with_their_own_token(
    world: World, api: httpx.AsyncClient
) -> None:
    mine = await api.get("/v1/tasks", headers=bearer(world, "carer"))
    assert mine.status_code == 200, mine.text
    [task] = mine.json()
    assert task["step_id"] == "day2.visit" and task["status"] == "offered"
    assert [s["role"] for s in task["slots"]] == ["official", "life_support_worker", "block_leader"]

    accepted = await api.post(
        f"/v1/tasks/{task['task_id']}/accept", json={}, headers=bearer(world, "carer")
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted_by"] == ["W-LSW01"]


async def test_a_person_cannot_act_for_someone_else(world: World, api: httpx.AsyncClient) -> None:
    task_id = world.tasks()[0].task_id
    refused = await api.post(
        f"/v1/tasks/{task_id}/accept", json={"worker_id": "W-BLK01"}, headers=bearer(world, "carer")
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert world.last_task_event(task_id).status is TaskStatus.OFFERED


async def test_the_service_token_acts_for_the_named_worker_as_the_end_to_end_tests_do(
    world: World, api: httpx.AsyncClient
) -> None:
    task_id = world.tasks()[0].task_id
    listed = await api.get("/v1/tasks", params={"worker_id": "W-OFF01"}, headers=SERVICE)
    assert [t["task_id"] for t in listed.json()] == [str(task_id)]
    accepted = await api.post(
        f"/v1/tasks/{task_id}/accept", json={"worker_id": "W-OFF01"}, headers=SERVICE
    )
    assert accepted.status_code == 200, accepted.text
    recorded = await api.post(
        f"/v1/tasks/{task_id}/outcome",
        json={"worker_id": "W-OFF01", "result": "contact_confirmed", "contact_mode": "visit"},
        headers=SERVICE,
    )
    assert recorded.status_code == 201, recorded.text
    [outcome] = world.published("outreach.outcome.v1")
    assert outcome.recorded_by == "W-OFF01" and outcome.task_id == task_id


async def test_an_outcome_from_someone_who_has_not_accepted_is_a_conflict(
    world: World, api: httpx.AsyncClient
) -> None:
    task_id = world.tasks()[0].task_id
    refused = await api.post(
        f"/v1/tasks/{task_id}/outcome",
        json={"result": "contact_confirmed"},
        headers=bearer(world, "carer"),
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/task-state")
    assert world.published("outreach.outcome.v1") == []


async def test_decline_needs_a_reason_and_start_needs_the_whole_team(
    world: World, api: httpx.AsyncClient
) -> None:
    task_id = world.tasks()[0].task_id
    no_reason = await api.post(
        f"/v1/tasks/{task_id}/decline", json={}, headers=bearer(world, "carer")
    )
    assert no_reason.status_code == 422
    await api.post(f"/v1/tasks/{task_id}/accept", json={}, headers=bearer(world, "official"))
    early = await api.post(f"/v1/tasks/{task_id}/start", json={}, headers=bearer(world, "official"))
    assert early.status_code == 409
    for who in ("W-LSW01", "W-BLK01"):
        await api.post(f"/v1/tasks/{task_id}/accept", json={"worker_id": who}, headers=SERVICE)
    started = await api.post(
        f"/v1/tasks/{task_id}/start", json={}, headers=bearer(world, "official")
    )
    assert started.status_code == 200 and started.json()["status"] == "started"


async def test_office_staff_see_their_areas_tasks_and_not_others(
    world: World, api: httpx.AsyncClient
) -> None:
    task_id = str(world.tasks()[0].task_id)
    area = await api.get("/v1/tasks", params={"dong_code": DONG}, headers=bearer(world, "official"))
    assert [t["task_id"] for t in area.json()] == [task_id]
    other = await api.get(
        "/v1/tasks", params={"dong_code": DONG}, headers=bearer(world, "other-dong")
    )
    assert other.status_code == 403
    hidden = await api.get(f"/v1/tasks/{task_id}", headers=bearer(world, "other-dong"))
    assert hidden.status_code == 404


async def test_figures_and_the_openapi_document(world: World, api: httpx.AsyncClient) -> None:
    figures = await api.get("/v1/figures", headers=bearer(world, "official"))
    assert figures.status_code == 200
    assert figures.json()["tasks"]["by_status"] == {"offered": 1}
    assert set(figures.json()["contacts"]) == {"high_risk", "caution", "watch", "closed"}
    spec = (await api.get("/openapi.json")).json()
    paths = set(spec["paths"])
    assert {
        "/v1/tasks",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/accept",
        "/v1/tasks/{task_id}/decline",
        "/v1/tasks/{task_id}/start",
        "/v1/tasks/{task_id}/outcome",
        "/v1/tasks/{task_id}/offer",
        "/v1/figures",
    } <= paths
    assert not any(p.startswith("/app") for p in paths)
    unauthenticated = await api.get("/v1/tasks")
    assert unauthenticated.status_code == 401


async def test_figures_are_an_offices_view_of_its_own_area(
    make_world: Any, database_url: str
) -> None:
    """An official plans with the figures of the dongs they serve, an operator with their
    districts'; field workers and volunteers read their own tasks, not an area's counts."""
    world = populated(make_world(database_url))
    transport = httpx.ASGITransport(app=world.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:
        await _figures_by_role(world, api)


async def _figures_by_role(world: World, api: httpx.AsyncClient) -> None:
    registry = world.registry
    registry.add_user("volunteer", "pw", "W-BLK01", role=UserRole.VOLUNTEER, dong_codes={DONG})
    registry.add_user("jongno-hub", "pw", None, role=UserRole.OPERATOR, district_codes={"11110"})
    registry.add_user("gangnam-hub", "pw", None, role=UserRole.OPERATOR, district_codes={"11680"})

    def households(body: dict[str, Any]) -> int:
        return sum(tier["households"] for tier in body["contacts"].values())

    for name in ("carer", "volunteer"):
        refused = await api.get("/v1/figures", headers=bearer(world, name))
        assert refused.status_code == 403, name
    for name in ("official", "jongno-hub"):
        mine = (await api.get("/v1/figures", headers=bearer(world, name))).json()
        assert mine["tasks"]["by_status"] == {"offered": 1} and households(mine) == 1, name
    for name in ("other-dong", "gangnam-hub"):
        elsewhere = (await api.get("/v1/figures", headers=bearer(world, name))).json()
        assert elsewhere["tasks"]["by_status"] == {} and households(elsewhere) == 0, name
    everything = (await api.get("/v1/figures", headers=SERVICE)).json()
    assert everything["area"] is None and everything["tasks"]["by_status"] == {"offered": 1}
