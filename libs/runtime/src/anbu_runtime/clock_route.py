"""``GET /v1/clock``: what time it is for this service.

Under the accelerated clock (a demo, an end-to-end run) simulated time runs ``speed`` times
faster than the wall clock; people looking at a page need both to make sense of deadlines.
The answer holds no personal data, so, like ``/healthz``, it needs no caller identity.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel, Field

from .clock import AcceleratedClock, Clock


class ClockView(BaseModel):
    now: datetime = Field(description="This service's current time (simulated when accelerated).")
    wall_now: datetime = Field(description="The real (wall-clock) time.")
    speed: float = Field(description="Simulated seconds per real second (1: real time).")
    accelerated: bool
    start: datetime | None = Field(
        default=None, description="Simulated time at the epoch (accelerated clock only)."
    )
    epoch: datetime | None = Field(
        default=None, description="Wall-clock instant the simulation started from."
    )


def clock_view(clock: Clock) -> ClockView:
    if isinstance(clock, AcceleratedClock):
        return ClockView(
            now=clock.now(),
            wall_now=datetime.now(UTC),
            speed=clock.speed,
            accelerated=True,
            start=clock.start,
            epoch=clock.epoch,
        )
    return ClockView(now=clock.now(), wall_now=datetime.now(UTC), speed=1.0, accelerated=False)


def install_clock_route(app: FastAPI, clock: Clock) -> None:
    """Serve ``GET /v1/clock`` (public, like ``/healthz``)."""

    @app.get(
        "/v1/clock",
        tags=["operations"],
        summary="Current time: simulated now, speed and wall-clock now (public)",
    )
    async def current_time() -> ClockView:
        return clock_view(clock)
