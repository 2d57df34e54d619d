"""Settings every service shares, read from ``ANBU_*`` environment variables."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import AwareDatetime, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The development defaults are printed in this repository, and so are the placeholders of
# deploy/compose.env.example: anyone can sign a login token or call an internal endpoint
# with them, so outside development a service refuses to start with any of them.
DEV_SERVICE_TOKEN = "dev-service-token"
DEV_AUTH_SECRET = "dev-auth-secret-change-me-0123456789abcdef"
PUBLIC_SECRETS = frozenset(
    {
        DEV_SERVICE_TOKEN,
        DEV_AUTH_SECRET,
        "replace-with-output-of-openssl-rand-base64-48--service-token",
        "replace-with-output-of-openssl-rand-base64-48--auth-secret",
    }
)
# HMAC-SHA256 (login tokens) wants a key of at least its output size, 32 bytes.
MIN_SECRET_LENGTH = 32


class UnsafeSecrets(RuntimeError):
    """A production process was configured with a public or too short secret."""


def _default_var_dir() -> Path:
    return Path(os.environ.get("ANBU_VAR_DIR", "var")).resolve()


class CommonSettings(BaseSettings):
    """Shared by every process of one deployment (same values for all services)."""

    model_config = SettingsConfigDict(env_prefix="ANBU_", extra="ignore")

    # "production" unless told otherwise, so a deployment that forgot the variable refuses
    # the development secrets instead of running with them; `make run` and the tests say dev.
    env: Literal["dev", "production"] = "production"
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
    # Token services present to each other's internal endpoints (full access to them).
    service_token: str = DEV_SERVICE_TOKEN
    # Signs people's login tokens (issued by the registry, verified by every service).
    auth_secret: str = DEV_AUTH_SECRET
    auth_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Largest request body a service reads (bytes); routes that take uploads set their own.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    def secret_problems(
        self, unset_keys: Iterable[str] = (), placeholder_keys: Iterable[str] = ()
    ) -> list[str]:
        """Why the secrets are unfit for this environment (empty: fit, or development).

        ``unset_keys`` names a service's own key settings that are empty, so that the
        service would fall back to development keys generated under ``var/secrets``.
        """
        if self.env == "dev":
            return []
        problems = [
            f"{variable} is not set (development keys from var/secrets would be used)"
            for variable in unset_keys
        ] + [
            f"{variable} holds an all-zero placeholder key (as in the published example)"
            for variable in placeholder_keys
        ]
        for variable, value in (
            ("ANBU_AUTH_SECRET", self.auth_secret),
            ("ANBU_SERVICE_TOKEN", self.service_token),
        ):
            if value in PUBLIC_SECRETS:
                problems.append(f"{variable} is a value published in the anbu repository")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(
                    f"{variable} is shorter than {MIN_SECRET_LENGTH} characters ({len(value)})"
                )
        return problems

    def require_safe_secrets(
        self, unset_keys: Iterable[str] = (), placeholder_keys: Iterable[str] = ()
    ) -> None:
        """Raise :class:`UnsafeSecrets` naming each unfit variable (never its value)."""
        problems = self.secret_problems(unset_keys, placeholder_keys)
        if problems:
            raise UnsafeSecrets(
                f"ANBU_ENV={self.env}: "
                + "; ".join(problems)
                + ". Set a long random secret (openssl rand -base64 48), or ANBU_ENV=dev"
                " on a development machine."
            )

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
