"""``GET /v1/clock`` on every service: simulated now, speed and wall-clock now, public."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData

from anbu_runtime.clock import AcceleratedClock, SystemClock
from anbu_runtime.service import ServiceRuntime
from anbu_runtime.settings import CommonSettings, ServiceSettings

ROOT = Path(__file__).resolve().parents[3]


async def _clock_of(tmp_path: Path, clock: AcceleratedClock | SystemClock) -> httpx.Response:
    runtime = ServiceRuntime(
        "clock-test",
        CommonSettings(kafka_bootstrap="127.0.0.1:1", var_dir=tmp_path),
        ServiceSettings(database_url=f"sqlite:///{tmp_path / 'clock.db'}"),
        MetaData(),
        clock=clock,
    )
    app = runtime.build_app("clock test")  # no lifespan: nothing is started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/clock")  # no token, no session
    runtime.db.dispose()
    return response


async def test_the_clock_answers_simulated_now_speed_and_wall_now(tmp_path: Path) -> None:
    epoch = datetime.now(UTC) - timedelta(seconds=10)
    start = datetime(2026, 11, 25, 4, 30, tzinfo=UTC)
    response = await _clock_of(tmp_path, AcceleratedClock(start=start, epoch=epoch, speed=600))
    assert response.status_code == 200
    body = response.json()
    now, wall = datetime.fromisoformat(body["now"]), datetime.fromisoformat(body["wall_now"])
    assert body["speed"] == 600 and body["accelerated"] is True
    assert datetime.fromisoformat(body["start"]) == start
    assert datetime.fromisoformat(body["epoch"]) == epoch
    # now = start + (wall - epoch) × speed, to within a second of real time
    assert abs((now - (start + (wall - epoch) * 600)).total_seconds()) < 600
    assert now - start >= timedelta(seconds=6000)


async def test_without_acceleration_the_clock_is_the_wall_clock(tmp_path: Path) -> None:
    body = (await _clock_of(tmp_path, SystemClock())).json()
    assert body["speed"] == 1 and body["accelerated"] is False and body["start"] is None
    now, wall = datetime.fromisoformat(body["now"]), datetime.fromisoformat(body["wall_now"])
    assert abs((wall - now).total_seconds()) < 5


@pytest.mark.parametrize(
    "service", ["registry", "gateway", "detector", "outreach", "notifier", "console"]
)
async def test_every_service_answers_the_clock_without_credentials(
    service: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANBU_VAR_DIR", str(tmp_path))
    runtime, app = importlib.import_module(f"anbu_{service}.bootstrap").create()
    transport = httpx.ASGITransport(app=app)  # no lifespan: nothing is started
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/v1/clock")
    runtime.db.dispose()
    assert response.status_code == 200, response.text
    assert set(response.json()) >= {"now", "wall_now", "speed", "accelerated"}
    spec = json.loads((ROOT / "docs" / "openapi" / f"{service}.json").read_text())
    assert "get" in spec["paths"]["/v1/clock"]
