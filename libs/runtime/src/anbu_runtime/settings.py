"""Settings every service shares, read from ``ANBU_*`` environment variables."""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_var_dir() -> Path:
    return Path(os.environ.get("ANBU_VAR_DIR", "var")).resolve()


class CommonSettings(BaseSettings):
    """Shared by every process of one deployment (same values for all services)."""

    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:19092"
    var_dir: Path = Field(default_factory=_default_var_dir)
    log_level: str = "INFO"
    log_format: str = Field(default="json", pattern="^(json|console)$")
    instance_id: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # The shared accelerated clock: simulated time = clock_start + (now - clock_epoch) * speed.
    clock_speed: float = Field(default=1.0, gt=0)
    clock_start: AwareDatetime | None = None
    clock_epoch: AwareDatetime | None = None
    # Where services find each other over HTTP.
    registry_url: str = "http://127.0.0.1:8701"
    outreach_public_url: str = "http://127.0.0.1:8704"
    # Token services present to each other's internal endpoints. Set a real secret in
    # production; the default only works on loopback development setups.
    service_token: str = "dev-service-token"
    # Signs people's login tokens (issued by the registry, verified by every service).
    auth_secret: str = "dev-auth-secret-change-me-0123456789abcdef"
    auth_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Largest request body a service reads (bytes); routes that take uploads set their own.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    def clock_params(self) -> tuple[float, datetime | None, datetime | None]:
        return self.clock_speed, self.clock_start, self.clock_epoch


class ServiceSettings(BaseSettings):
    """Per-service settings; subclasses set ``env_prefix`` (``ANBU_DETECTOR_`` and so on)."""

    model_config = SettingsConfigDict(env_prefix="ANBU_SERVICE_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8700
    database_url: str | None = None

    def resolved_database_url(self, common: CommonSettings, service: str) -> str:
        """The configured database, or a SQLite file under the var dir."""
        if self.database_url:
            return self.database_url
        path = common.var_dir / "data" / f"{service}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
