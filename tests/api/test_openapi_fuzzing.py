"""schemathesis against each HTTP service's OpenAPI document: no input makes a server error.

Each service runs as a real process on its own database, against a broker of this module's
own (so no service replays the backlog other tests left on the shared broker); schemathesis
generates requests from the published schema (a fixed seed keeps runs comparable) and fails
on any 5xx.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from anbu_contracts import SignalKind
from anbu_runtime.processes import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-service-token"
PORTS = {
    "registry": 18791,
    "gateway": 18792,
    "detector": 18793,
    "notifier": 18794,
    "outreach": 18795,
}
# The gateway checks partner keys with the registry: it is fuzzed with a registry beside it
# and a real key, so that requests get past authentication into the handlers. Outreach
# follows the registry's roster before it is ready.
NEEDS = {"gateway": {"registry": 18796}, "outreach": {"registry": 18797}}
BROKER_PORT = 29992  # its KRaft controller listens on 29993


@pytest.fixture(scope="module")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.e2e.conftest import own_broker

    with own_broker(BROKER_PORT, tmp_path_factory.mktemp("fuzz-kafka")) as bootstrap:
        yield bootstrap


@pytest.mark.parametrize("service", sorted(PORTS))
def test_schemathesis_finds_no_server_error(
    service: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    ports = {**NEEDS.get(service, {}), service: PORTS[service]}
    stack = Stack(
        var_dir=tmp_path,
        ports=ports,
        env={
            "ANBU_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_REGISTRY_SEED_FILE": str(ROOT / "deploy" / "seed" / "demo.yaml"),
        },
    )
    stack.start()
    try:
        stack.wait_ready(timeout=60)
        headers = ["--header", f"Authorization: Bearer {TOKEN}"]
        if service == "gateway":
            headers += ["--header", f"X-Api-Key: {_partner_key(ports['registry'])}"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"http://127.0.0.1:{PORTS[service]}/openapi.json",
                "--checks",
                "not_a_server_error",
                *headers,
                "--max-examples",
                "25",
                "--seed",
                "20261125",
                "--request-timeout",
                "10",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        stack.stop()
    log = "\n".join(
        (tmp_path / "log" / f"{name}.log").read_text(errors="replace") for name in ports
    )
    assert result.returncode == 0, result.stdout[-6000:] + "\n" + _errors(log)


def _partner_key(registry_port: int) -> str:
    """A key for a partner that may send every kind, with room under its rate limit."""
    registry = f"http://127.0.0.1:{registry_port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = httpx.post(
        f"{registry}/v1/partners",
        json={
            "partner_id": "fuzz",
            "organisation": "schemathesis",
            "allowed_kinds": [kind.value for kind in SignalKind],
            "rate_limit_per_minute": 1_000_000,
        },
        headers=auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    response = httpx.post(
        f"{registry}/v1/partners/fuzz/keys", json={"label": "fuzz"}, headers=auth, timeout=30
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["api_key"]
    return key


def _errors(log: str) -> str:
    return "\n".join(line[:800] for line in log.splitlines() if '"level": "error"' in line)[-4000:]
