"""schemathesis against each HTTP service's OpenAPI document: no input makes a server error.

Each service runs as a real process on its own database; schemathesis generates requests
from the published schema (a fixed seed keeps runs comparable) and fails on any 5xx.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from anbu_runtime.processes import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-service-token"
PORTS = {"registry": 18791}


@pytest.mark.parametrize("service", sorted(PORTS))
def test_schemathesis_finds_no_server_error(
    service: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    stack = Stack(
        var_dir=tmp_path,
        ports={service: PORTS[service]},
        env={
            "ANBU_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "ANBU_SERVICE_TOKEN": TOKEN,
            "ANBU_REGISTRY_SEED_FILE": str(ROOT / "deploy" / "seed" / "demo.yaml"),
        },
    )
    stack.start()
    try:
        stack.wait_ready(timeout=60)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"http://127.0.0.1:{PORTS[service]}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--header",
                f"Authorization: Bearer {TOKEN}",
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
    log = (tmp_path / "log" / f"{service}.log").read_text(errors="replace")
    assert result.returncode == 0, result.stdout[-6000:] + "\n" + _errors(log)


def _errors(log: str) -> str:
    return "\n".join(line[:800] for line in log.splitlines() if '"level": "error"' in line)[-4000:]
