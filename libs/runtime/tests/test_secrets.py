"""Outside development a service refuses to start with a published or short secret."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from anbu_runtime.processes import Stack
from anbu_runtime.settings import (
    DEV_AUTH_SECRET,
    DEV_SERVICE_TOKEN,
    CommonSettings,
    UnsafeSecrets,
)

ROOT = Path(__file__).resolve().parents[3]
STRONG_TOKEN = "Zq0v8l3Jc2bN4uW7yX1kA9sD6fG5hJ8kL2mN4pQ7rS0t"
STRONG_SECRET = "p9Hk2Lm4Nq6Rs8Tu0Vw3Xy5Za7Bc9De1Fg3Hi5Jk7Lm9"


def test_production_is_the_default_and_refuses_the_development_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANBU_ENV")  # the test run sets dev (conftest.py)
    common = CommonSettings()
    assert common.env == "production"
    with pytest.raises(UnsafeSecrets) as refused:
        common.require_safe_secrets()
    message = str(refused.value)
    assert "ANBU_AUTH_SECRET is a value published" in message
    assert "ANBU_SERVICE_TOKEN is a value published" in message
    # The message names the variables, never the values.
    assert DEV_AUTH_SECRET not in message and DEV_SERVICE_TOKEN not in message


def test_short_secrets_are_refused_in_production() -> None:
    common = CommonSettings(env="production", service_token="s" * 31, auth_secret=STRONG_SECRET)
    assert common.secret_problems() == ["ANBU_SERVICE_TOKEN is shorter than 32 characters (31)"]


def test_the_compose_example_placeholders_are_refused() -> None:
    example = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "compose.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert example["ANBU_ENV"] == "production"
    common = CommonSettings(
        env="production",
        service_token=example["ANBU_SERVICE_TOKEN"],
        auth_secret=example["ANBU_AUTH_SECRET"],
    )
    assert len(common.secret_problems()) == 2


def test_development_accepts_the_defaults_and_production_real_secrets() -> None:
    assert CommonSettings(env="dev").secret_problems() == []
    CommonSettings(
        env="production", service_token=STRONG_TOKEN, auth_secret=STRONG_SECRET
    ).require_safe_secrets()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def detector(tmp_path: Path, **env: str) -> Stack:
    """The detector as a process (``python -m anbu_detector``); Kafka is not needed."""
    return Stack(
        var_dir=tmp_path,
        ports={"detector": free_port()},
        env={"ANBU_KAFKA_BOOTSTRAP": "127.0.0.1:9", **env},
    )


def test_a_production_service_with_the_default_secrets_exits_naming_them(
    tmp_path: Path,
) -> None:
    stack = detector(
        tmp_path,
        ANBU_ENV="production",
        ANBU_SERVICE_TOKEN=DEV_SERVICE_TOKEN,
        ANBU_AUTH_SECRET=DEV_AUTH_SECRET,
    )
    stack.start()
    proc = stack.processes["detector"]
    assert proc.popen is not None
    try:
        assert proc.popen.wait(timeout=60) != 0
    finally:
        stack.stop(kill=True)
    log = proc.log_path.read_text()
    assert "refusing to start" in log
    assert "ANBU_AUTH_SECRET" in log and "ANBU_SERVICE_TOKEN" in log
    assert DEV_AUTH_SECRET not in log


@pytest.mark.parametrize(
    "env",
    [
        {
            "ANBU_ENV": "production",
            "ANBU_SERVICE_TOKEN": STRONG_TOKEN,
            "ANBU_AUTH_SECRET": STRONG_SECRET,
        },
        {
            "ANBU_ENV": "dev",
            "ANBU_SERVICE_TOKEN": DEV_SERVICE_TOKEN,
            "ANBU_AUTH_SECRET": DEV_AUTH_SECRET,
        },
    ],
    ids=["production-with-real-secrets", "dev-with-the-defaults"],
)
def test_a_service_starts_with_real_secrets_or_in_development(
    tmp_path: Path, env: dict[str, str]
) -> None:
    stack = detector(tmp_path, **env)
    stack.start()
    try:
        stack.wait_ready(timeout=60, path="/healthz")
    finally:
        stack.stop()


def test_key_settings_left_empty_are_refused_in_production_not_in_development() -> None:
    production = CommonSettings(
        env="production", service_token=STRONG_TOKEN, auth_secret=STRONG_SECRET
    )
    assert production.secret_problems(["ANBU_GATEWAY_REPORT_KEYS"]) == [
        "ANBU_GATEWAY_REPORT_KEYS is not set (development keys from var/secrets would be used)"
    ]
    development = CommonSettings(env="dev")
    assert development.secret_problems(["ANBU_GATEWAY_REPORT_KEYS"]) == []
